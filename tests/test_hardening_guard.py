"""The in-app HTTP edge (lexintel/api/http_guard.py), issue 13 items 1, 8, 9 and 15's headers, over a real app.

Oversized headers and cookies are refused with 431 before Litestar parses them; only this site's Host names
are answered; browser-borne writes from another origin are refused; deeply nested JSON is a 400; responses
carry ``nosniff`` and ``no-store``; the cookie unquote is CPython's linear one.
"""

from __future__ import annotations

import http.cookies
import sys
from collections.abc import Callable
from typing import Any

import litestar._parsers
import pytest
from litestar.testing import TestClient

from lexintel.settings import Settings
from tests.auth_helpers import PASSWORD, add_account

Client = TestClient  # type: ignore[type-arg]
BACKSLASH_COOKIE = 'lexintel_session="' + "\\" * 100_000 + '"'


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["status_code"] == status and body["code"] == code and body["detail"], body
    assert set(body) == {"status_code", "code", "detail"}
    assert "Traceback" not in body["detail"] and "Error" not in body["detail"]
    return body


# ---------------------------------------------------------------- item 1: header and cookie size
def test_huge_backslash_cookie_is_refused_with_431_before_parsing(make_client: Callable[..., Client],
                                                                  settings: Settings) -> None:
    client = make_client(settings.with_overrides(auth="on"))
    body = assert_error(client.get("/cases", headers={"Cookie": BACKSLASH_COOKIE}), 431, "cookie_too_large")
    assert "16384" in body["detail"]
    assert_error(client.get("/health", headers={"X-Padding": "a" * 40_000}), 431, "headers_too_large")
    assert client.get("/health").status_code == 200


def test_limits_are_configurable_and_a_cookie_under_them_is_parsed(make_client: Callable[..., Client],
                                                                  settings: Settings) -> None:
    client = make_client(settings.with_overrides(auth="on", max_cookie_bytes=2048, max_header_bytes=8192))
    assert_error(client.get("/cases", headers={"Cookie": "a=" + "x" * 2100}), 431, "cookie_too_large")
    assert_error(client.get("/cases", headers={"X-Big": "y" * 9000}), 431, "headers_too_large")
    # just under the cookie limit, quoted with backslashes: parsed (and found not to be a session)
    under = 'lexintel_session="' + "\\" * 2000 + '"'
    assert_error(client.get("/cases", headers={"Cookie": under}), 401, "session_expired")


def test_cookie_unquote_is_linear_and_gives_the_same_results() -> None:
    from lexintel.api import http_guard  # here, so the other tests fail on behaviour, not on this import

    if http_guard.QUADRATIC_UNQUOTE:
        http_guard.install_linear_cookie_unquote()
        assert litestar._parsers.unquote_cookie is http_guard.linear_unquote
        assert http.cookies._unquote is http_guard.linear_unquote  # type: ignore[attr-defined]
    else:  # a fixed Python: nothing is replaced
        assert not http_guard.install_linear_cookie_unquote()
    samples = ['"plain"', "unquoted", '"a\\"b"', '"\\101\\102C"', '"\\\\\\\\"', '"x\\', '"', '""', '"\\400\\0"',
               '"caf\\303\\251"', '"tail\\"']
    for raw in samples:  # the semantics of CPython's fixed version (3.11.10), which is what the patch copies
        assert http_guard.linear_unquote(raw) == _reference_unquote(raw), raw
    cookies = litestar._parsers.parse_cookie_string('a="x\\"y"; lexintel_session=abc; b="\\101"')
    assert cookies == {"a": 'x"y', "lexintel_session": "abc", "b": "A"}
    assert sys.version_info >= (3, 11)


def _reference_unquote(value: str) -> str:
    """The old, quadratic CPython algorithm (3.11.7), written out: the results must not change."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    value = value[1:-1]
    out, i, n = [], 0, len(value)
    while i < n:
        j = value.find("\\", i)
        if j < 0 or j + 1 >= n:
            out.append(value[i:])
            break
        out.append(value[i:j])
        octal = value[j + 1:j + 4]
        if len(octal) == 3 and octal[0] in "0123" and all(c in "01234567" for c in octal[1:]):
            out.append(chr(int(octal, 8)))
            i = j + 4
        else:
            out.append(value[j + 1])
            i = j + 2
    return "".join(out)


# ---------------------------------------------------------------- item 8: Host and Origin
def test_foreign_host_is_refused_and_loopback_names_are_answered(client: Client) -> None:
    for host in ("attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "10.0.0.5"):
        assert_error(client.get("/cases", headers={"Host": host}), 400, "host_not_allowed")
        assert_error(client.post("/cases", json={"name": "x"}, headers={"Host": host}), 400, "host_not_allowed")
    for host in ("127.0.0.1", "127.0.0.1:8000", "localhost:8000", "LOCALHOST", "[::1]:8000", "app.localhost",
                 "127.0.0.2"):
        assert client.get("/cases", headers={"Host": host}).status_code == 200, host
    assert client.get("/cases").json() == [], "nothing was created through a foreign Host"


def test_allowed_hosts_setting_and_wildcard_bind(make_client: Callable[..., Client], settings: Settings,
                                                 tmp_path: Any) -> None:
    named = make_client(settings.with_overrides(allowed_hosts=("lexintel.example",)))
    assert named.get("/cases", headers={"Host": "lexintel.example"}).status_code == 200
    assert_error(named.get("/cases", headers={"Host": "other.example"}), 400, "host_not_allowed")
    bound = make_client(settings.with_overrides(data_dir=tmp_path / "d2", host="0.0.0.0", auth="on",
                                                allowed_hosts=()))
    assert bound.get("/health", headers={"Host": "192.168.1.20:8000"}).status_code == 200  # reached by address
    assert_error(bound.get("/health", headers={"Host": "rebind.attacker.example"}), 400, "host_not_allowed")
    anything = make_client(settings.with_overrides(data_dir=tmp_path / "d3", allowed_hosts=("*",)))
    assert anything.get("/health", headers={"Host": "whatever.example"}).status_code == 200


def test_foreign_origin_write_is_refused_when_auth_is_off(client: Client) -> None:
    for headers in ({"Origin": "http://attacker.example"}, {"Origin": "null"},
                    {"Origin": "http://127.0.0.1:9999"},  # another local port: another site
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        assert_error(client.post("/cases", json={"name": "x"}, headers=headers), 403, "origin_not_allowed")
        files = {"files": ("a.txt", b"hello", "text/plain")}
        assert_error(client.post("/cases/any/documents", files=files, headers=headers), 403, "origin_not_allowed")
    assert client.get("/cases").json() == []
    for name, headers in (("same origin", {"Origin": "http://127.0.0.1"}), ("no origin (curl)", {}),
                          ("typed URL", {"Sec-Fetch-Site": "same-origin"})):
        assert client.post("/cases", json={"name": name}, headers=headers).status_code == 201, name
    assert client.get("/cases", headers={"Origin": "http://attacker.example"}).status_code == 200  # reads: Host rules


def test_origin_check_applies_to_cookie_writes_not_to_bearer(make_client: Callable[..., Client],
                                                            settings: Settings) -> None:
    s = settings.with_overrides(auth="on")
    alice = add_account(s, "alice")
    client = make_client(s)
    foreign = {"Origin": "https://attacker.example"}
    assert client.post("/cases", json={"name": "token"}, headers={**alice.headers, **foreign}).status_code == 201
    assert_error(client.post("/auth/login", json={"username": "alice", "password": PASSWORD}, headers=foreign), 403,
                 "origin_not_allowed")
    login = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert login.status_code == 200, login.text
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert_error(client.post("/cases", json={"name": "csrf"}, headers={**csrf, **foreign}), 403, "origin_not_allowed")
    assert client.post("/cases", json={"name": "cookie"}, headers={**csrf, "Origin": "http://127.0.0.1"}
                       ).status_code == 201
    assert sorted(c["name"] for c in client.get("/cases").json()) == ["cookie", "token"]


# ---------------------------------------------------------------- item 9: JSON nested 1,000 deep
@pytest.mark.parametrize("path", ["/cases", "/auth/login", "/streams/token", "/auth/tokens"])
def test_deeply_nested_json_is_a_400_not_a_500(make_client: Callable[..., Client], settings: Settings,
                                               path: str, caplog: pytest.LogCaptureFixture) -> None:
    s = settings.with_overrides(auth="on")
    alice = add_account(s, "alice")
    client = make_client(s)
    for body in ("[" * 1000 + "]" * 1000, '{"a":' * 1000 + "1" + "}" * 1000, "[" * 100_000):
        headers = {"Content-Type": "application/json", **({} if path == "/auth/login" else alice.headers)}
        assert_error(client.post(path, content=body, headers=headers), 400, "json_too_deep")
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "a client error is not logged as a bug"
    assert client.get("/health").status_code == 200


# ---------------------------------------------------------------- item 15: response headers
def test_case_data_responses_are_no_store_and_nosniff(client: Client) -> None:
    case_id = client.post("/cases", json={"name": "Headers"}).json()["id"]
    resp = client.post(f"/cases/{case_id}/documents", files={"files": ("note.txt", b"Privileged note.", "text/plain")})
    document_id = resp.json()["document_ids"][0]
    for path in ("/cases", f"/cases/{case_id}/documents", f"/documents/{document_id}/status", "/search?q=note",
                 f"/documents/{document_id}/text", f"/documents/{document_id}",
                 "/documents/missing/status"):
        got = client.get(path)
        assert got.headers["cache-control"] == "no-store", path
        assert got.headers["x-content-type-options"] == "nosniff", path
    page = client.get("/")
    assert page.headers["cache-control"] == "no-cache" and page.headers["x-content-type-options"] == "nosniff"
    assert_error(client.get("/cases", headers={"Host": "evil.example"}), 400, "host_not_allowed")
    assert client.get("/cases", headers={"Host": "evil.example"}).headers["cache-control"] == "no-store"
