"""Live progress over real HTTP: ordered fan-out, exact resume, late joiners, bounded slow clients, cleanup."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexintel.events.model import ProgressEvent
from lexintel.settings import Settings
from tests.live_server import LiveServer
from tests.support import SSEEvent, corpus, iter_sse, read_stream, wait_for
from tests.support.pdfs import make_pdf, slow_pdf, text_page


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(Settings(data_dir=tmp_path / "data", extraction_workers=2, progress_interval=0.0,
                                 ping_interval=0.5, subscriber_queue=32, shutdown_grace=0)).start()
    yield server
    server.stop()


def create_case(live: LiveServer) -> str:
    return str(httpx.post(f"{live.url}/cases", json={"name": "Streams"}).json()["id"])


def upload(live: LiveServer, case_id: str, *paths: Path) -> list[str]:
    files = [("files", (p.name, p.read_bytes())) for p in paths]
    resp = httpx.post(f"{live.url}/cases/{case_id}/documents", files=files, timeout=30)
    assert resp.status_code == 202, resp.text
    return list(resp.json()["document_ids"])


def logged_ids(live: LiveServer, stream: str) -> list[int]:
    return live.call(lambda: [e.id for e in live.services.events.after(stream, 0, 100_000)])


def test_many_clients_racing_replay_and_live_each_get_an_exact_contiguous_sequence(live: LiveServer) -> None:
    case_id = create_case(live)
    big = corpus("GeoTopo")  # 117 pages: a few dozen events while clients come and go
    doc_id = upload(live, case_id, big)[0]
    url = f"{live.url}/progress/documents/{doc_id}/stream?events=named"

    def client(n: int) -> tuple[int | None, list[SSEEvent]]:
        # Not synchronisation: joining at a random moment is the point (some replay, some live, some both).
        time.sleep(random.uniform(0, 2.5))
        cursor = None
        if n % 2:
            current = httpx.get(f"{live.url}/documents/{doc_id}/status").json()["last_event_id"]
            cursor = random.randint(0, current)
        headers = {"Last-Event-ID": str(cursor)} if cursor is not None else None
        return cursor, read_stream(url, headers=headers)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(client, range(16)))
    full = logged_ids(live, f"document:{doc_id}")
    assert full == list(range(1, len(full) + 1)) and len(full) >= 8
    for cursor, events in results:
        start = 0 if cursor is None else cursor
        assert [e.id for e in events] == full[start:], f"cursor {cursor}"
        assert events[-1].event == "complete" and events[-1].data["status"] == "completed"
        assert all(e.event == "progress" for e in events[:-1])
        progress = [e.data["progress"] for e in events]
        assert progress == sorted(progress)


def test_a_dropped_client_resumes_with_last_event_id_exactly(live: LiveServer) -> None:
    case_id = create_case(live)
    doc_id = upload(live, case_id, corpus("GeoTopo"))[0]
    url = f"{live.url}/progress/documents/{doc_id}/stream?events=named"
    first = read_stream(url, until=lambda e: e.id == 7)  # drop after event 7
    assert [e.id for e in first] == list(range(1, 8))
    rest = read_stream(url, headers={"Last-Event-ID": "7"})
    complete = read_stream(url)  # a late joiner: the whole history, then closes
    assert [e.raw for e in first + rest] == [e.raw for e in complete]
    assert rest[0].id == 8 and complete[-1].event == "complete"
    # query-parameter form for clients that cannot set headers
    middle = complete[len(complete) // 2].id  # event counts depend on machine speed: pick a position
    via_query = read_stream(url + f"&last_event_id={middle}")
    assert [e.id for e in via_query] == [e.id for e in complete][middle:]
    # the client already has the terminal event: 204 stops EventSource from reconnecting
    last = complete[-1].id
    assert httpx.get(url, headers={"Last-Event-ID": str(last)}).status_code == 204
    # garbage cursor: 400 JSON
    bad = httpx.get(url, headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_last_event_id"


def test_cursor_beyond_the_log_gets_a_reset_event_with_the_current_state(live: LiveServer) -> None:
    case_id = create_case(live)
    doc_id = upload(live, case_id, corpus("minimal-document"))[0]
    url = f"{live.url}/progress/documents/{doc_id}/stream?events=named"
    wait_for(lambda: httpx.get(f"{live.url}/documents/{doc_id}/status").json()["status"] == "indexed")
    case_url = f"{live.url}/cases/{case_id}/stream"
    events = read_stream(case_url, headers={"Last-Event-ID": "999999"}, until=lambda e: True)
    assert events[0].event == "reset" and events[0].data["status"] == "completed"
    assert events[0].id == logged_ids(live, f"case:{case_id}")[-1]
    assert httpx.get(url).status_code == 200


def test_sse_framing_headers_retry_and_pings(live: LiveServer) -> None:
    case_id = create_case(live)
    with httpx.stream("GET", f"{live.url}/cases/{case_id}/stream", timeout=10) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["cache-control"] == "no-cache"
        assert resp.headers["x-accel-buffering"] == "no"
        assert "keep-alive" not in resp.headers.get("connection", "").lower()
        items = iter_sse(resp.iter_lines())
        assert next(items) == "retry:3000"
        assert next(items) == ": ping"  # idle case stream: a comment every ping_interval (0.5 s here)


def test_case_stream_multiplexes_documents_and_stays_open(live: LiveServer) -> None:
    case_id = create_case(live)
    pdfs = [make_pdf([text_page(f"Document {n} page {p}") for p in range(1, 4)]) for n in range(3)]
    paths = []
    for n, data in enumerate(pdfs):
        path = live.services.settings.data_dir.parent / f"doc{n}.pdf"
        path.write_bytes(data)
        paths.append(path)
    ids = upload(live, case_id, *paths)  # several files: one batch
    done: set[str] = set()
    batch_done = False
    seen: list[SSEEvent] = []
    pings = 0
    deadline = time.monotonic() + 60
    with httpx.stream("GET", f"{live.url}/cases/{case_id}/stream", timeout=60) as resp:
        for item in iter_sse(resp.iter_lines()):
            assert time.monotonic() < deadline, "case stream did not deliver every document in time"
            if isinstance(item, SSEEvent):
                seen.append(item)
                if item.data["stage"] == "completed":
                    if item.data["document_id"] is None:
                        batch_done = True
                    else:
                        done.add(item.data["document_id"])
            elif item == ": ping" and done == set(ids) and batch_done:
                pings += 1
                if pings == 2:
                    break  # still open after every document and the batch finished
    assert done == set(ids)
    assert [e.id for e in seen] == list(range(1, len(seen) + 1))
    assert {e.data["document_id"] for e in seen} == {*ids, None}  # documents, and the batch's own events
    assert {e.data["batch_id"] for e in seen} == {seen[0].data["batch_id"]} != {None}
    assert all(e.event == "progress" for e in seen)  # a case stream never ends on one document


def test_disconnects_leave_no_subscribers(live: LiveServer) -> None:
    case_id = create_case(live)
    slow = live.services.settings.data_dir.parent / "slow.pdf"
    slow.write_bytes(slow_pdf(600_000))  # stays in extraction while clients come and go
    doc_id = upload(live, case_id, slow)[0]
    urls = [f"{live.url}/cases/{case_id}/stream", f"{live.url}/progress/documents/{doc_id}/stream?events=named"]
    clients = []
    for i in range(20):
        cm = httpx.stream("GET", urls[i % 2], timeout=30)
        lines = cm.__enter__().iter_lines()  # keep the iterator: dropping it closes the response
        next(lines)
        clients.append((cm, lines))
    assert wait_for(lambda: live.services.broadcaster.subscriber_count() == 20, timeout=10)
    for cm, _ in clients:
        cm.__exit__(None, None, None)
    # and a few that vanish right after connecting, mid-replay
    for _ in range(5):
        with httpx.stream("GET", urls[1], headers={"Last-Event-ID": "0"}, timeout=30) as resp:
            next(resp.iter_lines())
    wait_for(lambda: live.services.broadcaster.subscriber_count() == 0, timeout=15, what="all subscribers released")
    assert live.services.broadcaster.stream_count() == 0


def test_a_client_that_never_reads_stays_bounded_and_is_cut_loose(live: LiveServer) -> None:
    case_id = create_case(live)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", live.port))
    sock.sendall(f"GET /cases/{case_id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    wait_for(lambda: live.services.broadcaster.subscriber_count(f"case:{case_id}") == 1, timeout=10)
    sub = next(iter(live.call(lambda: live.services.broadcaster._streams[f"case:{case_id}"])))
    max_len = 0

    def flood() -> None:
        nonlocal max_len
        emit = live.services.emitter.emit
        for i in range(3000):  # 3,000 real events of 3,000 distinct documents: nothing to coalesce
            emit(ProgressEvent(case_id=case_id, status="processing", stage="extracting", progress=1, batch_id=None,
                               document_id=f"doc-{i}", message="x" * 200))
            max_len = max(max_len, len(sub))

    live.call(flood)
    assert max_len <= 2 * sub.max_frames  # memory per client is bounded by its queue
    assert sub.closed_reason == "lagging"
    assert live.services.broadcaster.stats.dropped_lagging >= 1
    sock.close()
    wait_for(lambda: live.services.broadcaster.subscriber_count() == 0, timeout=15, what="lagging client released")
    # a well-behaved client is unaffected and can resume from the durable log
    events = read_stream(f"{live.url}/cases/{case_id}/stream", headers={"Last-Event-ID": "2990"},
                         until=lambda e: e.id == 3000)
    assert [e.id for e in events] == list(range(2991, 3001))


def test_shutdown_ends_open_streams_cleanly(tmp_path: Path) -> None:
    server = LiveServer(Settings(data_dir=tmp_path / "d", extraction_workers=1, ping_interval=0.5,
                                 shutdown_grace=0)).start()
    case_id = create_case(server)
    lines: list[Any] = []
    with httpx.stream("GET", f"{server.url}/cases/{case_id}/stream", timeout=10) as resp:
        it = resp.iter_lines()
        lines.append(next(it))
        server.stop()
        lines.extend(it)  # ends instead of hanging
    assert any("closed (shutdown)" in str(line) for line in lines)
    assert not server.thread.is_alive()
