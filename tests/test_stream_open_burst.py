"""Stream opens in a burst on an instance that knows its subjects only through Redis (issue 18, item 3).

Before: with more than redis-py's pool size of opens in flight, the history read failed with "Too many
connections", which was taken for "unknown subject": a 404 at once for a stream whose history was in Redis.
Now history reads queue for one of a few connections, concurrent opens of one stream share one read, and a
Redis that cannot be read answers 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

import httpx
import redis

from tests.support import RedisServer, ServerProcess, wait_for

DOCUMENTS = 160
OPENS = 320  # two per document, all in flight together, plus a case stream each time


def ready(server: ServerProcess) -> dict[str, object]:
    body: dict[str, object] = httpx.get(server.url + "/ready", timeout=10).json()["redis_mirror"]
    return body


async def status_of(port: int, path: str) -> int:
    """Open ``path`` on a raw socket and return the response's status code (the body is not read)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 120)
        return int(line.split()[1])
    finally:
        writer.close()


async def open_all(port: int, paths: list[str]) -> list[int]:
    return list(await asyncio.gather(*(status_of(port, p) for p in paths)))


def test_a_burst_of_opens_for_subjects_known_only_through_redis_never_404s(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    a = server_factory(LEXINTEL_REDIS_URL=redis_server.url, LEXINTEL_INSTANCE_ID="origin")
    wait_for(lambda: ready(a)["state"] == "connected", timeout=30, what="mirror connected")
    case_id = httpx.post(a.url + "/cases", json={"name": "Burst v Pool"}, timeout=30).json()["id"]
    files = [("files", (f"note-{i}.txt", f"Note {i}: the limitation period runs.\n".encode()))
             for i in range(DOCUMENTS)]
    resp = httpx.post(f"{a.url}/cases/{case_id}/documents", files=files, timeout=120)
    assert resp.status_code == 202, resp.text
    doc_ids = resp.json()["document_ids"]

    def all_indexed() -> bool:
        counts = httpx.get(f"{a.url}/cases/{case_id}", timeout=10).json()["documents_by_status"]
        return int(counts.get("indexed", 0)) == DOCUMENTS

    wait_for(all_indexed, timeout=180, what="documents indexed on A")
    wait_for(lambda: int(ready(a)["queued"]) == 0, timeout=30, what="A's events in Redis")  # type: ignore[call-overload]

    # B starts now: it has none of these rows and saw none of their events; each open must read the subject's
    # history from Redis (unknown ids are a 404 at once here: outside events are off, nothing to wait for).
    b = server_factory(LEXINTEL_REDIS_URL=redis_server.url, LEXINTEL_INSTANCE_ID="burst",
                       LEXINTEL_ACCEPT_OUTSIDE_EVENTS="0",
                       # a busy machine must not turn this into a test of the header guard (408s)
                       LEXINTEL_HEADER_TIMEOUT="120", LEXINTEL_MAX_PENDING_CONNECTIONS="2000",
                           LEXINTEL_MAX_PENDING_PER_ADDRESS="0")  # all 322 come from one address at once
    wait_for(lambda: ready(b)["state"] == "connected", timeout=30, what="mirror connected")
    paths = [f"/progress/documents/{doc_ids[i % DOCUMENTS]}/stream" for i in range(OPENS)]
    paths += [f"/batches/{resp.json()['batch_id']}/stream", f"/progress/documents/never-published-{DOCUMENTS}/stream"]
    statuses = asyncio.run(open_all(b.port, paths))
    # A 503 says "Redis could not be read in time, retry after 2 s" (an overloaded machine can make a queued
    # history read wait that long); clients do retry, once, as EventSource users would. A 404 is final.
    again = [i for i, status in enumerate(statuses) if status == 503]
    if again:
        time.sleep(2)
        for i, status in zip(again, asyncio.run(open_all(b.port, [paths[i] for i in again])), strict=True):
            statuses[i] = status
    # finished documents replay and close: 200 for every known subject, and only the unknown id is a 404
    assert Counter(statuses[:-1]) == Counter({200: OPENS + 1}), Counter(statuses[:-1])
    assert statuses[-1] == 404
    clients = redis.Redis.from_url(redis_server.url).info("clients")["connected_clients"]
    # A: pub/sub + commands; B: pub/sub + commands + at most 8 for history reads; this test's own connection
    assert clients <= 14, clients


def test_stream_open_while_redis_is_unreachable_is_503_with_retry_after(
    server_factory: Callable[..., ServerProcess], redis_server: RedisServer
) -> None:
    b = server_factory(LEXINTEL_REDIS_URL=redis_server.url, LEXINTEL_INSTANCE_ID="alone")
    wait_for(lambda: ready(b)["state"] == "connected", timeout=30, what="mirror connected")
    case_id = httpx.post(b.url + "/cases", json={"name": "Local v Down"}, timeout=30).json()["id"]
    redis_server.stop()
    wait_for(lambda: ready(b)["state"] == "down", timeout=30, what="mirror down")
    # an id this instance does not have: it may exist on another instance, which cannot be asked now
    resp = httpx.get(b.url + "/progress/documents/someone-elses/stream", timeout=10)
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == "2" and resp.json()["code"] == "mirror_unavailable"
    # its own subjects are served from its own log, Redis or not
    with httpx.stream("GET", f"{b.url}/cases/{case_id}/stream", timeout=10) as own:
        assert own.status_code == 200
