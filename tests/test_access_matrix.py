"""Every route x every kind of caller: status codes, and no foreign data in any body or stream.

Routes are enumerated from the running app, so a route added later without an entry here fails
``test_every_route_has_a_matrix_entry``. Callers: the case owner, another member, an admin, anonymous, an
expired API token, a stream token for another stream (in ``?token=``), and two members the owner's case is
shared with: ``reader`` (``access: read``: reads everything, every write is 403 ``read_only_share``) and
``writer`` (``access: write``: may also upload, retry, delete; the owner-only share routes stay 403).
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from lexintel.settings import Settings
from tests.auth_helpers import PASSWORD, Account, add_account, expired_token, stream_token
from tests.live_server import LiveServer
from tests.support import wait_for

CALLERS = ("owner", "member", "admin", "anonymous", "expired", "stream_token", "reader", "writer")
SHAREES = {"reader": "dave", "writer": "erin"}
MAKERS = ("owner", "admin", "writer")  # callers whose deletes really happen: they get fresh things to delete
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
NEW_PASSWORD = "a matrix passphrase"
ALPHA_WORD = "zebrafishquartz"  # only in the owner's documents
BRAVO_WORD = "walrusmarmalade"  # only in the other member's documents
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Ctx:
    live: LiveServer
    http: httpx.Client
    accounts: dict[str, Account]
    expired: str
    wrong_stream_token: str
    ids: dict[str, str] = field(default_factory=dict)
    alpha_markers: list[str] = field(default_factory=list)  # owner's data: never in another member's answers
    bravo_markers: list[str] = field(default_factory=list)  # other member's data: never in the owner's answers

    def owner(self) -> dict[str, str]:
        return self.accounts["alice"].headers

    def upload(self, case_id: str, name: str, text: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        resp = self.http.post(f"/cases/{case_id}/documents", headers=headers or self.owner(),
                              files=[("files", (name, text.encode(), "text/plain"))])
        assert resp.status_code == 202, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def fresh_document(self) -> str:
        return str(self.upload(self.ids["case"], "alpha-extra.txt", f"{ALPHA_WORD} extra")["document_ids"][0])

    def fresh_upload(self, with_chunk: bool = False) -> str:
        resp = self.http.post(f"/cases/{self.ids['case']}/uploads", headers=self.owner(),
                              json={"filename": "alpha-chunked.txt", "total_size": 20})
        assert resp.status_code == 201, resp.text
        upload_id = str(resp.json()["upload_id"] if "upload_id" in resp.json() else resp.json()["id"])
        if with_chunk:
            put = self.http.put(f"/uploads/{upload_id}/chunks/0", headers=self.owner(),
                                content=b"chunked text abcdefg")
            assert put.status_code == 200, put.text
        return upload_id

    def fresh_token_id(self) -> str:
        resp = self.http.post("/auth/tokens", json={"name": "matrix"}, headers=self.owner())
        assert resp.status_code == 201
        return str(resp.json()["id"])


@dataclass
class Req:
    method: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    subject: str | None = None  # the owner's id this request names (replaced by a random one for "missing")


@dataclass
class Entry:
    kind: str  # "public" | "open" (any signed-in user) | "subject" (readable only by owner/admin) | "admin"
    ok: frozenset[int]
    build: Callable[[Ctx, str], Req]
    stream: bool = False
    # what a sharee may do: "read" (any sharee), "write" (a write sharee; a read sharee gets 403
    # read_only_share), "owner" (403 not_owner for both), "none" (like another member); None: "read" for a safe
    # method, "write" otherwise
    shared: str | None = None


def e(kind: str, ok: set[int], build: Callable[[Ctx, str], Req], stream: bool = False,
      shared: str | None = None) -> Entry:
    return Entry(kind, frozenset(ok), build, stream, shared)


def _fresh_user(c: Ctx) -> str:
    name = f"made-{uuid.uuid4().hex[:8]}"
    resp = c.http.post("/users", json={"name": name, "password": NEW_PASSWORD}, headers=c.accounts["root"].headers)
    assert resp.status_code == 201, resp.text
    return name


def _carol_shared(c: Ctx) -> str:
    resp = c.http.post(f"/cases/{c.ids['case']}/shares", json={"user": "carol"}, headers=c.owner())
    assert resp.status_code == 201, resp.text
    return f"/cases/{c.ids['case']}/shares/carol"


def _files() -> dict[str, Any]:
    return {"files": [("files", ("alpha-upload.txt", f"{ALPHA_WORD} uploaded".encode(), "text/plain"))]}


def _subject(path: str, key: str) -> Callable[[Ctx, str], Req]:
    return lambda c, _: Req("GET", path.format(c.ids[key]), subject=c.ids[key])


MATRIX: dict[tuple[str, str], Entry] = {
    # system and page: public
    ("GET", "/health"): e("public", {200}, lambda c, _: Req("GET", "/health")),
    ("GET", "/ready"): e("public", {200}, lambda c, _: Req("GET", "/ready")),
    ("GET", "/metrics"): e("public", {200}, lambda c, _: Req("GET", "/metrics")),
    ("GET", "/stages"): e("public", {200}, lambda c, _: Req("GET", "/stages")),
    ("GET", "/"): e("public", {200}, lambda c, _: Req("GET", "/")),
    ("GET", "/static/{name:str}"): e("public", {200}, lambda c, _: Req("GET", "/static/app.js")),
    ("POST", "/auth/login"): e("public", {200}, lambda c, _: Req(
        "POST", "/auth/login", {"json": {"username": "carol", "password": PASSWORD}})),
    # any signed-in user
    ("GET", "/cases"): e("open", {200}, lambda c, _: Req("GET", "/cases")),
    ("POST", "/cases"): e("open", {201}, lambda c, _: Req("POST", "/cases", {"json": {"name": "New matter"}})),
    ("GET", "/auth/me"): e("open", {200}, lambda c, _: Req("GET", "/auth/me")),
    ("GET", "/web/limits"): e("open", {200}, lambda c, _: Req("GET", "/web/limits")),
    ("POST", "/auth/logout"): e("open", {204}, lambda c, _: Req("POST", "/auth/logout")),
    ("GET", "/auth/tokens"): e("open", {200}, lambda c, _: Req("GET", "/auth/tokens")),
    ("GET", "/tokens"): e("open", {200}, lambda c, _: Req("GET", "/tokens")),
    # the page's case-list notices while no case is open: the caller's own list, nobody else's
    ("GET", "/case-list/stream"): e("open", {200}, lambda c, _: Req("GET", "/case-list/stream"), stream=True),
    # admins only
    ("GET", "/users"): e("admin", {200}, lambda c, _: Req("GET", "/users")),
    ("POST", "/users"): e("admin", {201}, lambda c, _: Req(
        "POST", "/users", {"json": {"name": f"new-{uuid.uuid4().hex[:8]}", "password": NEW_PASSWORD}})),
    ("PATCH", "/users/{user_name:str}"): e("admin", {200}, lambda c, _: Req(
        "PATCH", "/users/carol", {"json": {"disabled": False}})),
    ("POST", "/users/{user_name:str}/password"): e("admin", {204}, lambda c, _: Req(
        "POST", "/users/carol/password", {"json": {"password": PASSWORD}})),
    ("DELETE", "/users/{user_name:str}"): e("admin", {204}, lambda c, who: Req(
        "DELETE", f"/users/{_fresh_user(c) if who == 'admin' else 'carol'}")),
    ("POST", "/auth/tokens"): e("open", {201}, lambda c, _: Req("POST", "/auth/tokens", {"json": {"name": "x"}})),
    # the owner's things
    ("GET", "/cases/{case_id:str}"): e("subject", {200}, _subject("/cases/{}", "case")),
    ("GET", "/cases/{case_id:str}/documents"): e("subject", {200}, _subject("/cases/{}/documents", "case")),
    ("POST", "/cases/{case_id:str}/documents"): e("subject", {202}, lambda c, _: Req(
        "POST", f"/cases/{c.ids['case']}/documents", _files(), subject=c.ids["case"])),
    ("POST", "/documents/upload"): e("subject", {202}, lambda c, _: Req(
        "POST", "/documents/upload", {**_files(), "data": {"case_id": c.ids["case"]}}, subject=c.ids["case"])),
    ("GET", "/documents/{document_id:str}"): e("subject", {200}, _subject("/documents/{}", "doc")),
    ("GET", "/documents/{document_id:str}/status"): e("subject", {200}, _subject("/documents/{}/status", "doc")),
    ("GET", "/progress/documents/{document_id:str}/status"): e(
        "subject", {200}, _subject("/progress/documents/{}/status", "doc")),
    ("GET", "/api/documents/{document_id:str}/status"): e(
        "subject", {200}, _subject("/api/documents/{}/status", "doc")),
    ("GET", "/documents/{document_id:str}/text"): e("subject", {200}, _subject("/documents/{}/text", "doc")),
    ("GET", "/documents/{document_id:str}/file"): e("subject", {200}, _subject("/documents/{}/file", "doc")),
    # the broken "PDF": kept, so the page is drawn and found damaged (409), behind the same access check
    ("GET", "/documents/{document_id:str}/pages/{page:int}/image"): e(
        "subject", {409}, _subject("/documents/{}/pages/1/image", "failed_doc")),
    ("GET", "/cases/{case_id:str}/batches"): e("subject", {200}, _subject("/cases/{}/batches", "case")),
    ("POST", "/documents/{document_id:str}/retry"): e("subject", {202, 409}, lambda c, _: Req(
        "POST", f"/documents/{c.ids['failed_doc']}/retry", subject=c.ids["failed_doc"])),
    ("DELETE", "/documents/{document_id:str}"): e("subject", {204}, lambda c, who: (lambda d: Req(
        "DELETE", f"/documents/{d}", subject=d))(c.fresh_document() if who in MAKERS else c.ids["doc"])),
    ("GET", "/search"): e("subject", {200}, lambda c, _: Req(
        "GET", f"/search?q={ALPHA_WORD}&case_id={c.ids['case']}", subject=c.ids["case"])),
    ("GET", "/progress/documents/{document_id:str}/stream"): e(
        "subject", {200}, _subject("/progress/documents/{}/stream", "doc"), stream=True),
    ("GET", "/batches/{batch_id:str}/stream"): e("subject", {200}, _subject("/batches/{}/stream", "batch"),
                                                 stream=True),
    ("GET", "/api/batches/{batch_id:str}/stream"): e("subject", {200}, _subject("/api/batches/{}/stream", "batch"),
                                                     stream=True),
    ("GET", "/cases/{case_id:str}/stream"): e("subject", {200}, _subject("/cases/{}/stream", "case"), stream=True),
    ("GET", "/batches/{batch_id:str}"): e("subject", {200}, _subject("/batches/{}", "batch")),
    ("GET", "/batches/{batch_id:str}/progress"): e("subject", {200}, _subject("/batches/{}/progress", "batch")),
    ("POST", "/cases/{case_id:str}/uploads"): e("subject", {201}, lambda c, _: Req(
        "POST", f"/cases/{c.ids['case']}/uploads", {"json": {"filename": "alpha-chunked.txt", "total_size": 20}},
        subject=c.ids["case"])),
    ("PUT", "/uploads/{upload_id:str}/chunks/{index:int}"): e("subject", {200}, lambda c, _: Req(
        "PUT", f"/uploads/{c.ids['upload']}/chunks/0", {"content": b"chunked text abcdefg"},
        subject=c.ids["upload"])),
    ("GET", "/uploads/{upload_id:str}"): e("subject", {200}, _subject("/uploads/{}", "upload")),
    ("POST", "/uploads/{upload_id:str}/complete"): e("subject", {202}, lambda c, who: (lambda u: Req(
        "POST", f"/uploads/{u}/complete", subject=u))(
        c.fresh_upload(with_chunk=True) if who in MAKERS else c.ids["upload"])),
    ("DELETE", "/uploads/{upload_id:str}"): e("subject", {204}, lambda c, who: (lambda u: Req(
        "DELETE", f"/uploads/{u}", subject=u))(c.fresh_upload() if who in MAKERS else c.ids["upload"])),
    ("POST", "/streams/token"): e("subject", {200}, lambda c, _: Req(
        "POST", "/streams/token", {"json": {"path": f"/cases/{c.ids['case']}/stream"}}, subject=c.ids["case"]),
        shared="read"),
    ("POST", "/cases/{case_id:str}/shares"): e("subject", {201}, lambda c, _: Req(
        "POST", f"/cases/{c.ids['case']}/shares", {"json": {"user": "carol"}}, subject=c.ids["case"]),
        shared="owner"),
    ("GET", "/cases/{case_id:str}/shares"): e("subject", {200}, _subject("/cases/{}/shares", "case"), shared="owner"),
    ("DELETE", "/cases/{case_id:str}/shares/{user_name:str}"): e("subject", {204}, lambda c, _: Req(
        "DELETE", _carol_shared(c), subject=c.ids["case"]), shared="owner"),
    # webadmin: rename (to the same name: a no-op answer) and delete (owner and admin delete a fresh case)
    ("PATCH", "/cases/{case_id:str}"): e("subject", {200}, lambda c, _: Req(
        "PATCH", f"/cases/{c.ids['case']}", {"json": {"name": "Alpha matter 7731"}}, subject=c.ids["case"]),
        shared="owner"),
    ("DELETE", "/cases/{case_id:str}"): e("subject", {204}, lambda c, who: (lambda k: Req(
        "DELETE", f"/cases/{k}", subject=k))(c.http.post("/cases", json={"name": "Doomed"}, headers=c.owner()).json()[
            "id"] if who in ("owner", "admin") else c.ids["case"]), shared="owner"),
    ("GET", "/setup"): e("public", {200}, lambda c, _: Req("GET", "/setup")),
    ("POST", "/setup"): e("public", {409}, lambda c, _: Req(
        "POST", "/setup", {"json": {"name": "late", "password": "long enough"}})),
    ("DELETE", "/auth/tokens/{token_id:str}"): e("subject", {204}, lambda c, who: (lambda t: Req(
        "DELETE", f"/auth/tokens/{t}", subject=t))(c.fresh_token_id() if who in ("owner", "admin") else
                                                   c.ids["token"]), shared="none"),
}


def _docs_entry(path: str) -> Entry | None:
    """Litestar's OpenAPI routes (under /schema): public documentation."""
    if not path.startswith("/schema"):
        return None
    url = "/schema/nothing-here" if "{" in path else path
    return e("public", {200, 404}, lambda c, _: Req("GET", url))


def app_routes(live: LiveServer) -> list[tuple[str, str]]:
    found = set()
    for route in live.app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in getattr(handler, "http_methods", ()):
                if method not in ("OPTIONS", "HEAD"):
                    found.add((method, route.path))
    return sorted(found)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    root = tmp_path_factory.mktemp("matrix")
    settings = Settings(data_dir=root / "data", extraction_workers=1, document_timeout=60, progress_interval=0.0,
                        ping_interval=0.5, auth="on")
    accounts = {name: add_account(settings, name, role) for name, role in
                (("alice", "member"), ("bob", "member"), ("root", "admin"), ("carol", "member"), ("dave", "member"),
                 ("erin", "member"))}
    expired = expired_token(settings, accounts["alice"].user)
    live = LiveServer(settings, auth="on").start()
    http = httpx.Client(base_url=live.url, timeout=30)
    try:
        alice, bob = accounts["alice"], accounts["bob"]
        case = http.post("/cases", json={"name": "Alpha matter 7731"}, headers=alice.headers).json()
        spare = http.post("/cases", json={"name": "Alpha spare 7732"}, headers=alice.headers).json()
        bcase = http.post("/cases", json={"name": "Bravo matter 8842"}, headers=bob.headers).json()
        c = Ctx(live, http, accounts, expired,
                wrong_stream_token=stream_token(http, alice, f"/cases/{spare['id']}/stream"))
        c.ids["case"] = case["id"]
        for sharee, access in (("dave", "read"), ("erin", "write")):
            shared = http.post(f"/cases/{case['id']}/shares", json={"user": sharee, "access": access},
                               headers=alice.headers)
            assert shared.status_code == 201, shared.text
        c.ids["doc"] = c.upload(case["id"], "alpha-secret-brief.txt", f"The {ALPHA_WORD} clause.")["document_ids"][0]
        batch = http.post(f"/cases/{case['id']}/documents", headers=alice.headers, files=[
            ("files", ("alpha-one.txt", f"{ALPHA_WORD} one".encode(), "text/plain")),
            ("files", ("alpha-two.txt", f"{ALPHA_WORD} two".encode(), "text/plain"))]).json()
        c.ids["batch"] = batch["batch_id"]
        c.ids["failed_doc"] = c.upload(case["id"], "alpha-broken.pdf", "%PDF-1.7\nnot really a pdf\n%%EOF\n"
                                       )["document_ids"][0]
        c.ids["upload"] = c.fresh_upload()
        c.ids["token"] = c.fresh_token_id()
        bdoc = c.upload(bcase["id"], "bravo-brief.txt", f"The {BRAVO_WORD} clause.", bob.headers)["document_ids"][0]

        def indexed() -> bool:
            for doc, who in ((c.ids["doc"], alice), (bdoc, bob)):
                if http.get(f"/documents/{doc}", headers=who.headers).json()["status"] != "indexed":
                    return False
            return True

        wait_for(indexed, timeout=60, what="documents indexed")
        c.alpha_markers = ["Alpha matter 7731", "Alpha spare", "alpha-secret-brief", "alpha-one", "alpha-chunked",
                           ALPHA_WORD, case["id"], spare["id"], c.ids["doc"], c.ids["batch"], c.ids["upload"]]
        c.bravo_markers = ["Bravo matter 8842", "bravo-brief", BRAVO_WORD, bcase["id"], bdoc]
        yield c
    finally:
        http.close()
        live.stop()


def send(c: Ctx, req: Req, caller: str, stream: bool) -> tuple[int, str]:
    """Send ``req`` as ``caller``; return the status and the body (a stream's first frame)."""
    headers: dict[str, str] = {}
    url = req.url
    c.http.cookies.clear()  # the login entry sets a session cookie: no caller may ride on it
    if caller in ("owner", "member", "admin", *SHAREES):
        headers = c.accounts[{"owner": "alice", "member": "bob", "admin": "root", **SHAREES}[caller]].headers
    elif caller == "expired":
        headers = {"Authorization": f"Bearer {c.expired}"}
    elif caller == "stream_token":
        url += ("&" if "?" in url else "?") + f"token={c.wrong_stream_token}"
    if stream:
        with c.http.stream(req.method, url, headers=headers, timeout=15, **req.kwargs) as resp:
            data = b""
            for chunk in resp.iter_bytes():
                data += chunk
                if b"\n\n" in data or len(data) > 65536:
                    break
            return resp.status_code, data.decode(errors="replace")
    resp = c.http.request(req.method, url, headers=headers, **req.kwargs)
    return resp.status_code, resp.text


def entry_for(method: str, path: str) -> Entry | None:
    return MATRIX.get((method, path)) or (_docs_entry(path) if method == "GET" else None)


def test_every_route_has_a_matrix_entry(ctx: Ctx) -> None:
    missing = [f"{m} {p}" for m, p in app_routes(ctx.live) if entry_for(m, p) is None]
    assert not missing, f"routes without an access-matrix entry (add one to MATRIX): {missing}"
    stale = [f"{m} {p}" for (m, p) in MATRIX if (m, p) not in app_routes(ctx.live)]
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


@pytest.mark.parametrize("caller", CALLERS)
def test_access_matrix(ctx: Ctx, caller: str) -> None:
    failures: list[str] = []
    for method, path in app_routes(ctx.live):
        entry = entry_for(method, path)
        if entry is None:
            continue  # reported by test_every_route_has_a_matrix_entry
        req = entry.build(ctx, caller)
        status, body = send(ctx, req, caller, entry.stream)
        where = f"{caller} {method} {req.url}"
        rule = entry.shared or ("read" if method in SAFE else "write")
        sharee_may = caller in SHAREES and (rule == "read" or (rule == "write" and caller == "writer"))
        if entry.kind == "public":
            expect: str | frozenset[int] = entry.ok
        elif caller in ("anonymous", "expired", "stream_token"):
            expect = "401"
        elif entry.kind == "admin":
            expect = entry.ok if caller == "admin" else "403"
        elif entry.kind == "open" or caller in ("owner", "admin") or sharee_may:
            expect = entry.ok
        elif caller in SHAREES and rule == "write":
            expect = "read_only_share"
        elif caller in SHAREES and rule == "owner":
            expect = "not_owner"
        else:
            expect = "missing"  # another member (or a sharee, for what is not the case's): exactly a missing id's
        if isinstance(expect, frozenset):
            if status not in expect:
                failures.append(f"{where}: {status} not in {sorted(expect)}: {body[:200]}")
        elif expect == "missing":
            if status != 404:
                failures.append(f"{where}: {status}, expected 404: {body[:200]}")
            else:  # exactly what a non-existent id gets
                assert req.subject is not None, where
                ghost = str(uuid.uuid4())
                ghost_req = Req(req.method, req.url.replace(req.subject, ghost),
                                _replace(req.kwargs, req.subject, ghost), ghost)
                ghost_status, ghost_body = send(ctx, ghost_req, caller, entry.stream)
                if (ghost_status, ghost_body.replace(ghost, req.subject)) != (status, body):
                    failures.append(f"{where}: foreign answer {body!r} differs from missing {ghost_body!r}")
        elif expect == "401":
            if status != 401:
                failures.append(f"{where}: {status}, expected 401: {body[:200]}")
            elif '"code"' not in body:
                failures.append(f"{where}: 401 without a JSON error body: {body[:200]}")
        elif status != 403 or (expect != "403" and f'"code":"{expect}"' not in body.replace(" ", "")):
            failures.append(f"{where}: {status}, expected 403 {expect}: {body[:200]}")
        # no foreign data in any answer
        if caller in ("owner", *SHAREES):
            leaked = [m for m in ctx.bravo_markers if m in body]
        elif caller == "admin":
            leaked = []
        else:
            sent = req.url + repr(req.kwargs)
            leaked = [m for m in ctx.alpha_markers + ctx.bravo_markers if m in body and m not in sent
                      and not (caller == "member" and m in ctx.bravo_markers)]
        if leaked:
            failures.append(f"{where}: foreign data {leaked} in {body[:300]}")
    assert not failures, "\n".join(failures)


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_replace(v, old, new) for v in value)
    return value


def test_member_lists_and_search_show_only_readable_cases(ctx: Ctx) -> None:
    bob, root = ctx.accounts["bob"], ctx.accounts["root"]
    listed = ctx.http.get("/cases", headers=bob.headers).text
    assert "Bravo matter 8842" in listed and not any(m in listed for m in ctx.alpha_markers)
    hits = ctx.http.get(f"/search?q={ALPHA_WORD}&mode=keyword", headers=bob.headers).json()
    assert hits["hits"] == [] and hits["total"] == 0
    # meaning-based search always offers the nearest passages, but only from cases bob may read
    nearest = ctx.http.get(f"/search?q={ALPHA_WORD}", headers=bob.headers).json()["hits"]
    assert not any(m in str(nearest) for m in ctx.alpha_markers)
    assert {h["case_id"] for h in nearest} <= {c["id"] for c in ctx.http.get("/cases", headers=bob.headers).json()}
    own = ctx.http.get(f"/search?q={BRAVO_WORD}&mode=keyword", headers=bob.headers).json()["hits"]
    assert [h["filename"] for h in own] == ["bravo-brief.txt"]
    assert ctx.http.get(f"/search?q={BRAVO_WORD}&mode=keyword", headers=ctx.owner()).json()["hits"] == []
    theirs = ctx.http.get(f"/search?q={BRAVO_WORD}", headers=ctx.owner()).json()["hits"]
    assert "bravo-brief.txt" not in [h["filename"] for h in theirs]
    everything = ctx.http.get(f"/search?q={ALPHA_WORD}", headers=root.headers).json()["hits"]
    assert "alpha-secret-brief.txt" in [h["filename"] for h in everything]  # admins see all


def test_a_foreign_upload_is_refused_before_the_body_is_read(ctx: Ctx) -> None:
    """The guard answers 404 from the path alone, while the announced 1 GB body has not been sent."""
    bob = ctx.accounts["bob"]
    head = (f"POST /cases/{ctx.ids['case']}/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {bob.headers['Authorization']}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000000\r\n\r\n"
            '--x\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\nhello')
    with socket.create_connection(("127.0.0.1", ctx.live.port), timeout=15) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or b"}" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    assert b"case_not_found" in answer
    docs = ctx.http.get(f"/cases/{ctx.ids['case']}/documents", headers=ctx.owner()).json()
    assert all(d["filename"] != "a.txt" for d in docs)
