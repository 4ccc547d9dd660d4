"""SSE fan-out: N raw-socket clients on K case streams of a real server, real pipeline events.

    python -m scripts.bench_sse --clients 1000 --cases 10            # p99 target at N = 1,000
    python -m scripts.bench_sse --clients 10000 --cases 10 --waves 2  # connected/delivered at N = 10,000

Steps: start ``lexintel serve`` (temp data dir, free port), create K cases, measure the server's RSS, open N
clients (``GET /cases/{id}/stream``, client i on case i % K) with one asyncio protocol each (no HTTP library:
the client shares the 2 cores with the server and must stay cheap), measure RSS again once they are idle,
then drive real events:

* idle phase: ``--waves`` times, upload one small corpus PDF into every case and wait until every client has
  the case stream's newest event id (so nothing is in flight between waves);
* loaded phase (unless ``--no-load``): upload ``--load-docs`` copies of the corpus's biggest PDF (117 pages,
  spread over the cases) so both extraction workers are busy, and measure the page-progress events those
  documents emit while they are extracted; more rounds of them until the phase has ``--min-events``.

Latency is the client's receive time minus the event's ``timestamp`` (stamped in ``Emitter.emit`` just
before the SQLite commit and the in-memory publish). Delivered/expected counts every event each client
should have (its case stream's last id at the end) against what it got; coalesced or dropped ones count as
missing.

So that a p99 means something, each phase goes on (more small-PDF waves; more rounds of big PDFs) until it
has ``--min-events`` distinct events (1,000 by default: distinct (case, id) pairs seen by
the clients). Each phase also reports the server's CPU seconds (``/proc``, the server process only) and
deliveries per server CPU-second, and its garbage collections from ``/metrics`` (``lexintel_gc_*``: count,
full ones, time paused, longest pause, pauses over 50 ms). ``--kinds`` measures RSS per idle connection on a
batch stream (a chunked upload session waiting for chunks) and a document stream (a document queued behind
two big PDFs) with ``--kind-clients`` clients each, beside the case streams of the main run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import threading
import time
from pathlib import Path

import httpx

from scripts._benchlib import TS_KEY, Server, event_epoch, load_line, percentile, raise_nofile
from scripts._relayload import gc_snapshot, gc_summary
from tests.support import SSEFrames, corpus_pdfs, cpu_seconds, rss_kb


class Recorder:
    """Where clients put latencies; ``phase`` switches between the idle and loaded measurements."""

    def __init__(self) -> None:
        self.phase = "idle"
        self.latencies: dict[str, list[float]] = {"idle": [], "loaded": []}
        self.distinct: dict[str, set[tuple[int, int]]] = {"idle": set(), "loaded": set()}  # (case, event id)
        self.deliveries: dict[str, int] = {"idle": 0, "loaded": 0}


class SSEClient(asyncio.Protocol):
    """One SSE connection: sends the request, splits frames, records ids and latencies. Nothing else."""

    __slots__ = (
        "case",
        "closed",
        "connected",
        "count",
        "frames",
        "last_id",
        "ready",
        "recorder",
        "request",
        "transport",
    )

    def __init__(self, request: bytes, case: int, recorder: Recorder) -> None:
        self.request = request
        self.case = case
        self.recorder = recorder
        self.frames = SSEFrames()
        self.connected = False
        self.closed = False
        self.count = 0
        self.last_id = 0
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        complete = self.frames.feed(data)
        if complete is None:
            self._finish(False)
            return
        if not complete:
            return
        if not self.connected and b"retry:" in complete:
            self.connected = True
            if not self.ready.done():
                self.ready.set_result(True)
        if b"data:" not in complete:
            return  # ping, retry or chunk framing only
        phase = self.recorder.phase
        lat = self.recorder.latencies[phase]
        distinct = self.recorder.distinct[phase]
        for frame in complete.split(b"\n\n"):
            at = frame.find(b"id: ")
            if at < 0:
                continue
            self.last_id = int(frame[at + 4 : frame.index(b"\n", at)])
            self.count += 1
            self.recorder.deliveries[phase] += 1
            distinct.add((self.case, self.last_id))
            ts = frame.find(TS_KEY)
            if ts >= 0:
                start = ts + len(TS_KEY)
                lat.append(now - event_epoch(frame[start : frame.index(b'"', start)]))

    def _finish(self, ok: bool) -> None:
        if not self.ready.done():
            self.ready.set_result(ok)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(False)


async def open_clients(port: int, case_ids: list[str], n: int, recorder: Recorder, parallel: int,
                       timeout: float, path: str | None = None) -> list[SSEClient]:
    """Open ``n`` clients, at most ``parallel`` handshakes at a time; returns them all (check ``connected``).
    Client i reads case i % K, or ``path`` for all."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)
    clients: list[SSEClient] = []

    async def one(i: int) -> None:
        case = i % len(case_ids)
        target = path or f"/cases/{case_ids[case]}/stream"
        request = (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Accept: text/event-stream\r\n\r\n").encode()
        client = SSEClient(request, case, recorder)
        clients.append(client)
        async with gate:
            try:
                async with asyncio.timeout(timeout):
                    await loop.create_connection(lambda: client, "127.0.0.1", port)
                    await client.ready
            except (OSError, TimeoutError):
                client.closed = True

    await asyncio.gather(*(one(i) for i in range(n)))
    return clients


class Driver:
    """Uploads real corpus PDFs over HTTP from a thread (blocking calls stay off the clients' loop)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=120)

    def create_cases(self, k: int) -> list[str]:
        return [str(self.http.post("/cases", json={"name": f"sse-bench-{i}"}).json()["id"]) for i in range(k)]

    def upload(self, case_id: str, path: Path) -> str:
        resp = self.http.post(f"/cases/{case_id}/documents?duplicates=allow",  # the same PDF more than once
                              files=[("files", (path.name, path.read_bytes()))])
        resp.raise_for_status()
        return str(resp.json()["document_ids"][0])

    def last_ids(self, case_ids: list[str]) -> list[int]:
        return [int(self.http.get(f"/cases/{c}").json()["last_event_id"]) for c in case_ids]

    def all_terminal(self, case_ids: list[str], expected: int) -> bool:
        done = 0
        for c in case_ids:
            counts = self.http.get(f"/cases/{c}").json()["documents_by_status"]
            done += counts.get("indexed", 0) + counts.get("failed", 0)
        return done >= expected


async def wait_delivered(driver: Driver, clients: list[SSEClient], case_ids: list[str], docs: int,
                         timeout: float) -> tuple[int, int]:
    """Wait until the pipeline is done with ``docs`` documents and every live client has its case's last
    id; returns (delivered, expected) over all clients that are still connected."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not await asyncio.to_thread(driver.all_terminal, case_ids, docs):
        await asyncio.sleep(0.2)
    last = await asyncio.to_thread(driver.last_ids, case_ids)
    live = [c for c in clients if c.connected]
    while time.monotonic() < deadline and any(c.last_id < last[c.case] and not c.closed for c in live):
        await asyncio.sleep(0.05)
    expected = sum(last[c.case] for c in live)
    delivered = sum(c.count for c in live)
    return delivered, expected


async def idle_kib(server: Server, path: str, n: int, parallel: int) -> str:
    """RSS per idle connection of ``n`` clients on ``path`` (after 10 warm-up clients), then close them."""
    recorder = Recorder()
    warm = await open_clients(server.port, [""], 10, recorder, 10, 60, path)
    await asyncio.sleep(1.0)
    rss0 = rss_kb(server.pid)
    clients = await open_clients(server.port, [""], n, recorder, parallel, 120, path)
    connected = sum(c.connected and not c.closed for c in clients)
    await asyncio.sleep(2.0)
    rss1 = rss_kb(server.pid)
    for c in clients + warm:
        if c.transport:
            c.transport.close()
    await asyncio.sleep(1.0)
    return (f"{connected}/{n} idle, {(rss1 - rss0) / max(connected, 1):.1f} KiB per idle connection "
            f"({rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB)")


async def measure_kinds(args: argparse.Namespace, env: dict[str, str], small: Path, big: Path) -> None:
    """Idle memory per connection on each stream kind, each in a fresh server (memory freed by one kind's
    clients would be reused by the next one's): a document queued behind four big PDFs (its stream is idle
    until they are done), a batch waiting for its chunks (a chunked upload session), a case stream."""
    for kind in ("document", "batch", "case"):
        with Server(env=env) as server:
            driver = Driver(server.url)
            case = driver.create_cases(1)[0]
            doc = ""
            if kind == "document":
                for _ in range(4):
                    await asyncio.to_thread(driver.upload, case, big)
                doc = await asyncio.to_thread(driver.upload, case, small)
                path = f"/progress/documents/{doc}/stream"
            elif kind == "batch":
                session = driver.http.post(f"/cases/{case}/uploads", json={"filename": "later.pdf",
                                                                           "total_size": 10**7})
                session.raise_for_status()
                path = f"/batches/{session.json()['batch_id']}/stream"
            else:
                path = f"/cases/{case}/stream"
            print(f"{kind} streams: {await idle_kib(server, path, args.kind_clients, args.parallel)}", flush=True)
            if doc:
                status = driver.http.get(f"/documents/{doc}/status").json()["status"]
                print(f"(the document was still {status} after its measurement: "
                      f"{'idle as intended' if status == 'pending' else 'NOT idle: figure includes its events'})")


def phase_costs(name: str, server: Server, deliveries: int, cpu0: float, gc0: dict[str, float]) -> str:
    """The server's CPU and garbage collection over a phase (the server process only, not its workers)."""
    cpu = cpu_seconds(server.pid)[0] - cpu0
    per_cpu = deliveries / cpu if cpu > 0 else float("nan")
    return (f"{name}: {deliveries} deliveries, server CPU {cpu:.2f} s -> {per_cpu:,.0f} deliveries per server "
            f"CPU-second; {gc_summary(gc0, gc_snapshot(server.url))}")


def summary(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"{name}: {len(ms)} samples, latency p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, "
            f"p99 {percentile(ms, 99):.1f} ms, max {max(ms, default=float('nan')):.1f} ms")


async def run(args: argparse.Namespace) -> int:
    nofile = raise_nofile()
    print(f"# bench_sse: N={args.clients} clients on K={args.cases} case streams, RLIMIT_NOFILE={nofile}")
    print(f"# start: {load_line()}", flush=True)
    pdfs = corpus_pdfs()
    small = next(p for p in pdfs if "pdflatex-4-pages" in p.name)
    big = max(pdfs, key=lambda p: p.stat().st_size if "geotopo" in p.name else 0)
    # every page emits (no 0.25 s throttle), so the loaded phase has enough distinct events for a p99
    env = {"LEXINTEL_EXTRACTION_WORKERS": str(args.workers), "LEXINTEL_PROGRESS_INTERVAL": "0",
           # a connect burst on a busy machine: no 408 from the header guard
           "LEXINTEL_HEADER_TIMEOUT": "120", "LEXINTEL_MAX_PENDING_CONNECTIONS": "20000",
           **dict(kv.split("=", 1) for kv in args.env)}
    recorder = Recorder()
    if args.kinds:
        await measure_kinds(args, env, small, big)
        if not args.clients:
            return 0
    with Server(env=env) as server:
        driver = Driver(server.url)
        case_ids = driver.create_cases(args.cases)
        warm = await open_clients(server.port, case_ids, min(20, args.clients), recorder, 20, 30)
        for c in warm:  # warm-up: the first streams load code and caches that are not per-connection
            if c.transport:
                c.transport.close()
        await asyncio.sleep(1.0)
        rss0 = rss_kb(server.pid)
        t0 = time.perf_counter()
        clients = await open_clients(server.port, case_ids, args.clients, recorder, args.parallel, args.timeout)
        connected = sum(c.connected for c in clients)
        print(f"connected: {connected}/{args.clients} in {time.perf_counter() - t0:.1f} s", flush=True)
        await asyncio.sleep(args.settle)
        gc.collect()
        rss1 = rss_kb(server.pid)
        per_conn = (rss1 - rss0) * 1024 / max(connected, 1)
        print(f"server RSS: {rss0 / 1024:.1f} MiB before, {rss1 / 1024:.1f} MiB with {connected} idle clients "
              f"-> {per_conn / 1024:.1f} KiB per idle connection", flush=True)

        docs = 0
        recorder.phase = "idle"
        delivered_idle = expected_idle = 0
        waves = 0
        gc0, cpu0 = gc_snapshot(server.url), cpu_seconds(server.pid)[0]
        while waves < args.waves or (len(recorder.distinct["idle"]) < args.min_events and waves < args.max_waves):
            for case_id in case_ids:
                await asyncio.to_thread(driver.upload, case_id, small)
                docs += 1
            waves += 1
            delivered_idle, expected_idle = await wait_delivered(driver, clients, case_ids, docs, args.timeout)
        print(f"idle phase: {waves} wave(s) x {args.cases} small PDFs, {len(recorder.distinct['idle'])} distinct "
              f"events; delivered/expected events {delivered_idle}/{expected_idle}; {load_line()}")
        print(summary("idle phase", recorder.latencies["idle"]), flush=True)
        print(phase_costs("idle phase", server, recorder.deliveries["idle"], cpu0, gc0), flush=True)

        delivered, expected = delivered_idle, expected_idle
        if args.load_docs:
            recorder.phase = "loaded"
            loads: list[float] = []
            stop = threading.Event()

            def sample_load() -> None:
                import os

                while not stop.wait(1.0):
                    loads.append(os.getloadavg()[0])

            sampler = threading.Thread(target=sample_load, daemon=True)
            sampler.start()
            gc0, cpu0 = gc_snapshot(server.url), cpu_seconds(server.pid)[0]
            rounds = 0
            while rounds < 1 or (len(recorder.distinct["loaded"]) < args.min_events and rounds < args.max_waves):
                for i in range(args.load_docs):  # rounds of big PDFs until the phase has its distinct events
                    await asyncio.to_thread(driver.upload, case_ids[i % len(case_ids)], big)
                    docs += 1
                rounds += 1
                delivered, expected = await wait_delivered(driver, clients, case_ids, docs, args.timeout)
            stop.set()
            print(f"loaded phase: {rounds} round(s) of {args.load_docs} x {big.name} extracted by {args.workers} "
                  "workers, "
                  f"{len(recorder.distinct['loaded'])} distinct events; delivered/expected events (cumulative) "
                  f"{delivered}/{expected}; 1-min load during phase max {max(loads, default=0):.2f}")
            print(summary("loaded phase", recorder.latencies["loaded"]))
            print(phase_costs("loaded phase", server, recorder.deliveries["loaded"], cpu0, gc0), flush=True)
            p_idle = percentile(recorder.latencies["idle"], 99)
            p_load = percentile(recorder.latencies["loaded"], 99)
            if p_idle == p_idle and p_idle > 0:
                print(f"p99 loaded/idle: {p_load / p_idle:.2f}x")
        still = sum(c.connected and not c.closed for c in clients)
        print(f"summary: connected {connected}/{args.clients}, still connected {still}, delivered/expected "
              f"{delivered}/{expected} ({'all' if delivered == expected else 'MISSING ' + str(expected - delivered)})"
              f", workers RSS {(rss_kb(server.pid, include_children=True) - rss_kb(server.pid)) / 1024:.0f} MiB")
        for c in clients:
            if c.transport:
                c.transport.close()
    print(f"# end: {load_line()}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000, help="N SSE clients")
    parser.add_argument("--cases", type=int, default=10, help="K case streams (client i reads case i %% K)")
    parser.add_argument("--waves", type=int, default=3, help="idle-phase waves at least (one small PDF per case)")
    parser.add_argument("--min-events", type=int, default=1000, help="idle phase: more waves until this many "
                        "distinct events")
    parser.add_argument("--max-waves", type=int, default=60, help="idle phase: at most this many waves")
    parser.add_argument("--load-docs", type=int, default=9, help="big PDFs for the loaded phase (0: skip it); "
                        "9 x 117 pages give > 1,000 page events")
    parser.add_argument("--kinds", action="store_true", help="also measure idle batch and document streams")
    parser.add_argument("--kind-clients", type=int, default=1000, help="--kinds: clients per stream kind")
    parser.add_argument("--workers", type=int, default=2, help="server extraction workers")
    parser.add_argument("--parallel", type=int, default=500, help="concurrent connection handshakes")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before the RSS sample")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--env", action="append", default=[], help="extra server env KEY=VALUE (repeatable)")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()  # a cheaper client loop leaves more CPU to the server under test
    except ImportError:
        pass
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
