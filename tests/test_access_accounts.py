"""Users, passwords, tokens of others, shares that reveal nothing, length caps, no-store text (issue 13 items 7,
14, 15), over HTTP against a real uvicorn server on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from lexintel.auth.passwords import check_password, common_passwords
from lexintel.errors import InvalidInput
from lexintel.settings import Settings
from tests.auth_helpers import PASSWORD, Account, add_account
from tests.live_server import LiveServer
from tests.support import wait_for

NEW_PASSWORD = "a brand new passphrase"


@dataclass
class Env:
    live: LiveServer
    settings: Settings
    http: httpx.Client
    root: Account
    alice: Account
    bob: Account

    def login(self, name: str, password: str = PASSWORD) -> httpx.Client:
        """A client holding a cookie session of ``name`` (its CSRF token in its default headers)."""
        client = httpx.Client(base_url=self.live.url, timeout=30)
        resp = client.post("/auth/login", json={"username": name, "password": password})
        assert resp.status_code == 200, resp.text
        client.headers["X-CSRF-Token"] = resp.json()["csrf_token"]
        return client


@pytest.fixture
def env(tmp_path: Any) -> Iterator[Env]:
    settings = Settings(data_dir=tmp_path / "data", extraction_workers=1, auth="on")
    root, alice, bob = (add_account(settings, n, r) for n, r in (("root", "admin"), ("alice", "member"),
                                                                   ("bob", "member")))
    live = LiveServer(settings, auth="on").start()
    http = httpx.Client(base_url=live.url, timeout=30)
    try:
        yield Env(live, settings, http, root, alice, bob)
    finally:
        http.close()
        live.stop()


def error(resp: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body: dict[str, Any] = resp.json()
    assert body["code"] == code, body
    return body


def test_admins_manage_users_and_members_cannot(env: Env) -> None:
    admin, member = env.root.headers, env.alice.headers
    listed = env.http.get("/users", headers=admin).json()
    assert [(u["name"], u["role"], u["disabled"]) for u in listed] == [
        ("alice", "member", False), ("bob", "member", False), ("root", "admin", False)]
    assert "password_hash" not in str(listed)
    for method, path, body in (("GET", "/users", None), ("POST", "/users", {"name": "x", "password": NEW_PASSWORD}),
                               ("PATCH", "/users/bob", {"disabled": True}), ("DELETE", "/users/bob", None)):
        error(env.http.request(method, path, json=body, headers=member), 403, "admin_only")

    made = env.http.post("/users", json={"name": "carol", "password": NEW_PASSWORD, "role": "admin"}, headers=admin)
    assert made.status_code == 201 and made.json()["role"] == "admin", made.text
    error(env.http.post("/users", json={"name": "Carol", "password": NEW_PASSWORD}, headers=admin), 409,
          "user_exists")
    demoted = env.http.patch("/users/carol", json={"role": "member"}, headers=admin)
    assert demoted.json()["role"] == "member"
    error(env.http.patch("/users/nobody", json={"disabled": True}, headers=admin), 404, "user_not_found")
    error(env.http.patch("/users/root", json={"disabled": True}, headers=admin), 400, "cannot_change_self")
    error(env.http.delete("/users/root", headers=admin), 400, "cannot_change_self")
    assert env.http.delete("/users/carol", headers=admin).status_code == 204
    assert env.http.post("/auth/login", json={"username": "carol", "password": NEW_PASSWORD}).status_code == 401


def test_a_disabled_admin_is_no_caller(env: Env) -> None:
    other = add_account(env.settings, "other", "admin")
    assert env.http.patch("/users/other", json={"disabled": True}, headers=env.root.headers).status_code == 200
    error(env.http.get("/users", headers=other.headers), 401, "invalid_token")
    error(env.http.patch("/users/root", json={"role": "member"}, headers=env.root.headers), 400, "cannot_change_self")


@pytest.mark.parametrize(("password", "why"), [
    ("short pass", "at least 12 characters"),
    ("password1234", "most common"),
    ("Qwertyuiop123", "most common"),
    ("xxxxxxxxxxxxxxxx", "most common"),
    ("newcomer-2026", "cannot be the user name"),
])
def test_the_password_rule(env: Env, password: str, why: str) -> None:
    resp = env.http.post("/users", json={"name": "newcomer-2026", "password": password}, headers=env.root.headers)
    body = error(resp, 400, "weak_password")
    assert why in body["detail"] and body["field"] == "password"


def test_the_common_list_ships_in_the_package_and_the_minimum_is_configurable() -> None:
    assert {"password", "password1234", "qwertyuiop123"} <= common_passwords()
    check_password("eight ok", "someone", min_length=8)  # LEXINTEL_PASSWORD_MIN_LENGTH=8
    with pytest.raises(InvalidInput, match="at least 12"):
        check_password("eight ok", "someone")
    with pytest.raises(ValueError, match="PASSWORD_MIN_LENGTH"):
        Settings.from_env({"LEXINTEL_PASSWORD_MIN_LENGTH": "4"})


def test_changing_ones_own_password_needs_the_current_one_and_ends_the_other_sessions(env: Env) -> None:
    here, elsewhere = env.login("alice"), env.login("alice")
    try:
        error(here.post("/users/alice/password", json={"password": NEW_PASSWORD, "current_password": "wrong one!"}),
              401, "invalid_credentials")
        error(here.post("/users/alice/password", json={"password": NEW_PASSWORD}), 401, "invalid_credentials")
        error(here.post("/users/bob/password", json={"password": NEW_PASSWORD, "current_password": PASSWORD}),
              403, "not_your_account")
        error(here.post("/users/nobody/password", json={"password": NEW_PASSWORD, "current_password": PASSWORD}),
              403, "not_your_account")  # the same answer whether or not the name exists
        error(here.post("/users/alice/password", json={"password": "alice", "current_password": PASSWORD}), 400,
              "weak_password")
        done = here.post("/users/alice/password", json={"password": NEW_PASSWORD, "current_password": PASSWORD})
        assert done.status_code == 204, done.text
        assert here.get("/auth/me").status_code == 200  # this session stays
        assert elsewhere.get("/auth/me").status_code == 401  # the other one ended
        assert env.http.get("/auth/me", headers=env.alice.headers).status_code == 200  # API tokens stay
    finally:
        here.close()
        elsewhere.close()
    assert env.http.post("/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 401
    env.login("alice", NEW_PASSWORD).close()


def test_an_admin_resets_a_password_and_every_session_of_that_user_ends(env: Env) -> None:
    session = env.login("bob")
    try:
        reset = env.http.post("/users/bob/password", json={"password": NEW_PASSWORD}, headers=env.root.headers)
        assert reset.status_code == 204, reset.text
        assert session.get("/auth/me").status_code == 401
    finally:
        session.close()
    env.login("bob", NEW_PASSWORD).close()


def test_an_admin_lists_another_users_tokens(env: Env) -> None:
    made = env.http.post("/auth/tokens", json={"name": "bob's laptop"}, headers=env.bob.headers).json()
    for path in ("/auth/tokens", "/tokens"):
        listed = env.http.get(path, params={"user": "bob"}, headers=env.root.headers)
        assert listed.status_code == 200, listed.text
        assert {t["name"] for t in listed.json()} == {"test", "bob's laptop"}
        assert made["token"] not in listed.text
    error(env.http.get("/tokens", params={"user": "bob"}, headers=env.alice.headers), 403, "admin_only")
    error(env.http.get("/tokens", params={"user": "nobody"}, headers=env.alice.headers), 403, "admin_only")
    error(env.http.get("/tokens", params={"user": "nobody"}, headers=env.root.headers), 404, "user_not_found")
    own = env.http.get("/tokens", params={"user": "alice"}, headers=env.alice.headers)
    assert [t["name"] for t in own.json()] == ["test"]
    assert env.http.delete(f"/auth/tokens/{made['id']}", headers=env.root.headers).status_code == 204


def test_sharing_reveals_nothing_about_other_users(env: Env) -> None:
    case = env.http.post("/cases", json={"name": "Alice's matter"}, headers=env.alice.headers).json()
    shares = f"/cases/{case['id']}/shares"
    shared = env.http.post(shares, json={"user": "bob"}, headers=env.alice.headers)
    assert shared.status_code == 201, shared.text
    assert set(shared.json()) == {"case_id", "user", "access", "created_at"}  # no id, no role
    assert (shared.json()["user"], shared.json()["access"]) == ("bob", "read")
    # an admin and a disabled account get exactly the answer of a name nobody has
    add_account(env.settings, "ghost")
    assert env.http.patch("/users/ghost", json={"disabled": True}, headers=env.root.headers).status_code == 200
    answers = {name: env.http.post(shares, json={"user": name}, headers=env.alice.headers) for name in
               ("nobody", "ghost")}
    bodies = {name: resp.json()["detail"].replace(repr(name), "NAME") for name, resp in answers.items()}
    assert {r.status_code for r in answers.values()} == {404} and len(set(bodies.values())) == 1, bodies
    assert env.http.post(shares, json={"user": "root"}, headers=env.alice.headers).status_code == 201
    error(env.http.post(shares, json={"user": "alice"}, headers=env.alice.headers), 400, "cannot_share_with_self")
    error(env.http.post(shares, json={"user": "ALICE"}, headers=env.alice.headers), 400, "cannot_share_with_self")
    error(env.http.post(shares, json={"user": "alice"}, headers=env.root.headers), 400, "cannot_share_with_owner")
    error(env.http.post(shares, json={"user": "ghost"}, headers=env.root.headers), 404, "user_disabled")  # admins
    listed = env.http.get(shares, headers=env.alice.headers).json()
    assert [(s["user"], s["access"]) for s in listed] == [("bob", "read"), ("root", "read")]
    error(env.http.get(shares, headers=env.bob.headers), 403, "not_owner")
    # guessing names is slowed down: after 10 unknown names a minute, 429
    for n in range(10):
        env.http.post(shares, json={"user": f"guess{n}"}, headers=env.alice.headers)
    limited = error(env.http.post(shares, json={"user": "bob"}, headers=env.alice.headers), 429, "too_many_attempts")
    assert limited


def test_removing_shares(env: Env) -> None:
    case = env.http.post("/cases", json={"name": "Shared"}, headers=env.alice.headers).json()
    shares = f"/cases/{case['id']}/shares"
    for who in ("bob", "root"):
        made = env.http.post(shares, json={"user": who, "access": "write"}, headers=env.alice.headers)
        assert made.status_code == 201, made.text
    error(env.http.delete(f"{shares}/root", headers=env.bob.headers), 403, "not_owner")
    assert env.http.delete(f"{shares}/bob", headers=env.bob.headers).status_code == 204  # a sharee may leave
    error(env.http.get(f"/cases/{case['id']}", headers=env.bob.headers), 404, "case_not_found")
    error(env.http.delete(f"{shares}/bob", headers=env.alice.headers), 404, "share_not_found")
    error(env.http.delete(f"{shares}/nobody", headers=env.alice.headers), 404, "share_not_found")
    assert env.http.delete(f"{shares}/root", headers=env.root.headers).status_code == 204
    error(env.http.delete(f"{shares}/bob", headers=env.bob.headers), 404, "case_not_found")  # not readable now


def test_length_caps_name_the_field(env: Env) -> None:
    long_name = "n" * 201
    body = error(env.http.post("/auth/tokens", json={"name": long_name}, headers=env.alice.headers), 400, "too_long")
    assert (body["field"], body["max_length"]) == ("name", 200) and long_name not in str(body)
    huge = env.http.post("/auth/tokens", json={"name": "x" * (9 * 1024 * 1024)}, headers=env.alice.headers)
    assert huge.status_code == 413 and "x" * 1000 not in huge.text
    assert env.http.post("/auth/tokens", json={"name": "n" * 200}, headers=env.alice.headers).status_code == 201
    case = env.http.post("/cases", json={"name": "c" * 201}, headers=env.alice.headers)
    assert case.status_code == 400 and "name" in case.json()["detail"] and "c" * 201 not in case.text
    made = env.http.post("/cases", json={"name": "Caps"}, headers=env.alice.headers).json()
    session = env.http.post(f"/cases/{made['id']}/uploads", json={"filename": "f" * 300 + ".pdf", "total_size": 10},
                            headers=env.alice.headers)
    body = error(session, 400, "too_long")
    assert body["field"] == "filename" and "f" * 300 not in session.text
    user = env.http.post("/users", json={"name": "u" * 65, "password": NEW_PASSWORD}, headers=env.root.headers)
    assert error(user, 400, "invalid_user_name")["field"] == "name"


def test_text_and_search_answers_are_not_stored_or_sniffed(env: Env) -> None:
    case = env.http.post("/cases", json={"name": "Headers"}, headers=env.alice.headers).json()
    up = env.http.post(f"/cases/{case['id']}/documents", headers=env.alice.headers,
                       files=[("files", ("memo.txt", b"the quokka clause", "text/plain"))]).json()
    doc = up["document_ids"][0]
    wait_for(lambda: env.http.get(f"/documents/{doc}", headers=env.alice.headers).json()["status"] == "indexed",
             timeout=60, what="indexed")
    for path in (f"/documents/{doc}/text", f"/documents/{doc}", "/search?q=quokka", f"/cases/{case['id']}/documents"):
        resp = env.http.get(path, headers=env.alice.headers)
        assert resp.status_code == 200, resp.text
        assert "no-store" in resp.headers["cache-control"] and resp.headers["x-content-type-options"] == "nosniff"
