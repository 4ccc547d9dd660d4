"""Taking access away ends the streams already open (issue 13 item 7), against a real server subprocess.

Each test opens real SSE streams (case, batch, document) with a credential, takes the access away through the
API or the CLI, and checks that exactly the affected streams end with ``: closed (revoked)`` while the others
stay open and keep delivering, and that the credential is then refused. The waits are deadlines (a stream that
never ends fails the test), not timings.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexintel.settings import Settings
from tests.auth_helpers import PASSWORD, Account, add_account
from tests.support import ServerProcess, StreamFollower, wait_for
from tests.support.pdfs import slow_pdf

END = 30.0  # seconds a revoked stream may take to end before the test fails (the sweep runs every 0.5 s)


@dataclass
class Env:
    server: ServerProcess
    settings: Settings
    http: httpx.Client
    root: Account  # an admin

    def account(self, name: str, role: str = "member") -> Account:
        return add_account(self.settings, name, role)

    def case(self, who: Account, name: str) -> str:
        resp = self.http.post("/cases", json={"name": name}, headers=who.headers)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    def follow(self, path: str, headers: dict[str, str] | None = None) -> StreamFollower:
        """A stream, open (its first frames read) when this returns."""
        stream = StreamFollower(self.server.url + path, timeout=60, headers=headers).start()
        wait_for(lambda: stream.status is not None and stream.comments, timeout=30, what=f"stream {path} open")
        assert stream.status == 200, (path, stream.status)
        return stream

    def upload(self, who: Account, case_id: str, name: str, body: bytes = b"some text") -> str:
        resp = self.http.post(f"/cases/{case_id}/documents", headers=who.headers,
                              files=[("files", (name, body, "application/octet-stream"))])
        assert resp.status_code == 202, resp.text
        return str(resp.json()["document_ids"][0])


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    data = tmp_path_factory.mktemp("revocation") / "data"
    settings = Settings(data_dir=data)
    root = add_account(settings, "root", "admin")
    server = ServerProcess(data, env={
        "LEXINTEL_AUTH": "on", "LEXINTEL_PING_INTERVAL": "0.5", "LEXINTEL_REVOCATION_CHECK_INTERVAL": "0.5",
        "LEXINTEL_EXTRACTION_WORKERS": "1", "LEXINTEL_DOCUMENT_TIMEOUT": "120", "LEXINTEL_SHUTDOWN_GRACE": "0"})
    server.start()
    http = httpx.Client(base_url=server.url, timeout=30)
    try:
        yield Env(server, settings, http, root)
    finally:
        http.close()
        server.stop()


def ended_revoked(stream: StreamFollower) -> bool:
    """The stream ended, cleanly, because its access was revoked."""
    assert stream.join(END), f"stream {stream.url} still open {END:g} s after its access was revoked"
    assert not stream.errors, stream.errors
    return any("closed (revoked)" in c for c in stream.comments)


def still_delivers(env: Env, stream: StreamFollower, who: Account, case_id: str) -> None:
    """A stream that must stay open receives the events of a new upload."""
    doc = env.upload(who, case_id, "still-open.txt")
    wait_for(lambda: any(isinstance(e.data, dict) and e.data.get("document_id") == doc for e in stream.events),
             timeout=30, what="an event on the stream that must stay open")
    assert stream.join(0) is False


def token_of(env: Env, who: Account, name: str) -> dict[str, Any]:
    resp = env.http.post("/auth/tokens", json={"name": name}, headers=who.headers)
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def login(env: Env, name: str) -> tuple[dict[str, str], str]:
    """Log in: the headers of the cookie session (cookie + CSRF) and the cookie value."""
    resp = httpx.post(env.server.url + "/auth/login", json={"username": name, "password": PASSWORD}, timeout=30)
    assert resp.status_code == 200, resp.text
    cookie = resp.cookies["lexintel_session"]
    return {"Cookie": f"lexintel_session={cookie}", "X-CSRF-Token": resp.json()["csrf_token"]}, cookie


def test_revoking_a_token_ends_its_streams_and_only_those(env: Env) -> None:
    alice = env.account("alice")
    case_id = env.case(alice, "Token matter")
    first = token_of(env, alice, "first")
    by_first = {"Authorization": f"Bearer {first['token']}"}
    upload = env.http.post(f"/cases/{case_id}/uploads", headers=alice.headers,
                           json={"filename": "big.txt", "total_size": 100})  # its batch stays open (uploading)
    assert upload.status_code == 201, upload.text
    case_stream = env.follow(f"/cases/{case_id}/stream", by_first)
    batch_stream = env.follow(f"/batches/{upload.json()['batch_id']}/stream", by_first)
    other = env.follow(f"/cases/{case_id}/stream", alice.headers)  # the same user, another token

    assert env.http.delete(f"/auth/tokens/{first['id']}", headers=alice.headers).status_code == 204
    assert ended_revoked(case_stream) and ended_revoked(batch_stream)
    still_delivers(env, other, alice, case_id)
    assert env.http.get(f"/cases/{case_id}/stream", headers=by_first).status_code == 401
    other.stop()


def test_logging_out_ends_the_streams_of_the_session_and_its_stream_tokens(env: Env) -> None:
    bob = env.account("bob")
    case_id = env.case(bob, "Session matter")
    session, _ = login(env, "bob")
    by_cookie = env.follow(f"/cases/{case_id}/stream", {"Cookie": session["Cookie"]})
    issued = env.http.post("/streams/token", json={"path": f"/cases/{case_id}/stream"}, headers=session)
    assert issued.status_code == 200, issued.text
    by_stream_token = env.follow(issued.json()["url"])
    by_api_token = env.follow(f"/cases/{case_id}/stream", bob.headers)

    assert env.http.post("/auth/logout", headers=session).status_code == 204
    assert ended_revoked(by_cookie) and ended_revoked(by_stream_token)
    still_delivers(env, by_api_token, bob, case_id)
    # the stream token was issued through the session: it died with it, although its 5 minutes are not over
    assert env.http.get(issued.json()["url"]).status_code == 401
    by_api_token.stop()


def test_disabling_a_user_ends_every_stream_and_enabling_restores_the_tokens(env: Env) -> None:
    carol = env.account("carol")
    case_id = env.case(carol, "Disabled matter")
    session, _ = login(env, "carol")
    streams = [env.follow(f"/cases/{case_id}/stream", carol.headers),
               env.follow(f"/cases/{case_id}/stream", {"Cookie": session["Cookie"]})]
    watcher = env.follow(f"/cases/{case_id}/stream", env.root.headers)  # an admin's stream of the same case

    off = env.http.patch("/users/carol", json={"disabled": True}, headers=env.root.headers)
    assert off.status_code == 200 and off.json()["disabled"] is True, off.text
    assert all(ended_revoked(s) for s in streams)
    still_delivers(env, watcher, env.root, case_id)
    watcher.stop()
    assert env.http.get("/cases", headers=carol.headers).status_code == 401
    assert env.http.get("/cases", headers={"Cookie": session["Cookie"]}).status_code == 401
    refused = env.http.post("/auth/login", json={"username": "carol", "password": PASSWORD})
    assert (refused.status_code, refused.json()["code"]) == (403, "account_disabled")

    assert env.http.patch("/users/carol", json={"disabled": False}, headers=env.root.headers).status_code == 200
    assert env.http.get("/cases", headers=carol.headers).status_code == 200  # the API token works again
    assert env.http.get("/cases", headers={"Cookie": session["Cookie"]}).status_code == 401  # sessions are gone


def test_deleting_a_user_ends_their_streams_and_their_cases_go_to_the_heir(env: Env) -> None:
    dave, heir = env.account("dave"), env.account("heir")
    case_id = env.case(dave, "Dave's matter")
    stream = env.follow(f"/cases/{case_id}/stream", dave.headers)

    refused = env.http.delete("/users/dave", headers=env.root.headers)
    assert (refused.status_code, refused.json()["code"], refused.json()["cases"]) == (409, "user_owns_cases", 1)
    assert stream.join(0) is False  # refused: nothing ended
    gone = env.http.delete("/users/dave", params={"transfer_to": "heir"}, headers=env.root.headers)
    assert gone.status_code == 204, gone.text
    assert ended_revoked(stream)
    assert env.http.get("/cases", headers=dave.headers).status_code == 401
    assert [c["id"] for c in env.http.get("/cases", headers=heir.headers).json()] == [case_id]
    assert "dave" not in [u["name"] for u in env.http.get("/users", headers=env.root.headers).json()]


def test_removing_a_share_ends_the_sharees_case_batch_and_document_streams(env: Env) -> None:
    owner, erin = env.account("owner"), env.account("erin")
    case_id, other_case = env.case(owner, "Shared matter"), env.case(owner, "Still shared")
    for case in (case_id, other_case):
        shared = env.http.post(f"/cases/{case}/shares", json={"user": "erin"}, headers=owner.headers)
        assert shared.status_code == 201, shared.text
    doc = env.upload(owner, case_id, "slow.pdf", slow_pdf())  # stays processing: its stream stays open
    upload = env.http.post(f"/cases/{case_id}/uploads", headers=owner.headers,
                           json={"filename": "big.txt", "total_size": 100})
    assert upload.status_code == 201, upload.text
    streams = [env.follow(f"/cases/{case_id}/stream", erin.headers),
               env.follow(f"/progress/documents/{doc}/stream", erin.headers),
               env.follow(f"/batches/{upload.json()['batch_id']}/stream", erin.headers)]
    elsewhere = env.follow(f"/cases/{other_case}/stream", erin.headers)
    owners = env.follow(f"/cases/{case_id}/stream", owner.headers)

    assert env.http.delete(f"/cases/{case_id}/shares/erin", headers=owner.headers).status_code == 204
    assert all(ended_revoked(s) for s in streams)
    still_delivers(env, elsewhere, owner, other_case)
    still_delivers(env, owners, owner, case_id)
    assert env.http.get(f"/cases/{case_id}", headers=erin.headers).status_code == 404
    assert env.http.delete(f"/documents/{doc}", headers=owner.headers).status_code == 204  # stop the slow one
    elsewhere.stop()
    owners.stop()


def test_the_cli_disabling_a_user_on_the_data_dir_ends_the_running_servers_streams(env: Env) -> None:
    frank = env.account("frank")
    case_id = env.case(frank, "Frank's matter")
    stream = env.follow(f"/cases/{case_id}/stream", frank.headers)
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("LEXINTEL_")}
    done = subprocess.run([sys.executable, "-m", "lexintel", "user", "disable", "frank", "--data-dir",
                           str(env.settings.data_dir)], capture_output=True, text=True, timeout=60, env=cli_env,
                          cwd=Path(env.settings.data_dir).parent)
    assert done.returncode == 0, done.stderr
    assert f"database: {env.settings.db_path.resolve()}" in done.stderr
    assert ended_revoked(stream)  # another process changed the database: the server's sweep noticed
    assert env.http.get("/cases", headers=frank.headers).status_code == 401


def test_the_case_list_stream_tells_each_user_of_their_own_cases_and_ends_with_their_access(env: Env) -> None:
    """``/case-list/stream`` (the page with no case open) carries ``cases_changed`` for the cases in its user's
    list only, a new share included, and ends like any stream when the user is disabled."""
    lena, omar = env.account("lena"), env.account("omar")
    lenas, omars = env.follow("/case-list/stream", lena.headers), env.follow("/case-list/stream", omar.headers)
    admins = env.follow("/case-list/stream", env.root.headers)
    case_id = env.case(lena, "Lena's matter")

    def changes(stream: StreamFollower) -> list[tuple[str, str]]:
        return [(e.data["change"], e.data["name"]) for e in stream.events
                if e.event == "cases_changed" and isinstance(e.data, dict) and e.data.get("case_id") == case_id]

    for stream in (lenas, admins):
        wait_for(lambda s=stream: changes(s) == [("created", "Lena's matter")], timeout=30,  # type: ignore[misc]
                 what="the new case on its owner's and the admin's streams")
    assert env.http.post(f"/cases/{case_id}/shares", json={"user": "omar"}, headers=lena.headers).status_code == 201
    wait_for(lambda: changes(omars) == [("shared", "Lena's matter")], timeout=30, what="the share on omar's stream")
    assert env.http.patch(f"/cases/{case_id}", json={"name": "Renamed"}, headers=lena.headers).status_code == 200
    for stream in (lenas, omars, admins):
        wait_for(lambda s=stream: changes(s)[-1:] == [("renamed", "Renamed")], timeout=30,  # type: ignore[misc]
                 what="the rename on every stream whose list holds the case")
    assert all(e.id is None for e in lenas.events)  # never logged: no ids, the client's Last-Event-ID stays

    other = env.case(env.root, "Not theirs")  # the admin's own case: not in lena's or omar's list
    wait_for(lambda: any(isinstance(e.data, dict) and e.data.get("case_id") == other for e in admins.events),
             timeout=30, what="the admin's case on the admin's stream")
    assert env.http.patch("/users/omar", json={"disabled": True}, headers=env.root.headers).status_code == 200
    assert ended_revoked(omars)
    assert not any(isinstance(e.data, dict) and e.data.get("case_id") == other for s in (lenas, omars)
                   for e in s.events)
    assert env.http.delete(f"/cases/{case_id}", headers=lena.headers).status_code == 204
    wait_for(lambda: changes(lenas)[-1:] == [("deleted", "Renamed")], timeout=30, what="the deletion on lena's")
    assert lenas.join(0) is False and admins.join(0) is False  # still open
