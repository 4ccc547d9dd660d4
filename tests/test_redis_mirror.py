"""The Redis mirror: two real LexIntel processes share one real Redis.

Every stream on instance B that is about instance A's document carries A's events under A's ids (so a
Last-Event-ID from either instance resumes on the other), outside workers publishing the original design's JSON
reach the streams, and Redis going away never stops local streams; the mirror comes back by itself.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from lexintel.events.foreign import stage_for
from tests.support import RedisServer, ServerProcess, SSEEvent, corpus, iter_sse, read_stream, wait_for

BIG = "GeoTopo-komprimiert"  # 117 pages: processing takes long enough to watch it live


def new_case(server: ServerProcess) -> str:
    resp = httpx.post(server.url + "/cases", json={"name": "Mirror v Redis"}, timeout=30)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def upload(server: ServerProcess, case_id: str, *names: str) -> dict[str, Any]:
    files = [("files", (corpus(n).name, corpus(n).read_bytes())) for n in names]
    resp = httpx.post(f"{server.url}/cases/{case_id}/documents", files=files, timeout=60)
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


def ready(server: ServerProcess) -> dict[str, Any]:
    resp = httpx.get(server.url + "/ready", timeout=10)
    assert resp.status_code == 200, resp.text  # optional Redis never makes an instance unready
    body: dict[str, Any] = resp.json()
    return body


def mirror_state(server: ServerProcess) -> str:
    return str(ready(server)["redis_mirror"]["state"])


def open_when_known(url: str, timeout: float = 30) -> None:
    """Wait until an instance accepts a stream (B learns of A's subject through Redis)."""

    def known() -> bool:
        with httpx.stream("GET", url, timeout=10) as resp:  # status only: do not read the (endless) body
            return resp.status_code == 200

    wait_for(known, timeout=timeout, what=f"{url} known")


class Reader(threading.Thread):
    """Read one SSE stream in the background until it closes (or ``until`` says stop)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None,
                 until: Callable[[SSEEvent], bool] | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.until = url, headers, until
        self.events: list[SSEEvent] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=120) as resp:
                assert resp.status_code == 200, resp.read()
                for item in iter_sse(resp.iter_lines()):
                    if isinstance(item, SSEEvent):
                        self.events.append(item)  # visible to the test as they arrive
                        if self.until is not None and self.until(item):
                            break
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float = 180) -> list[SSEEvent]:
        self.join(timeout)
        assert not self.is_alive(), f"stream {self.url} did not end"
        assert self.error is None, self.error
        return self.events


def pair(server_factory: Callable[..., ServerProcess], redis_url: str) -> tuple[ServerProcess, ServerProcess]:
    a = server_factory(LEXINTEL_REDIS_URL=redis_url, LEXINTEL_INSTANCE_ID="instance-a")
    b = server_factory(LEXINTEL_REDIS_URL=redis_url, LEXINTEL_INSTANCE_ID="instance-b")
    for s in (a, b):
        wait_for(lambda s=s: mirror_state(s) == "connected", timeout=30, what="mirror connected")  # type: ignore[misc]
    return a, b


def test_upload_on_a_stream_live_from_b_same_ids_and_resume(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    a, b = pair(server_factory, redis_server.url)
    case_id = new_case(a)
    body = upload(a, case_id, BIG, "pdflatex-4-pages")
    batch_id = body["batch_id"]
    doc_id = body["document_ids"][0]
    doc_path = f"/progress/documents/{doc_id}/stream?events=named"

    # B has no row for A's document: it learns of it through Redis, then follows it live.
    open_when_known(b.url + doc_path)
    live_b = Reader(b.url + doc_path)
    live_b.start()
    batch_b = Reader(f"{b.url}/batches/{batch_id}/stream")
    batch_b.start()
    from_b = live_b.result()
    from_a = read_stream(a.url + doc_path)  # A's own full replay after the fact
    assert from_b[-1].event == "complete" and from_b[-1].data["status"] == "completed"  # type: ignore[index]
    extracting = [e for e in from_b if e.data["stage"] == "extracting"]  # type: ignore[index]
    assert len(extracting) >= 3  # page progress in steps (how many depends on the machine's speed)
    # every event, in order, under the same ids and with the same JSON as on the origin
    assert [(e.id, e.event, e.raw) for e in from_b] == [(e.id, e.event, e.raw) for e in from_a]
    assert [e.id for e in from_b] == list(range(1, len(from_b) + 1))

    batch_events = batch_b.result()
    assert batch_events[-1].event == "complete"
    batch_a = read_stream(f"{a.url}/batches/{batch_id}/stream")
    assert [(e.id, e.raw) for e in batch_events] == [(e.id, e.raw) for e in batch_a]
    # the case stream (never closes) on B has A's case events under A's ids
    case_last = httpx.get(f"{a.url}/cases/{case_id}", timeout=10).json()["last_event_id"]
    assert case_last >= len(from_a)
    case_a = read_stream(f"{a.url}/cases/{case_id}/stream", until=lambda e: e.id == case_last, timeout=30)
    case_b = read_stream(f"{b.url}/cases/{case_id}/stream", until=lambda e: e.id == case_last, timeout=30)
    assert [(e.id, e.raw) for e in case_b] == [(e.id, e.raw) for e in case_a]

    # resume on B with a Last-Event-ID (as if the client had been on A): exactly the events after it
    middle = from_a[len(from_a) // 2].id
    assert middle is not None
    resumed = read_stream(b.url + doc_path, headers={"Last-Event-ID": str(middle)})
    assert [(e.id, e.raw) for e in resumed] == [(e.id, e.raw) for e in from_a if e.id and e.id > middle]
    # a cursor already at the terminal event: 204, so EventSource stops reconnecting
    last = httpx.get(b.url + doc_path, headers={"Last-Event-ID": str(from_a[-1].id)}, timeout=10)
    assert last.status_code == 204

    # unknown on every instance and in Redis: an outside worker may still publish it (AUTH=off accepts outside
    # events), so the stream waits with pings instead of a 404 (the 404 case: tests/test_seed_redis.py)
    with httpx.stream("GET", b.url + "/progress/documents/no-such-document/stream", timeout=10) as missing:
        assert missing.status_code == 200
        items = iter_sse(missing.iter_lines())
        assert next(items) == "retry:3000" and next(items) == ": ping"

    stats = ready(b)["redis_mirror"]
    assert stats["received"] >= len(from_b) and stats["dropped"] == 0
    assert ready(a)["redis_mirror"]["published"] >= len(from_a)


def test_outside_worker_events_in_original_shape_reach_streams(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    a, b = pair(server_factory, redis_server.url)
    r = redis.Redis.from_url(redis_server.url)
    doc_id = "abc-123"
    channel = f"document:{doc_id}:progress"

    def publish(status: str, step: str, progress: int, message: str, **extra: Any) -> None:
        event = {"document_id": doc_id, "status": status, "step": step, "progress": progress, "message": message,
                 "timestamp": "2026-01-03T10:30:45.123456", **extra}
        assert r.publish(channel, json.dumps(event)) == 2  # both instances are subscribed

    publish("processing", "extraction", 10, "Extracting text from document.pdf...")
    for s in (a, b):
        open_when_known(s.url + f"/progress/documents/{doc_id}/stream?events=named")
    readers = [Reader(s.url + f"/progress/documents/{doc_id}/stream?events=named") for s in (a, b)]
    for reader in readers:
        reader.start()
    wait_for(lambda: all(len(reader.events) == 1 for reader in readers), timeout=30, what="first event")
    publish("processing", "EXTRACTED", 50, "Text extracted")
    publish("processing", "embedding", 80, "Creating embeddings")
    publish("completed", "completed", 100, "Done")
    for reader in readers:
        events = reader.result(60)
        assert [e.id for e in events] == [1, 2, 3, 4]
        assert [e.event for e in events] == ["progress", "progress", "progress", "complete"]
        data = [e.data for e in events]
        assert all(isinstance(d, dict) for d in data)
        assert [d["stage"] for d in data] == ["extracting", "extracting", "embedding", "completed"]  # type: ignore[index]
        assert [d["step"] for d in data] == ["extraction", "EXTRACTED", "embedding", "completed"]  # type: ignore[index]
        assert [d["progress"] for d in data] == [10, 50, 80, 100]  # type: ignore[index]
        assert data[0]["message"] == "Extracting text from document.pdf..."  # type: ignore[index]
        assert data[-1]["status"] == "completed" and data[-1]["document_id"] == doc_id  # type: ignore[index]

    # a failure with an error string ends another document's stream with `error`; progress 100 alone ends one too
    outcomes: list[tuple[str, list[dict[str, Any]]]] = [
        ("def-456", [{"status": "failed", "step": "extraction", "progress": 30, "message": "Extraction failed",
                      "error": "encrypted PDF"}]),
        ("ghi-789", [{"status": "processing", "step": "indexing", "progress": 100, "message": "Indexed"}]),
    ]
    for other, outside_events in outcomes:
        for event in outside_events:
            r.publish(f"document:{other}:progress", json.dumps({"document_id": other, **event}))
        open_when_known(b.url + f"/progress/documents/{other}/stream?events=named")
        got = read_stream(b.url + f"/progress/documents/{other}/stream?events=named", timeout=30)
        assert len(got) == 1 and isinstance(got[0].data, dict)
        if other == "def-456":
            assert got[0].event == "error" and got[0].data["status"] == "failed"
            assert got[0].data["error"] == {"code": "worker_failed", "detail": "encrypted PDF"}
        else:
            assert got[0].event == "complete" and got[0].data["status"] == "completed"

    # junk on a progress channel is counted and dropped; the mirror keeps working
    r.publish(channel, b"not json")
    r.publish("document:x:progress", json.dumps({"status": "exploded"}))
    wait_for(lambda: ready(b)["redis_mirror"]["errors"] >= 2, timeout=10, what="bad messages counted")
    assert mirror_state(b) == "connected"
    r.close()


def test_lost_pubsub_message_is_filled_from_the_redis_log_in_order(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    """A third instance ("z", played by this test through redis-py) publishes in the mirror's format; one of its
    messages never arrives on pub/sub, but it is in the subject's Redis log: B delivers it before the next one."""
    b = server_factory(LEXINTEL_REDIS_URL=redis_server.url)
    wait_for(lambda: mirror_state(b) == "connected", timeout=30, what="mirror connected")
    r = redis.Redis.from_url(redis_server.url)
    doc, case = "zdoc-1", "zcase-1"

    def event(n: int, terminal: bool = False) -> str:
        return json.dumps({"id": n, "document_id": doc, "batch_id": None, "case_id": case,
                           "status": "completed" if terminal else "processing", "stage": "extracting",
                           "step": "extracting", "progress": n * 10, "message": f"step {n}", "run": 0,
                           "ids": {f"document:{doc}": n, f"case:{case}": 100 + n}, "terminal": terminal,
                           "instance_id": "instance-z"}, separators=(",", ":"))

    def log(n: int, terminal: bool = False) -> None:
        r.xadd(f"document:{doc}:progress:log", {"e": event(n, terminal)}, id=f"{n}-0")

    for n in (1, 2, 3):
        log(n)  # history from before B watched this document: only in the Redis log
    url = f"{b.url}/progress/documents/{doc}/stream?events=named"
    reader = Reader(url)
    reader.start()
    wait_for(lambda: len(reader.events) == 3, timeout=30, what="history replayed from the Redis log")
    log(4)  # published by z, but its pub/sub message is lost
    log(5)
    r.publish(f"document:{doc}:progress", event(5))
    log(6, terminal=True)
    r.publish(f"document:{doc}:progress", event(6, terminal=True))
    events = reader.result(60)
    assert [e.id for e in events] == [1, 2, 3, 4, 5, 6]  # z's ids, in order, the lost one included
    assert [e.event for e in events] == ["progress"] * 5 + ["complete"]
    assert all(isinstance(e.data, dict) and "instance_id" not in e.data and "ids" not in e.data for e in events)
    resumed = read_stream(url, headers={"Last-Event-ID": "2"})
    assert [e.id for e in resumed] == [3, 4, 5, 6]
    # the case stream on B got z's case ids for the live events (its own Redis log was never written here)
    case_events = read_stream(f"{b.url}/cases/{case}/stream", until=lambda e: e.id == 106, timeout=30)
    assert [e.id for e in case_events] == [105, 106]
    r.close()


def test_redis_down_mid_stream_local_streams_continue_and_mirror_recovers(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    a, b = pair(server_factory, redis_server.url)
    case_id = new_case(a)
    doc_id = upload(a, case_id, BIG)["document_ids"][0]
    path = f"/progress/documents/{doc_id}/stream?events=named"
    local = Reader(a.url + path)
    local.start()
    wait_for(lambda: len(local.events) >= 3, timeout=60, what="stream under way")

    redis_server.stop()  # mid-stream
    wait_for(lambda: mirror_state(a) == "down" and mirror_state(b) == "down", timeout=30, what="mirror down")
    events = local.result()  # the local stream carries on to the end without Redis
    assert events[-1].event == "complete"
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    down = ready(a)
    assert down["status"] == "ready" and down["redis_mirror"]["last_error"]

    redis_server.start()  # same port
    wait_for(lambda: mirror_state(a) == "connected" and mirror_state(b) == "connected", timeout=60,
             what="mirror reconnected")
    assert ready(a)["redis_mirror"]["reconnects"] >= 1 and ready(b)["redis_mirror"]["reconnects"] >= 1
    # one clear warning per outage, not one per retry
    assert a.log().count("Redis mirror: redis://") == 1, a.log()

    # and B sees A's new work again
    small = upload(a, case_id, "pdflatex-4-pages")["document_ids"][0]
    open_when_known(b.url + f"/progress/documents/{small}/stream?events=named")
    from_b = read_stream(b.url + f"/progress/documents/{small}/stream?events=named")
    assert from_b[-1].event == "complete"
    from_a = read_stream(a.url + f"/progress/documents/{small}/stream?events=named")
    assert [(e.id, e.raw) for e in from_b] == [(e.id, e.raw) for e in from_a]


def test_redis_down_at_start_instance_serves_and_connects_later(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    redis_server.stop()
    a = server_factory(LEXINTEL_REDIS_URL=redis_server.url)
    wait_for(lambda: mirror_state(a) == "down", timeout=30, what="mirror down")
    case_id = new_case(a)  # the instance works without Redis
    doc_id = upload(a, case_id, "pdflatex-4-pages")["document_ids"][0]
    events = read_stream(a.url + f"/progress/documents/{doc_id}/stream?events=named")
    assert events[-1].event == "complete"
    redis_server.start()
    wait_for(lambda: mirror_state(a) == "connected", timeout=60, what="mirror connected")
    assert a.log().count("Redis mirror: redis://") == 1, a.log()


def test_mirror_disabled_without_url(server: ServerProcess) -> None:
    assert ready(server)["redis_mirror"] == {"state": "disabled"}


@pytest.mark.parametrize(
    ("step", "status", "stage"),
    [("extraction", "processing", "extracting"), ("EXTRACTED", "processing", "extracting"),
     ("chunking", "processing", "chunking"), ("embedding", "processing", "embedding"),
     ("upload", "processing", "uploading"), ("anything", "completed", "completed"),
     ("extraction", "failed", "failed"), ("mystery", "processing", "extracting")],
)
def test_original_step_names_map_to_stages(step: str, status: str, stage: str) -> None:
    assert stage_for(step, status) == stage
