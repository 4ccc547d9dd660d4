"""The original design's Redis side against a real LexIntel process and a real redis-server.

``workers-and-redis.md`` (../shared/seed-clients/) is the contract: its curl-then-publish test (connect to a
document id nobody has published yet, then PUBLISH 10/25/50/75/100), its batch worker's ``BatchProgressEvent``
on ``batch:{id}:progress``, and its debugging commands (``redis-cli GET batch:{id}:progress:current``,
``LRANGE batch:{id}:progress:log 0 -1``) run here as documented.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import redis

from tests.support import RedisServer, ServerProcess, SSEEvent, corpus, iter_sse, read_stream, wait_for

SEED_PUBLISHES = [10, 25, 50, 75, 100]


def mirrored(server_factory: Callable[..., ServerProcess], redis_server: RedisServer, **env: str) -> ServerProcess:
    server = server_factory(LEXINTEL_REDIS_URL=redis_server.url, **env)

    def connected() -> bool:
        return bool(httpx.get(server.url + "/ready", timeout=10).json()["redis_mirror"]["state"] == "connected")

    wait_for(connected, timeout=30, what="mirror connected")
    return server


def redis_cli(redis_server: RedisServer, *args: str) -> str:
    """The documented debugging command, as an operator types it."""
    done = subprocess.run(["redis-cli", "-p", str(redis_server.port), *args], capture_output=True, text=True,
                          timeout=30, check=True)
    return done.stdout


def test_guides_curl_then_publish_test_sees_all_five_and_the_stream_ends(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    server = mirrored(server_factory, redis_server)
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    events: list[SSEEvent] = []
    comments: list[str] = []
    # Terminal 2 first: nothing has been published for test-doc yet
    with httpx.stream("GET", server.url + "/progress/documents/test-doc/stream", timeout=30) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        items = iter_sse(resp.iter_lines())
        assert next(items) == "retry:3000"
        assert next(items) == ": ping"  # waiting for an outside worker, not a 404
        # Terminal 3: the guide's Python shell (its sleep(1) between publishes only paces a human)
        for progress in SEED_PUBLISHES:
            receivers = r.publish("document:test-doc:progress", json.dumps({
                "document_id": "test-doc",
                "status": "processing",
                "step": "test",
                "progress": progress,
                "message": f"Test {progress}%",
                "timestamp": datetime.utcnow().isoformat(),
            }))
            assert receivers >= 1  # LexIntel's mirror is subscribed
        for item in items:  # ends when the server closes the stream after progress 100
            if isinstance(item, SSEEvent):
                events.append(item)
            else:
                comments.append(item)
    assert [e.data["progress"] for e in events] == SEED_PUBLISHES  # type: ignore[index]
    assert [e.data["message"] for e in events] == [f"Test {p}%" for p in SEED_PUBLISHES]  # type: ignore[index]
    assert all(e.event == "message" for e in events)  # unnamed: what EventSource.onmessage receives
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert events[-1].data["status"] == "completed"  # type: ignore[index]
    # a reconnect with the terminal id gets 204, so the browser stops
    again = httpx.get(server.url + "/progress/documents/test-doc/stream", headers={"Last-Event-ID": "5"})
    assert again.status_code == 204
    r.close()


def test_unknown_stream_is_404_when_outside_events_are_off(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    server = mirrored(server_factory, redis_server, LEXINTEL_ACCEPT_OUTSIDE_EVENTS="0")
    missing = httpx.get(server.url + "/progress/documents/test-doc/stream", timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "document_not_found"


def test_unknown_stream_wait_is_bounded(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    server = mirrored(server_factory, redis_server, LEXINTEL_UNKNOWN_STREAM_WAIT="2")
    with httpx.stream("GET", server.url + "/progress/documents/never-published/stream", timeout=30) as resp:
        assert resp.status_code == 200
        items = list(iter_sse(resp.iter_lines()))  # the server ends the stream: this returns
    assert ": ping" in items and not any(isinstance(i, SSEEvent) for i in items)
    assert any(isinstance(i, str) and i.startswith(": closed") for i in items)


def batch_of_two(server: ServerProcess) -> str:
    case = httpx.post(server.url + "/cases", json={"name": "Seed v Redis"}, timeout=30).json()["id"]
    files = [("files", (p.name, p.read_bytes())) for p in (corpus("minimal-document"), corpus("pdflatex-4-pages"))]
    resp = httpx.post(f"{server.url}/cases/{case}/documents", files=files, timeout=60)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["batch_id"])


def test_documented_redis_cli_commands_show_the_batch_in_the_original_shape(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    server = mirrored(server_factory, redis_server)
    batch_id = batch_of_two(server)
    events = read_stream(f"{server.url}/api/batches/{batch_id}/stream", timeout=120)
    own = [e for e in events if e.event in ("progress", "complete", "error")]
    assert own[-1].event == "complete" and {e.event for e in events} <= {"progress", "complete", "document"}
    assert all(isinstance(e.data, dict) and e.data["document_id"] is None for e in own)
    assert all(isinstance(e.data, dict) and e.data["document_id"] for e in events if e.event == "document")

    def logged() -> list[Any]:
        return [json.loads(line) for line in redis_cli(redis_server, "LRANGE", f"batch:{batch_id}:progress:log",
                                                       "0", "-1").splitlines() if line.strip()]

    wait_for(lambda: len(logged()) == len(own), timeout=30, what="the batch's log in Redis")
    log = logged()
    fields = ["stage", "message", "progress_percentage", "sheets_total", "sheets_processed", "elapsed_seconds",
              "timestamp", "error_details"]
    assert all(list(entry) == fields for entry in log)  # BatchProgressEvent, field for field
    assert [(x["stage"], x["message"]) for x in log] == [(e.data["stage"], e.data["message"])  # type: ignore[index]
                                                         for e in own]
    assert [x["progress_percentage"] for x in log] == [e.data["progress_percentage"]  # type: ignore[index]
                                                       for e in own]
    assert log[-1]["stage"] == "completed" and log[-1]["sheets_total"] == 2 == log[-1]["sheets_processed"]
    current = json.loads(redis_cli(redis_server, "GET", f"batch:{batch_id}:progress:current"))
    assert current == log[-1]
    for key, kind in ((f"batch:{batch_id}:progress:current", "string"), (f"batch:{batch_id}:progress:log", "list"),
                      (f"lexintel:stream:batch:{batch_id}", "stream")):
        assert redis_cli(redis_server, "TYPE", key).strip() == kind
        assert 0 < int(redis_cli(redis_server, "TTL", key)) <= 3600


def test_outside_batch_worker_events_show_on_the_batch_stream(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    server = mirrored(server_factory, redis_server)
    r = redis.Redis.from_url(redis_server.url, decode_responses=True)
    batch_id = "ob-1"

    def event(stage: str, pct: float, message: str, error: str | None = None) -> str:
        return json.dumps({"stage": stage, "message": message, "progress_percentage": pct, "sheets_total": 3,
                           "sheets_processed": int(pct * 3 // 100), "elapsed_seconds": 2,
                           "timestamp": datetime.now().isoformat(), "error_details": error})

    sent = [("extracting", 50.0, "Reading sheet 1"), ("extracting", 100.0, "Read 3 sheets"),
            ("indexing", 40.0, "Indexing"), ("completed", 100.0, "Done")]
    got: list[SSEEvent] = []
    with httpx.stream("GET", f"{server.url}/api/batches/{batch_id}/stream", timeout=30) as resp:
        assert resp.status_code == 200
        items = iter_sse(resp.iter_lines())
        assert next(items) == "retry:3000"
        for stage, pct, message in sent:
            assert r.publish(f"batch:{batch_id}:progress", event(stage, pct, message)) >= 1
        got = [i for i in items if isinstance(i, SSEEvent)]
    assert [e.event for e in got] == ["progress", "progress", "progress", "complete"]
    data = [e.data for e in got if isinstance(e.data, dict)]
    assert [(d["stage"], d["progress_percentage"], d["message"]) for d in data] == sent
    progress = [d["progress"] for d in data]
    assert progress == sorted(progress) and progress[-1] == 100
    assert all(d["batch_id"] == batch_id and d["error_details"] is None for d in data)

    # a failed batch: the error event carries error_details
    with httpx.stream("GET", f"{server.url}/api/batches/ob-2/stream", timeout=30) as resp:
        items = iter_sse(resp.iter_lines())
        assert next(items) == "retry:3000"
        r.publish("batch:ob-2:progress", event("failed", 0, "Could not open the workbook", "zip is corrupt"))
        failed = [i for i in items if isinstance(i, SSEEvent)]
    assert [e.event for e in failed] == ["error"]
    assert failed[0].data["error_details"] == "zip is corrupt"  # type: ignore[index]
    r.close()
