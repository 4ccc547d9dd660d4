"""Renaming and deleting a case, against a real uvicorn server with accounts on, a real SQLite file and real files.

Rename: owner and admins only (403 for someone it is shared with, 404 for a stranger), told live on the case
stream and replayed to a late joiner. Delete: every row (documents, pages, passages and their full-text index,
batches, upload sessions, shares, the event log), every file (originals, chunks of an unfinished upload), the
case's open streams end with ``case_deleted``; work in flight for the case (a document being extracted, an
upload still arriving) ends without leaving anything behind, and the pipeline keeps serving other cases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexintel.settings import Settings
from tests.auth_helpers import Account, add_account, stream_token
from tests.live_server import LiveServer
from tests.support import StreamFollower, corpus, read_stream, wait_for


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, Account]]]:
    settings = Settings(data_dir=tmp_path / "data", extraction_workers=1, document_timeout=60, progress_interval=0.0,
                        ping_interval=0.5, auth="on", shutdown_grace=0)
    accounts = {name: add_account(settings, name, role) for name, role in
                (("alice", "member"), ("bob", "member"), ("carol", "member"), ("root", "admin"))}
    server = LiveServer(settings, auth="on").start()
    yield server, accounts
    server.stop()


def _follow(live: LiveServer, http: httpx.Client, who: Account, path: str, stream: str) -> StreamFollower:
    """Follow ``path`` (a stream token in the URL) and wait until the server has subscribed it to ``stream``."""
    follower = StreamFollower(f"{live.url}{path}?token={stream_token(http, who, path)}", timeout=60).start()
    wait_for(lambda: live.call(lambda: live.services.broadcaster.subscriber_count(stream)) > 0, timeout=15,
             what=f"{path} subscribed")
    return follower


def _upload(http: httpx.Client, who: Account, case_id: str, files: dict[str, bytes]) -> list[str]:
    resp = http.post(f"/cases/{case_id}/documents", headers=who.headers,
                     files=[("files", (name, data, "text/plain")) for name, data in files.items()])
    assert resp.status_code == 202, resp.text
    return [d["id"] for d in resp.json()["documents"]]


def _rows(live: LiveServer, sql: str, params: tuple[Any, ...] = ()) -> int:
    return int(live.call(lambda: live.services.db.query_one(sql, params))[0])  # type: ignore[index]


def test_rename_is_for_owner_and_admin_and_every_follower_hears_it(
        live: tuple[LiveServer, dict[str, Account]]) -> None:
    server, acc = live
    alice, bob, carol, root = acc["alice"], acc["bob"], acc["carol"], acc["root"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        case = http.post("/cases", json={"name": "Smith v Jones"}, headers=alice.headers).json()
        cid = case["id"]
        assert http.post(f"/cases/{cid}/shares", json={"user": "bob"}, headers=alice.headers).status_code == 201
        follower = _follow(server, http, bob, f"/cases/{cid}/stream", f"case:{cid}")

        refused = http.patch(f"/cases/{cid}", json={"name": "Mine now"}, headers=bob.headers)
        assert refused.status_code == 403 and refused.json()["code"] == "not_owner"
        hidden = http.patch(f"/cases/{cid}", json={"name": "Mine now"}, headers=carol.headers)
        assert hidden.status_code == 404 and hidden.json()["code"] == "case_not_found"
        empty = http.patch(f"/cases/{cid}", json={"name": "  \n "}, headers=alice.headers)
        assert empty.status_code == 400 and empty.json()["code"] == "invalid_name"

        renamed = http.patch(f"/cases/{cid}", json={"name": "  Smith v Jones\n(2019) "}, headers=alice.headers)
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Smith v Jones (2019)"
        by_admin = http.patch(f"/cases/{cid}", json={"name": "Smith v Jones, appeal"}, headers=root.headers)
        assert by_admin.status_code == 200

        wait_for(lambda: len([e for e in follower.events if e.event == "case_renamed"]) == 2, timeout=15,
                 what="two case_renamed events on the stream")
        first, second = (e.data for e in follower.events if e.event == "case_renamed")
        assert isinstance(first, dict) and isinstance(second, dict)
        assert (first["previous_name"], first["name"], first["by"]) == ("Smith v Jones", "Smith v Jones (2019)",
                                                                         "alice")
        assert (second["name"], second["by"], second["case_id"]) == ("Smith v Jones, appeal", "root", cid)
        follower.stop()

        detail = http.get(f"/cases/{cid}", headers=bob.headers).json()
        assert detail["name"] == "Smith v Jones, appeal" and detail["owner"] == "alice"
        assert detail["can_manage"] is False
        assert http.get(f"/cases/{cid}", headers=alice.headers).json()["can_manage"] is True
        assert [c["name"] for c in http.get("/cases", headers=bob.headers).json()] == ["Smith v Jones, appeal"]
        # a tab opened later replays the renames from the case stream's log
        path = f"/cases/{cid}/stream"
        replayed = read_stream(f"{server.url}{path}?token={stream_token(http, alice, path)}", timeout=15,
                               until=lambda e: e.event == "case_renamed" and isinstance(e.data, dict)
                               and e.data["name"] == "Smith v Jones, appeal")
        assert [e.event for e in replayed].count("case_renamed") == 2


def test_delete_removes_rows_files_streams_and_unfinished_uploads(
        live: tuple[LiveServer, dict[str, Account]]) -> None:
    server, acc = live
    alice, bob = acc["alice"], acc["bob"]
    data_dir = server.services.settings.data_dir
    with httpx.Client(base_url=server.url, timeout=30) as http:
        cid = http.post("/cases", json={"name": "Doomed matter"}, headers=alice.headers).json()["id"]
        other = http.post("/cases", json={"name": "Kept matter"}, headers=alice.headers).json()["id"]
        assert http.post(f"/cases/{cid}/shares", json={"user": "bob"}, headers=alice.headers).status_code == 201
        text = "The zanzibar quokka clause.\n\n" * 40
        doc_ids = _upload(http, alice, cid, {"one.txt": text.encode(), "two.txt": (text + "more").encode()})
        kept_ids = _upload(http, alice, other, {"kept.txt": text.encode()})
        for doc_id in [*doc_ids, *kept_ids]:
            wait_for(lambda d=doc_id: http.get(f"/documents/{d}", headers=alice.headers).json()["status"]
                     == "indexed", timeout=60, what=f"{doc_id} indexed")
        upload = http.post(f"/cases/{cid}/uploads", headers=alice.headers,
                           json={"filename": "big.pdf", "total_size": 2000, "chunk_size": 1000})
        assert upload.status_code == 201, upload.text
        upload_id, upload_batch = upload.json()["upload_id"], upload.json()["batch_id"]
        put = http.put(f"/uploads/{upload_id}/chunks/0", content=b"x" * 1000, headers=alice.headers)
        assert put.status_code == 200, put.text
        stored = [Path(p) for p in live_paths(server, cid)]
        assert len(stored) == 2 and all(p.exists() for p in stored)
        assert (data_dir / "uploads" / upload_id / "000000.chunk").exists()

        detail = http.get(f"/cases/{cid}", headers=alice.headers).json()
        assert detail["documents"] == 2 and detail["passages"] >= 2 and detail["size_bytes"] == sum(
            p.stat().st_size for p in stored)
        assert http.get("/search", params={"q": "zanzibar", "case_id": cid}, headers=alice.headers).json()["hits"]

        case_follower = _follow(server, http, bob, f"/cases/{cid}/stream", f"case:{cid}")
        batch_follower = _follow(server, http, alice, f"/batches/{upload_batch}/stream", f"batch:{upload_batch}")
        refused = http.delete(f"/cases/{cid}", headers=bob.headers)
        assert refused.status_code == 403 and refused.json()["code"] == "not_owner"
        gone = http.delete(f"/cases/{cid}", headers=alice.headers)
        assert gone.status_code == 204, gone.text

        assert case_follower.join(15) and not case_follower.errors
        last = case_follower.events[-1]
        assert last.event == "case_deleted" and isinstance(last.data, dict)
        assert (last.data["case_id"], last.data["name"], last.data["by"]) == (cid, "Doomed matter", "alice")
        assert ": closed (deleted)" in case_follower.comments
        assert batch_follower.join(15)

        assert not any(p.exists() for p in stored)
        assert not (data_dir / "uploads" / upload_id).exists()
        for path in (f"/cases/{cid}", f"/documents/{doc_ids[0]}", f"/uploads/{upload_id}", f"/batches/{upload_batch}"):
            assert http.get(path, headers=alice.headers).status_code == 404, path
        assert http.get("/search", params={"q": "zanzibar"}, headers=alice.headers).json()["hits"][0][
            "case_id"] == other  # only the kept case's passage is left
        ids = (cid, *doc_ids, upload_batch)
        for table, column in (("documents", "case_id"), ("chunks", "case_id"), ("batches", "case_id"),
                              ("upload_sessions", "case_id"), ("case_shares", "case_id"), ("cases", "id")):
            assert _rows(server, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (cid,)) == 0, table
        assert _rows(server, "SELECT COUNT(*) FROM pages WHERE document_id IN (?, ?)", tuple(doc_ids)) == 0
        assert _rows(server, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'zanzibar'") == 1  # kept case
        for ident in ids:
            assert _rows(server, "SELECT COUNT(*) FROM events WHERE stream LIKE ?", (f"%:{ident}",)) == 0, ident
        wait_for(lambda: server.call(lambda: server.services.broadcaster.subscriber_count()) == 0, timeout=15,
                 what="every stream released")
        assert http.delete(f"/cases/{cid}", headers=alice.headers).status_code == 404
        assert http.get(f"/cases/{other}", headers=alice.headers).json()["documents"] == 1


def live_paths(server: LiveServer, case_id: str) -> list[str]:
    rows = server.call(lambda: server.services.db.query(
        "SELECT storage_path FROM documents WHERE case_id = ?", (case_id,)))
    return [str(r[0]) for r in rows]


def test_delete_stops_running_work_and_refuses_an_upload_still_arriving(
        live: tuple[LiveServer, dict[str, Account]]) -> None:
    server, acc = live
    alice = acc["alice"]
    data_dir = server.services.settings.data_dir
    with httpx.Client(base_url=server.url, timeout=60) as http:
        cid = http.post("/cases", json={"name": "Busy matter"}, headers=alice.headers).json()["id"]
        big = corpus("GeoTopo-komprimiert").read_bytes()
        resp = http.post(f"/cases/{cid}/documents", headers=alice.headers,
                         files=[("files", ("geotopo.pdf", big, "application/pdf"))])
        assert resp.status_code == 202
        doc_id = resp.json()["documents"][0]["id"]
        wait_for(lambda: http.get(f"/documents/{doc_id}", headers=alice.headers).json()["pages_done"] >= 1,
                 timeout=60, what="extraction under way")

        # a multipart upload whose body is still arriving when the case goes
        boundary = "webadmin-boundary"
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"late.txt\"\r\n"
                "Content-Type: text/plain\r\n\r\n").encode()
        release = threading.Event()
        sent_head = threading.Event()

        def body() -> Iterator[bytes]:
            yield head + b"late words " * 1000
            sent_head.set()
            release.wait(30)
            yield f"\r\n--{boundary}--\r\n".encode()

        answer: list[httpx.Response] = []

        def send() -> None:
            with httpx.Client(base_url=server.url, timeout=60) as other:
                answer.append(other.post(f"/cases/{cid}/documents", content=body(), headers={
                    **alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}))

        sender = threading.Thread(target=send)
        sender.start()
        assert sent_head.wait(30)
        wait_for(lambda: any((data_dir / "incoming").iterdir()), timeout=15, what="the late upload on disk")

        assert http.delete(f"/cases/{cid}", headers=alice.headers).status_code == 204
        release.set()
        sender.join(60)
        assert answer and answer[0].status_code == 404, answer
        assert answer[0].json()["code"] == "case_not_found"
        wait_for(lambda: server.call(lambda: server.services.pipeline.running) == 0, timeout=30,
                 what="the extraction stopped")
        assert not list((data_dir / "incoming").iterdir())
        assert not [p for p in (data_dir / "files").rglob("*") if p.is_file()]
        assert _rows(server, "SELECT COUNT(*) FROM documents") == 0
        assert _rows(server, "SELECT COUNT(*) FROM events WHERE stream IN (?, ?)", (f"case:{cid}",
                                                                                    f"document:{doc_id}")) == 0
        # the pipeline still serves everyone else
        kept = http.post("/cases", json={"name": "Next matter"}, headers=alice.headers).json()["id"]
        (new_id,) = _upload(http, alice, kept, {"next.txt": b"plain words of the next matter"})
        wait_for(lambda: http.get(f"/documents/{new_id}", headers=alice.headers).json()["status"] == "indexed",
                 timeout=60, what="a later document indexed")
