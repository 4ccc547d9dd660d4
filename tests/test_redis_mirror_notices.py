"""Case notices through the Redis mirror (lexintel/events/mirror_notices.py): two real LexIntel processes, one
real Redis, signed messages. A rename, a document's deletion and the case's deletion on instance A reach a client
of A's case stream connected to instance B live, with A's ids and bytes; afterwards the deleted case is unknown on
both instances and its history is gone from Redis (nobody can adopt it back). An unsigned notice is refused."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import redis

from tests.support import RedisServer, ServerProcess, read_stream, wait_for
from tests.test_redis_mirror import Reader, mirror_state, open_when_known, ready

SECRET = "a shared mirror secret of some length"


def signed_pair(server_factory: Callable[..., ServerProcess], redis_url: str) -> tuple[ServerProcess, ServerProcess]:
    env = {"LEXINTEL_REDIS_URL": redis_url, "LEXINTEL_REDIS_SECRET": SECRET}
    a = server_factory(LEXINTEL_INSTANCE_ID="instance-a", **env)
    b = server_factory(LEXINTEL_INSTANCE_ID="instance-b", **env)
    for s in (a, b):
        wait_for(lambda s=s: mirror_state(s) == "connected", timeout=30, what="mirror connected")  # type: ignore[misc]
    return a, b


def test_rename_and_deletes_on_a_reach_a_stream_on_b_live(
        server_factory: Callable[..., ServerProcess], redis_server: RedisServer) -> None:
    a, b = signed_pair(server_factory, redis_server.url)
    r = redis.Redis.from_url(redis_server.url)
    case_id = str(httpx.post(f"{a.url}/cases", json={"name": "Mirror v Notices"}, timeout=30).json()["id"])
    body = httpx.post(f"{a.url}/cases/{case_id}/documents", timeout=60, files=[
        ("files", ("keep.txt", b"The kept memo about the lease.\n" * 20, "text/plain")),
        ("files", ("drop.txt", b"The dropped memo about the fence.\n" * 20, "text/plain"))]).json()
    keep, drop = body["document_ids"]
    wait_for(lambda: all(httpx.get(f"{a.url}/documents/{d}", timeout=10).json()["status"] == "indexed"
                         for d in (keep, drop)), timeout=60, what="both documents indexed on A")
    case_path = f"/cases/{case_id}/stream"
    before = int(httpx.get(f"{a.url}/cases/{case_id}", timeout=10).json()["last_event_id"])
    wait_for(lambda: len(read_stream(b.url + case_path, until=lambda e: e.id == before, timeout=30)) > 0,
             timeout=30, what="A's case events on B")
    open_when_known(b.url + case_path)

    on_b = Reader(b.url + case_path, headers={"Last-Event-ID": str(before)})  # B's client, live from here
    on_a = Reader(a.url + case_path, headers={"Last-Event-ID": str(before)})  # A's own, to compare with
    on_b.start()
    on_a.start()
    assert httpx.patch(f"{a.url}/cases/{case_id}", json={"name": "Mirror v Notices (renamed)"},
                       timeout=30).status_code == 200
    wait_for(lambda: any(e.event == "case_renamed" for e in on_b.events), timeout=30, what="case_renamed on B")
    renamed = next(e for e in on_b.events if e.event == "case_renamed")
    assert renamed.id == before + 1
    assert isinstance(renamed.data, dict) and renamed.data["name"] == "Mirror v Notices (renamed)"
    assert renamed.data["previous_name"] == "Mirror v Notices" and "progress_percentage" not in renamed.data

    # a notice on the case's channel that no instance signed is dropped, and counted
    rejected = ready(b)["redis_mirror"]["rejected"]["unsigned"]
    forged = {"id": before + 2, "case_id": case_id, "name": "Forged", "previous_name": "x", "by": "mallory",
              "timestamp": "2026-01-01T00:00:00+00:00", "notice": "case_renamed", "terminal": False,
              "ids": {f"case:{case_id}": before + 2}, "instance_id": "instance-a", "closes": []}
    assert r.publish(f"case:{case_id}:notices", json.dumps(forged)) == 2
    wait_for(lambda: ready(b)["redis_mirror"]["rejected"]["unsigned"] == rejected + 1, timeout=10, what="refused")

    assert httpx.delete(f"{a.url}/documents/{drop}", timeout=30).status_code == 204
    wait_for(lambda: any(e.event == "deleted" for e in on_b.events), timeout=30, what="the document's deletion on B")
    assert not r.exists(f"lexintel:stream:document:{drop}")  # its history is gone from Redis too

    # resume on B from before the rename: both notices are in B's log, under A's ids
    resumed = read_stream(b.url + case_path, headers={"Last-Event-ID": str(before)},
                          until=lambda e: e.event == "deleted", timeout=30)
    assert [(e.id, e.event) for e in resumed] == [(before + 1, "case_renamed"), (before + 2, "deleted")]

    assert httpx.delete(f"{a.url}/cases/{case_id}", timeout=60).status_code == 204
    from_b, from_a = on_b.result(30), on_a.result(30)  # both streams end
    # (A's stream also brings A's own cases_changed notices, without ids: case lists are per instance)
    from_b, from_a = [e for e in from_b if e.id is not None], [e for e in from_a if e.id is not None]
    assert [(e.id, e.event, e.raw) for e in from_b] == [(e.id, e.event, e.raw) for e in from_a]
    assert [e.event for e in from_b] == ["case_renamed", "deleted", "case_deleted"]
    assert from_b[-1].id == before + 3 and isinstance(from_b[-1].data, dict)
    assert from_b[-1].data["name"] == "Mirror v Notices (renamed)"

    # gone everywhere: no instance serves the case stream, and Redis holds none of its history
    for server in (a, b):
        assert httpx.get(server.url + case_path, timeout=10).status_code == 404, server.url
    for stream in (f"case:{case_id}", f"document:{keep}", f"document:{drop}"):
        assert not r.exists(f"lexintel:stream:{stream}"), stream
    stats = ready(b)["redis_mirror"]
    assert stats["errors"] == 0 and stats["rejected"]["forged"] == 0
    r.close()
