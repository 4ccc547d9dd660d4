"""Accounts: default mode, login cookie + CSRF, API tokens, stream tokens, sharing, login rate limit, CLI."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from lexintel.__main__ import main
from lexintel.auth.service import STREAM_KEY_FILE
from lexintel.auth.tokens import StreamTokens
from lexintel.settings import Settings
from lexintel.store.db import Database
from tests.auth_helpers import PASSWORD, Account, add_account, expired_token, stream_token
from tests.live_server import LiveServer

MakeClient = Callable[..., TestClient]  # type: ignore[type-arg]


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return settings.with_overrides(auth="on")


@pytest.fixture
def alice(auth_settings: Settings) -> Account:
    return add_account(auth_settings, "alice")


@pytest.fixture
def bob(auth_settings: Settings) -> Account:
    return add_account(auth_settings, "bob")


@pytest.fixture
def app(make_client: MakeClient, auth_settings: Settings, alice: Account, bob: Account) -> TestClient:  # type: ignore[type-arg]
    return make_client(auth_settings)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.getMessage()}")


@pytest.fixture
def auth_log() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("lexintel.auth")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old)


def test_auth_is_on_by_default_and_off_is_explicit() -> None:
    assert Settings().auth == "on"
    assert Settings.from_env({}).auth == "on"
    assert Settings.from_env({"LEXINTEL_AUTH": "off"}).auth == "off"


def test_first_start_says_how_to_create_the_first_admin(make_client: MakeClient, auth_settings: Settings,
                                                        auth_log: Records) -> None:
    client = make_client(auth_settings)
    assert any("authentication is on" in line for line in auth_log.lines), auth_log.lines
    assert any(line.startswith("WARNING") and "lexintel user add admin --role admin" in line
               for line in auth_log.lines), auth_log.lines
    assert client.get("/cases").status_code == 401


def test_auth_off_is_one_logged_local_admin(make_client: MakeClient, settings: Settings, auth_log: Records) -> None:
    client = make_client(settings)  # conftest: auth off
    assert any(line.startswith("WARNING") and "authentication is OFF" in line for line in auth_log.lines)
    me = client.get("/auth/me").json()
    assert me["auth"] == "off" and me["user"]["role"] == "admin"
    assert client.post("/cases", json={"name": "Laptop"}).status_code == 201
    assert client.post("/auth/login", json={"username": "x", "password": "y"}).json()["code"] == "auth_off"


def test_no_credentials_is_401_json_and_public_routes_stay_open(app: TestClient) -> None:  # type: ignore[type-arg]
    resp = app.get("/cases")
    assert resp.status_code == 401
    assert resp.json()["code"] == "not_authenticated"
    for path in ("/health", "/ready", "/metrics", "/", "/static/app.js", "/schema/openapi.json"):
        assert app.get(path).status_code == 200, path
    page = app.get("/").headers  # the page's security headers (set by lexintel/api/web.py)
    assert "default-src 'self'" in page["content-security-policy"]
    assert "unsafe-inline" not in page["content-security-policy"]
    assert page["x-content-type-options"] == "nosniff" and page["referrer-policy"] == "no-referrer"
    bad = app.get("/cases", headers={"Authorization": "Bearer lxt_not-a-real-token"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_token"
    assert app.get("/cases", headers={"Authorization": "Basic YWxpY2U6eA=="}).status_code == 401


def test_passwords_are_argon2_hashed_and_tokens_stored_hashed(app: TestClient, auth_settings: Settings,  # type: ignore[type-arg]
                                                              alice: Account) -> None:
    db = Database(auth_settings.db_path)
    try:
        stored = db.query_one("SELECT password_hash FROM users WHERE name = 'alice'")
        hashes = [r[0] for r in db.query("SELECT token_hash FROM api_tokens")]
        dump = "\n".join(db.conn.iterdump())
    finally:
        db.close()
    assert stored is not None and stored[0].startswith("$argon2id$")
    assert PASSWORD not in dump and alice.token not in dump
    assert hashes and all(len(h) == 64 for h in hashes)


def test_login_sets_httponly_samesite_cookie_and_csrf_guards_writes(app: TestClient) -> None:  # type: ignore[type-arg]
    assert app.post("/auth/login", json={"username": "alice", "password": "wrong password"}).status_code == 401
    resp = app.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    cookie = resp.headers["set-cookie"]
    assert "lexintel_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie  # plain http on loopback
    csrf = resp.json()["csrf_token"]
    assert app.get("/auth/me").json()["csrf_token"] == csrf

    refused = app.post("/cases", json={"name": "Smith v Jones"})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert app.post("/cases", json={"name": "x"}, headers={"X-CSRF-Token": "guess"}).status_code == 403
    assert app.delete("/documents/whatever").status_code == 403
    assert app.get("/cases").json() == []  # nothing was created by the refused writes
    made = app.post("/cases", json={"name": "Smith v Jones"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    assert [c["name"] for c in app.get("/cases").json()] == ["Smith v Jones"]

    assert app.post("/auth/logout").status_code == 403  # logout is a write too
    assert app.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    app.cookies.set("lexintel_session", resp.cookies["lexintel_session"])  # a replayed cookie after logout
    assert app.get("/auth/me").status_code == 401


def test_login_refuses_form_bodies_a_cross_site_page_could_send(app: TestClient) -> None:  # type: ignore[type-arg]
    body = json.dumps({"username": "alice", "password": PASSWORD})
    refused = app.post("/auth/login", content=body, headers={"Content-Type": "text/plain"})
    assert refused.status_code == 415 and "set-cookie" not in refused.headers
    form = app.post("/auth/login", data={"username": "alice", "password": PASSWORD})
    assert form.status_code in (400, 415) and "set-cookie" not in form.headers


def test_secure_cookie_behind_https_proxy(app: TestClient) -> None:  # type: ignore[type-arg]
    resp = app.post("/auth/login", json={"username": "bob", "password": PASSWORD},
                    headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in resp.headers["set-cookie"]


def test_bearer_requests_need_no_csrf_token(app: TestClient, alice: Account) -> None:  # type: ignore[type-arg]
    assert app.post("/cases", json={"name": "Bearer"}, headers=alice.headers).status_code == 201


def test_login_rate_limit_per_name_and_address(app: TestClient) -> None:  # type: ignore[type-arg]
    for _ in range(5):
        assert app.post("/auth/login", json={"username": "alice", "password": "nope nope"}).status_code == 401
    limited = app.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert limited.status_code == 429  # even the right password: the limit can't be used as an oracle
    assert limited.json()["code"] == "too_many_attempts"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "lexintel_session" not in limited.headers.get("set-cookie", "")
    assert app.post("/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 200


def test_api_tokens_create_use_expire_revoke(app: TestClient, auth_settings: Settings, alice: Account,  # type: ignore[type-arg]
                                             bob: Account) -> None:
    made = app.post("/auth/tokens", json={"name": "laptop", "expires_in_days": 7}, headers=alice.headers)
    assert made.status_code == 201
    token, token_id = made.json()["token"], made.json()["id"]
    assert token.startswith("lxt_") and len(token) > 40
    mine = {"Authorization": f"Bearer {token}"}
    assert app.get("/auth/me", headers=mine).json()["user"]["name"] == "alice"
    listed = app.get("/auth/tokens", headers=alice.headers).json()
    assert token_id in [t["id"] for t in listed] and token not in str(listed)
    assert app.post("/auth/tokens", json={"expires_in_days": 0}, headers=alice.headers).status_code == 400

    assert app.delete(f"/auth/tokens/{token_id}", headers=bob.headers).status_code == 404  # not bob's
    assert app.get("/auth/me", headers=mine).status_code == 200
    assert app.delete(f"/auth/tokens/{token_id}", headers=alice.headers).status_code == 204
    assert app.get("/auth/me", headers=mine).status_code == 401

    old = expired_token(auth_settings, alice.user)
    assert app.get("/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401


def test_api_token_is_never_accepted_in_a_url(app: TestClient, alice: Account) -> None:  # type: ignore[type-arg]
    case = app.post("/cases", json={"name": "Mine"}, headers=alice.headers).json()
    assert app.get(f"/cases/{case['id']}?token={alice.token}").status_code == 401
    assert app.get(f"/cases/{case['id']}/stream?token={alice.token}").status_code == 401


def test_sharing_a_case(app: TestClient, alice: Account, bob: Account, auth_settings: Settings) -> None:  # type: ignore[type-arg]
    case = app.post("/cases", json={"name": "Shared matter"}, headers=alice.headers).json()
    assert app.get(f"/cases/{case['id']}", headers=bob.headers).status_code == 404
    assert app.post(f"/cases/{case['id']}/shares", json={"user": "alice"}, headers=bob.headers).status_code == 404
    assert app.post(f"/cases/{case['id']}/shares", json={"user": "nobody"},
                    headers=alice.headers).status_code == 404
    shared = app.post(f"/cases/{case['id']}/shares", json={"user": "bob"}, headers=alice.headers)
    assert shared.status_code == 201
    assert app.get(f"/cases/{case['id']}", headers=bob.headers).status_code == 200
    assert [c["id"] for c in app.get("/cases", headers=bob.headers).json()] == [case["id"]]
    carol = add_account(auth_settings, "carol")
    refused = app.post(f"/cases/{case['id']}/shares", json={"user": "carol"}, headers=bob.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "not_owner"
    assert app.get(f"/cases/{case['id']}", headers=carol.headers).status_code == 404


def test_cli_user_add_prints_a_working_token(
    make_client: MakeClient, auth_settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEXINTEL_DATA_DIR", str(auth_settings.data_dir))
    monkeypatch.setenv("LEXINTEL_PASSWORD", "admin password 1")
    assert main(["user", "add", "root", "--role", "admin", "--token"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["user", "add", "root"]) == 2  # duplicate name
    monkeypatch.setenv("LEXINTEL_PASSWORD", "short")
    assert main(["user", "add", "weak"]) == 2
    client = make_client(auth_settings)
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["user"] == {"id": me["user"]["id"], "name": "root", "role": "admin"}
    login = client.post("/auth/login", json={"username": "root", "password": "admin password 1"})
    assert login.status_code == 200


# Stream tokens need a real server: EventSource streams are infinite and lock the in-process client.
@pytest.fixture
def live(tmp_path: Path, auth_settings: Settings, alice: Account, bob: Account) -> Iterator[LiveServer]:
    server = LiveServer(auth_settings, auth="on").start()
    yield server
    server.stop()


def _open(url: str, **kwargs: object) -> tuple[int, bytes]:
    """Status and the first frame (or body) of a possibly infinite response."""
    with httpx.stream("GET", url, timeout=10, **kwargs) as resp:  # type: ignore[arg-type]
        data = b""
        for chunk in resp.iter_bytes():
            data += chunk
            if b"\n\n" in data or len(data) > 65536:
                break
        return resp.status_code, data


def test_stream_tokens_open_one_stream_of_one_user(live: LiveServer, auth_settings: Settings, alice: Account,
                                                   bob: Account) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        case = http.post("/cases", json={"name": "Streams"}, headers=alice.headers).json()
        other = http.post("/cases", json={"name": "Other"}, headers=alice.headers).json()
        bobs = http.post("/cases", json={"name": "Bob's"}, headers=bob.headers).json()
        path = f"/cases/{case['id']}/stream"
        issued = http.post("/streams/token", json={"path": path}, headers=alice.headers).json()
        assert issued["path"] == path and issued["expires_at"] - time.time() <= 301
        token = issued["token"]
        assert http.post("/streams/token", json={"path": f"/cases/{bobs['id']}/stream"},
                         headers=alice.headers).status_code == 404
        assert http.post("/streams/token", json={"path": "/cases"}, headers=alice.headers).status_code == 400
        assert http.post("/streams/token", json={"path": path}).status_code == 401

    status, first = _open(f"{live.url}{path}?token={token}")
    assert status == 200 and b"retry:" in first
    assert _open(f"{live.url}/cases/{other['id']}/stream?token={token}")[0] == 401  # another stream
    assert _open(f"{live.url}/cases/{case['id']}?token={token}")[0] == 401  # not a stream route
    assert _open(f"{live.url}{path}?token={token[:-2]}xx")[0] == 401  # tampered
    assert _open(f"{live.url}{path}")[0] == 401
    bob_token = stream_token(httpx.Client(base_url=live.url), bob, f"/cases/{bobs['id']}/stream")
    assert _open(f"{live.url}{path}?token={bob_token}")[0] == 401

    signer = StreamTokens((auth_settings.data_dir / STREAM_KEY_FILE).read_bytes())
    stale, _ = signer.issue(alice.user, path, now=time.time() - 301)
    assert _open(f"{live.url}{path}?token={stale}")[0] == 401
    fresh, _ = signer.issue(alice.user, path)
    assert _open(f"{live.url}{path}?token={fresh}")[0] == 200
    forged = StreamTokens(b"k" * 32).issue(alice.user, path)[0]
    assert _open(f"{live.url}{path}?token={forged}")[0] == 401


def test_session_cookie_opens_streams(live: LiveServer, alice: Account) -> None:
    with httpx.Client(base_url=live.url, timeout=10) as http:
        case = http.post("/cases", json={"name": "Cookie stream"}, headers=alice.headers).json()
        login = http.post("/auth/login", json={"username": "alice", "password": PASSWORD})
        assert login.status_code == 200
        cookie = login.cookies["lexintel_session"]
    status, first = _open(f"{live.url}/cases/{case['id']}/stream", cookies={"lexintel_session": cookie})
    assert status == 200 and b"retry:" in first
