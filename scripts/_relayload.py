"""Issue 18's relay load, shared by ``scripts.bench_redis --relay`` for LexIntel and for the bare relay.

The load: N SSE clients on ``/progress/documents/{id}/stream``, N/10 documents (10 clients each), 20 events per
document at 10 events/s, published to Redis by an outside worker in the original design's JSON (so N x 10
deliveries/s). The publisher is a subprocess (``python -m scripts._relayload``, commands on stdin) so the load
client's loop only reads sockets. What is measured, the same way for both servers:

* latency = client receive time - the event's ``timestamp`` (set by the publisher just before ``PUBLISH``);
  p50/p99/max over every delivery of the paced phase (2N distinct events);
* delivered = paced frames received / (N x 20); non-200 answers to the stream request, by status;
* server CPU seconds (``/proc/<pid>/stat``, user + system) from the first paced event to the last delivery,
  and deliveries per server CPU-second;
* RSS per idle connection (after a warm-up, before vs with the N clients idle);
* for LexIntel, garbage collection during the phase from ``/metrics`` (``lexintel_gc_*``).
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scripts._benchlib import TS_KEY, event_epoch, percentile
from tests.support import SSEFrames, cpu_seconds, rss_kb

__all__ = ["LoadResult", "Publisher", "gc_snapshot", "run_relay_load"]

EVENTS_PER_DOC = 20
RATE = 10.0  # events/s per document


class Publisher:
    """The publishing subprocess's side: one sync Redis client, pipelined per 10 ms tick."""

    def __init__(self, redis_url: str) -> None:
        import redis

        self.r = redis.Redis.from_url(redis_url)

    @staticmethod
    def message(doc: str, k: int) -> bytes:
        done = k >= EVENTS_PER_DOC
        body = {"document_id": doc, "status": "completed" if done else "processing", "step": "extraction",
                "progress": min(100, k * 5), "message": f"Extracting page {k}/{EVENTS_PER_DOC}",
                "timestamp": datetime.now(UTC).isoformat()}
        return json.dumps(body, separators=(",", ":")).encode()

    def prime(self, docs: list[str]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for doc in docs:
            pipe.publish(f"document:{doc}:progress", self.message(doc, 0))
        pipe.execute()

    def paced(self, docs: list[str]) -> dict[str, float]:
        """Event k (1..20) of document d at start + (k - 1 + d / D) / RATE: an even 10 events/s per document."""
        n = len(docs)
        schedule = sorted(((k - 1 + d / n) / RATE, d, k) for d in range(n) for k in range(1, EVENTS_PER_DOC + 1))
        start = time.monotonic()
        t0 = time.time()
        i = 0
        while i < len(schedule):
            now = time.monotonic() - start
            pipe = self.r.pipeline(transaction=False)
            while i < len(schedule) and schedule[i][0] <= now:
                _, d, k = schedule[i]
                pipe.publish(f"document:{docs[d]}:progress", self.message(docs[d], k))
                i += 1
            pipe.execute()
            time.sleep(0.005)
        return {"t0": t0, "t1": time.time(), "sent": len(schedule)}


def publisher_main(redis_url: str) -> None:
    pub = Publisher(redis_url)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "prime":
            pub.prime(cmd["docs"])
            print(json.dumps({"ok": True}), flush=True)
        elif cmd["cmd"] == "paced":
            print(json.dumps(pub.paced(cmd["docs"])), flush=True)
        else:
            break


class RelayClient(asyncio.Protocol):
    """One raw-socket SSE client; latencies go to ``sink`` while ``state["phase"] == "paced"``."""

    __slots__ = ("frames", "paced", "ready", "request", "sink", "state", "status")

    def __init__(self, request: bytes, sink: list[float], state: dict[str, str]) -> None:
        self.request, self.sink, self.state = request, sink, state
        self.frames = SSEFrames()
        self.paced = 0
        self.status = ""
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.status:
            self.status = data[9:12].decode(errors="replace")
        complete = self.frames.feed(data)
        if complete is None:
            self._ready(False)
            return
        if not complete:
            return
        self._ready(True)
        if self.state["phase"] != "paced" or b"data:" not in complete:
            return
        for frame in complete.split(b"\n\n"):
            ts = frame.find(TS_KEY)
            if ts >= 0:
                start = ts + len(TS_KEY)
                self.sink.append(now - event_epoch(frame[start: frame.index(b'"', start)]))
                self.paced += 1

    def _ready(self, ok: bool) -> None:
        if not self.ready.done():
            self.ready.set_result(ok)

    def connection_lost(self, exc: Exception | None) -> None:
        self._ready(False)


def gc_snapshot(url: str) -> dict[str, float]:
    """``lexintel_gc_*`` series from ``/metrics`` (name{labels} -> value)."""
    with urllib.request.urlopen(url + "/metrics", timeout=30) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("lexintel_gc_"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def gc_summary(before: dict[str, float], after: dict[str, float]) -> str:
    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    full = delta('lexintel_gc_collections_total{generation="2"}')
    pause = sum(delta(f'lexintel_gc_pause_seconds_total{{generation="{g}"}}') for g in range(3))
    count = delta("lexintel_gc_pause_duration_seconds_count")
    bounds = sorted(float(m.group(1)) for key in after
                    if (m := re.match(r'lexintel_gc_pause_duration_seconds_bucket\{le="([0-9.e-]+)"\}', key)))
    # cumulative buckets: the first bound that gained every pause of the phase bounds its longest pause
    longest = next((b for b in bounds
                    if delta(f'lexintel_gc_pause_duration_seconds_bucket{{le="{b}"}}') >= count), float("inf"))
    since_start = max(after.get(f'lexintel_gc_max_pause_seconds{{generation="{g}"}}', 0.0) for g in range(3))
    freed = sum(delta(f'lexintel_gc_collected_objects_total{{generation="{g}"}}') for g in range(3))
    return (f"GC: {count:.0f} collections ({full:.0f} full, {freed:,.0f} objects freed), {pause * 1000:.0f} ms paused, "
            f"longest <= {longest * 1000:.0f} ms, pauses over 50 ms: {delta('lexintel_gc_long_pauses_total'):.0f}; "
            f"longest since start {since_start * 1000:.0f} ms; "
            f"freezes so far {after.get('lexintel_gc_freezes_total', 0):.0f}")


@dataclass
class LoadResult:
    name: str
    connected: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    kib_per_conn: float = 0.0
    deliveries: int = 0
    expected: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    gc: str = ""

    def lines(self) -> list[str]:
        ms = [v * 1000 for v in self.latencies]
        per_cpu = self.deliveries / self.cpu if self.cpu else float("nan")
        return [
            f"{self.name}: connected {self.connected} (answers {self.statuses}), "
            f"{self.kib_per_conn:.1f} KiB per idle connection",
            f"{self.name}: delivered {self.deliveries}/{self.expected} "
            f"({self.deliveries / max(1, self.expected):.1%}), latency p50 {percentile(ms, 50):.1f} ms, "
            f"p99 {percentile(ms, 99):.1f} ms, max {max(ms, default=float('nan')):.1f} ms",
            f"{self.name}: server CPU {self.cpu:.2f} s -> {per_cpu:,.0f} deliveries per server CPU-second",
            *([f"{self.name}: {self.gc}"] if self.gc else []),
        ]


async def run_relay_load(name: str, port: int, pid: int, docs: list[str], clients_per_doc: int,
                         paced: Any, parallel: int, metrics_url: str | None,
                         profile: str | None = None) -> LoadResult:
    """Connect the clients (documents already primed), run the paced phase through ``paced()`` (blocking,
    run in a thread), measure. ``metrics_url``: the LexIntel server's base URL for its GC series."""
    loop = asyncio.get_running_loop()
    result = LoadResult(name)
    sink: list[float] = []
    state = {"phase": "connect"}
    clients: list[RelayClient] = []
    gate = asyncio.Semaphore(parallel)

    async def connect(doc: str) -> None:
        request = (f"GET /progress/documents/{doc}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Accept: text/event-stream\r\n\r\n").encode()
        client = RelayClient(request, sink, state)
        clients.append(client)
        async with gate:
            try:
                await loop.create_connection(lambda: client, "127.0.0.1", port)
                async with asyncio.timeout(120):
                    await client.ready
            except (OSError, TimeoutError):
                client.status = client.status or "err"

    warm = [asyncio.ensure_future(connect(docs[0])) for _ in range(10)]
    await asyncio.gather(*warm)
    await asyncio.sleep(1.0)
    rss0 = rss_kb(pid)
    await asyncio.gather(*(connect(doc) for doc in docs for _ in range(clients_per_doc)))
    measured = clients[10:]
    result.connected = sum(1 for c in measured if c.ready.done() and c.ready.result())
    for c in measured:
        result.statuses[c.status] = result.statuses.get(c.status, 0) + 1
    await asyncio.sleep(2.0)
    result.kib_per_conn = (rss_kb(pid) - rss0) / max(1, result.connected)

    gc_before = gc_snapshot(metrics_url) if metrics_url else {}
    cpu0 = cpu_seconds(pid)[0]
    spy = None
    if profile:  # py-spy on the server for the paced phase (collapsed stacks; flamegraph.pl or speedscope)
        spy = subprocess.Popen(["py-spy", "record", "-p", str(pid), "-o", profile, "--format", "raw", "-r", "200"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state["phase"] = "paced"
    reply = await asyncio.to_thread(paced)
    expected = int(reply["sent"]) * clients_per_doc + EVENTS_PER_DOC * len(warm)
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 3.0:  # until nothing has arrived for 3 s
        await asyncio.sleep(0.1)
        total = sum(c.paced for c in clients)
        if total != last:
            last, quiet_since = total, time.monotonic()
        if total >= expected:
            break
    gc_delivered = gc_snapshot(metrics_url) if metrics_url else {}  # the fan-out itself, before cleanup
    result.cpu = cpu_seconds(pid)[0] - cpu0
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
    state["phase"] = "done"
    result.deliveries = sum(c.paced for c in clients)  # the warm-up clients too: the server wrote to them
    result.expected = int(reply["sent"]) * clients_per_doc + EVENTS_PER_DOC * len(warm)
    result.latencies = sink
    if metrics_url:
        await asyncio.sleep(2.0)  # the streams ended (terminal events): the GC freezer's cleanup comes now
        result.gc = (f"{gc_summary(gc_before, gc_delivered)}\n{name}: after the streams ended: "
                     f"{gc_summary(gc_delivered, gc_snapshot(metrics_url))}")
    return result


if __name__ == "__main__":
    publisher_main(sys.argv[1])
