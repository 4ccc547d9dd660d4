"""Signed Redis mirror messages and believed outside events (issue 13 item 13; lexintel/events/mirror_signing.py).

Two real ``lexintel serve`` processes share a real redis-server with ``LEXINTEL_REDIS_SECRET`` set. A document
indexed on A reaches B (signed messages verify); then anyone with ``PUBLISH`` tries to forge its stream: an
instance-shaped message without a signature, one with a wrong signature, an outside-worker ``error`` for the
document A owns, and an unsigned entry appended to a Redis log. All are dropped and counted
(``rejected`` in ``/ready``, ``lexintel_redis_mirror_rejected_total`` in ``/metrics``); the document stays
``indexed`` and its stream unchanged on both instances. An outside worker's events for a document nobody owns
still arrive (the original design's workers), and are refused when outside events are off.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from lexintel.events.mirror_signing import sign, verify
from lexintel.settings import Settings, SettingsError
from tests.support import RedisServer, ServerProcess, read_stream, scrape_metrics, wait_for

ServerFactory = Callable[..., ServerProcess]
SECRET = "a-shared-secret-of-32-characters"


def ready(server: ServerProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(server.url + "/ready", timeout=10).json()["redis_mirror"]
    return body


def mirrored(server_factory: ServerFactory, redis_url: str, name: str, **env: str) -> ServerProcess:
    server = server_factory(LEXINTEL_REDIS_URL=redis_url, LEXINTEL_INSTANCE_ID=name, **env)
    wait_for(lambda: ready(server)["state"] == "connected", timeout=30, what="mirror connected")
    return server


def logged(server: ServerProcess, stream: str) -> list[str]:
    """The durable log of ``stream`` as the instance stored it (a replay stops at the first terminal event, so
    an event forged after it would not show on the stream itself)."""
    conn = sqlite3.connect(f"file:{server.data_dir / 'lexintel.db'}?mode=ro", uri=True, timeout=30)
    try:
        return [str(row[0]) for row in conn.execute("SELECT data FROM events WHERE stream = ? ORDER BY id", (stream,))]
    finally:
        conn.close()


def indexed_document(server: ServerProcess) -> str:
    case = httpx.post(server.url + "/cases", json={"name": "Signed"}, timeout=30).json()["id"]
    up = httpx.post(f"{server.url}/cases/{case}/documents", files=[("files", ("memo.txt", b"signed mirror memo"))],
                    timeout=30)
    assert up.status_code == 202, up.text
    doc = str(up.json()["document_ids"][0])
    wait_for(lambda: httpx.get(f"{server.url}/documents/{doc}", timeout=10).json()["status"] == "indexed",
             timeout=60, what="indexed")
    return doc


def test_sign_and_verify_bind_the_stream_and_every_byte() -> None:
    key = SECRET.encode()
    payload = json.dumps({"id": 3, "status": "processing", "instance_id": "a"}, separators=(",", ":"))
    signed = sign(key, "document:d1", payload)
    assert json.loads(signed)["sig"] == hmac.new(key, b"document:d1\n" + payload.encode(), hashlib.sha256).hexdigest()
    assert verify(key, "document:d1", signed.encode()) == payload.encode()
    assert verify(key, "document:d2", signed.encode()) is None  # replayed onto another stream
    assert verify(b"another key of 32 characters....", "document:d1", signed.encode()) is None
    assert verify(key, "document:d1", signed.replace('"a"', '"b"').encode()) is None  # another instance id
    assert verify(key, "document:d1", payload.encode()) is None


def test_forged_messages_are_dropped_and_outside_workers_still_work(server_factory: ServerFactory,
                                                                    redis_server: RedisServer) -> None:
    env = {"LEXINTEL_REDIS_SECRET": SECRET, "LEXINTEL_UNKNOWN_STREAM_WAIT": "0"}
    a = mirrored(server_factory, redis_server.url, "instance-a", **env)
    b = mirrored(server_factory, redis_server.url, "instance-b", **env)
    doc = indexed_document(a)
    path = f"/progress/documents/{doc}/stream?events=named"
    wait_for(lambda: httpx.get(b.url + path, timeout=10).status_code == 200, timeout=30, what="B knows A's document")
    before = {s.url: [(e.id, e.raw) for e in read_stream(s.url + path)] for s in (a, b)}
    assert before[a.url] == before[b.url] and before[a.url][-1][1].find('"completed"') > 0  # signed: B verified
    last = before[a.url][-1][0]
    assert last is not None
    log_before = {s.url: logged(s, f"document:{doc}") for s in (a, b)}
    assert len(log_before[a.url]) == len(log_before[b.url]) == last

    r = redis.Redis.from_url(redis_server.url)
    channel = f"document:{doc}:progress"
    forged = {"id": last + 1, "document_id": doc, "status": "failed", "stage": "failed", "step": "failed",
              "progress": 100, "message": "forged", "error": {"code": "forged", "detail": "forged"},
              "instance_id": "instance-z", "ids": {f"document:{doc}": last + 1}, "terminal": True}
    assert r.publish(channel, json.dumps(forged, separators=(",", ":"))) == 2  # unsigned
    wrong = sign(b"not the secret, but 32 chars long", f"document:{doc}", json.dumps(forged, separators=(",", ":")))
    assert r.publish(channel, wrong) == 2  # signed with another key
    outside = {"document_id": doc, "status": "failed", "step": "extraction", "progress": 30, "message": "forged",
               "error": "forged error on an indexed document"}
    assert r.publish(channel, json.dumps(outside)) == 2  # an outside worker's shape, for a document A owns
    r.xadd("lexintel:stream:document:planted", {"e": json.dumps({**forged, "document_id": "planted",
                                                                   "ids": {"document:planted": 1}})})

    def rejected(s: ServerProcess) -> dict[str, int]:
        counts: dict[str, int] = ready(s)["rejected"]
        return counts

    for s in (a, b):
        wait_for(lambda s=s: (lambda c: c["unsigned"] >= 1 and c["forged"] >= 1 and c["outside_owned"] >= 1)(  # type: ignore[misc]
            rejected(s)), timeout=20, what="forgeries counted")
        assert [(e.id, e.raw) for e in read_stream(s.url + path)] == before[a.url]
        assert logged(s, f"document:{doc}") == log_before[s.url]  # nothing appended to the durable log
    assert httpx.get(f"{a.url}/documents/{doc}", timeout=10).json()["status"] == "indexed"
    # a log entry planted in Redis is not adopted: the stream is unknown (404), the entry counted
    assert httpx.get(b.url + "/progress/documents/planted/stream", timeout=10).status_code == 404
    assert rejected(b)["unsigned"] >= 2
    metrics = scrape_metrics(b.url)
    assert any(k.startswith("lexintel_redis_mirror_rejected_total") and 'reason="forged"' in k and v >= 1
               for k, v in metrics.items()), [k for k in metrics if "rejected" in k]
    assert "dropped messages nobody may send" in b.log()
    assert "LEXINTEL_REDIS_SECRET is not set" not in b.log()

    # the original design's outside worker, for a document no instance owns: still believed, on both
    for progress, status in ((40, "processing"), (100, "completed")):
        r.publish("document:outside-1:progress", json.dumps({"document_id": "outside-1", "status": status,
                                                             "step": "extraction", "progress": progress,
                                                             "message": f"{progress}%"}))
    for s in (a, b):
        events = read_stream(s.url + "/progress/documents/outside-1/stream?events=named", timeout=30)
        assert [e.event for e in events] == ["progress", "complete"]
    r.close()


@pytest.mark.parametrize("secret", [False, True])
def test_outside_events_are_refused_when_off(server_factory: ServerFactory, redis_server: RedisServer,
                                             secret: bool) -> None:
    env = {"LEXINTEL_ACCEPT_OUTSIDE_EVENTS": "0", **({"LEXINTEL_REDIS_SECRET": SECRET} if secret else {})}
    server = mirrored(server_factory, redis_server.url, "instance-c", **env)
    r = redis.Redis.from_url(redis_server.url)
    assert r.publish("document:ext-9:progress", json.dumps({"document_id": "ext-9", "status": "completed",
                                                            "step": "done", "progress": 100})) == 1
    wait_for(lambda: ready(server)["rejected"]["outside_disabled"] == 1, timeout=20, what="refusal counted")
    assert httpx.get(server.url + "/progress/documents/ext-9/stream", timeout=10).status_code == 404
    assert ("LEXINTEL_REDIS_SECRET is not set" in server.log()) is not secret  # warned at start without one
    r.close()


@pytest.mark.parametrize(("name", "value"), [("LEXINTEL_REDIS_SECRET", "too short"),
                                             ("LEXINTEL_MAX_STREAMS_PER_USER", "-1"),
                                             ("LEXINTEL_MAX_PENDING_PER_ADDRESS", "-5")])
def test_bad_limit_settings_are_refused_by_name(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
    assert SECRET not in repr(Settings(redis_secret=SECRET))  # never printed with the settings
