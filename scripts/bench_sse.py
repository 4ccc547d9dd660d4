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
  documents emit while they are extracted.

Latency is the client's receive time minus the event's ``timestamp`` (stamped in ``Emitter.emit`` just
before the SQLite commit and the in-memory publish). Delivered/expected counts every event each client
should have (its case stream's last id at the end) against what it got; coalesced or dropped ones count as
missing.
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
from tests.support import SSEFrames, corpus_pdfs, rss_kb


class Recorder:
    """Where clients put latencies; ``phase`` switches between the idle and loaded measurements."""

    def __init__(self) -> None:
        self.phase = "idle"
        self.latencies: dict[str, list[float]] = {"idle": [], "loaded": []}


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
        lat = self.recorder.latencies[self.recorder.phase]
        for frame in complete.split(b"\n\n"):
            at = frame.find(b"id: ")
            if at < 0:
                continue
            self.last_id = int(frame[at + 4 : frame.index(b"\n", at)])
            self.count += 1
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
                       timeout: float) -> list[SSEClient]:
    """Open ``n`` clients, at most ``parallel`` handshakes at a time; returns them all (check ``connected``)."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(parallel)
    clients: list[SSEClient] = []

    async def one(i: int) -> None:
        case = i % len(case_ids)
        request = (f"GET /cases/{case_ids[case]}/stream HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
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
        resp = self.http.post(f"/cases/{case_id}/documents", files=[("files", (path.name, path.read_bytes()))])
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
    env = {"LEXINTEL_EXTRACTION_WORKERS": str(args.workers), **dict(kv.split("=", 1) for kv in args.env)}
    recorder = Recorder()
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
        for _ in range(args.waves):
            for case_id in case_ids:
                await asyncio.to_thread(driver.upload, case_id, small)
                docs += 1
            delivered_idle, expected_idle = await wait_delivered(driver, clients, case_ids, docs, args.timeout)
        print(f"idle phase: {args.waves} wave(s) x {args.cases} small PDFs; delivered/expected events "
              f"{delivered_idle}/{expected_idle}; {load_line()}")
        print(summary("idle phase", recorder.latencies["idle"]), flush=True)

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
            for i in range(args.load_docs):
                await asyncio.to_thread(driver.upload, case_ids[i % len(case_ids)], big)
                docs += 1
            delivered, expected = await wait_delivered(driver, clients, case_ids, docs, args.timeout)
            stop.set()
            print(f"loaded phase: {args.load_docs} x {big.name} extracted by {args.workers} workers; "
                  f"delivered/expected events (cumulative) {delivered}/{expected}; "
                  f"1-min load during phase max {max(loads, default=0):.2f}")
            print(summary("loaded phase", recorder.latencies["loaded"]))
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
    parser.add_argument("--waves", type=int, default=3, help="idle-phase waves (one small PDF per case each)")
    parser.add_argument("--load-docs", type=int, default=6, help="big PDFs for the loaded phase (0: skip it)")
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
