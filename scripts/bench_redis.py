"""Redis mirror relay: events/s A -> Redis -> B and A-publish -> B-client latency with N SSE clients on B.

    python -m scripts.bench_redis --clients 1000 --rate 20 --seconds 20 --burst 5000     # full scale
    python -m scripts.bench_redis --clients 100 --rate 20 --seconds 5 --burst 1000       # quick check
    python -m scripts.bench_redis --relay --clients 3000 --compare                       # issue 18's relay load

``--relay`` runs issue 18's load instead (:mod:`scripts._relayload`: N clients, N/10 documents, 20 events each
at 10 events/s from an outside worker in the original design's JSON) against instance B, and with
``--compare`` the same load against the bare asyncio relay (:mod:`scripts.bare_relay`), side by side.

Parts, all real: a private ``redis-server`` on a free port; instance B = ``python -m lexintel serve`` with
``LEXINTEL_REDIS_URL``; instance A = this script re-run as ``--role origin`` in a subprocess, which builds a
real LexIntel :class:`Services` (SQLite event log, Emitter, RedisMirror; no HTTP, no pipeline) and emits
synthetic document events through ``Emitter.emit`` — the same door the pipeline uses — so every event is
appended to A's log and leaves through A's mirror queue and publisher task.

Steps: A emits one ``queued`` event for a new document; N raw-socket clients open
``/progress/documents/{id}/stream`` on B (B knows the document only through Redis); then

* paced phase: A emits ``--rate`` events/s for ``--seconds``; latency = client receive time - the event's
  ``timestamp`` (stamped in ``Emitter.emit`` on A, before A's commit and publish), p50/p99 over all clients;
* burst phase: A emits ``--burst`` events as fast as it can, then the terminal event; relay rate = burst
  events / (B's mirror ``received`` counter reaching them - first burst emit), and the time until every
  client has the terminal event. Slow clients may have progress coalesced (by design): reported, not hidden.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scripts._benchlib import TS_KEY, Server, event_epoch, http_json, load_line, percentile, raise_nofile
from tests.support import ROOT, RedisServer, SSEFrames, free_port, redis_server_path


# ---------------------------------------------------------------- origin (instance A), in a subprocess
async def origin(redis_url: str, data_dir: Path) -> None:
    """Emit events through a real Emitter + RedisMirror; commands on stdin, results on stdout (JSON lines)."""
    import anyio

    from lexintel.events.model import ProgressEvent
    from lexintel.services import Services
    from lexintel.settings import Settings

    settings = Settings(data_dir=data_dir, redis_url=redis_url, instance_id="bench-origin")
    svc = Services.build(settings)
    assert svc.mirror is not None
    case_id = svc.records.create_case("redis-bench")["id"]
    doc_id = "bench-" + os.urandom(6).hex()

    def emit(i: int, stage: str, terminal: bool = False) -> None:
        event = ProgressEvent(case_id=case_id, document_id=doc_id, status="completed" if terminal else "processing",
                              stage=stage, progress=min(99.0, i / 100), message=f"event {i}")
        svc.emitter.emit(event, terminal=terminal)

    def out(**fields: object) -> None:
        print(json.dumps(fields), flush=True)

    async with anyio.create_task_group() as tg:
        await tg.start(svc.mirror.run)
        while svc.mirror.state != "connected":
            await anyio.sleep(0.05)
        emit(0, "queued")
        while svc.mirror.published < 1:  # in Redis before B's clients ask for it
            await anyio.sleep(0.01)
        out(document_id=doc_id)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            cmd = json.loads(line or '{"cmd": "quit"}')
            if cmd["cmd"] == "paced":
                interval, n = 1.0 / cmd["rate"], int(cmd["rate"] * cmd["seconds"])
                start = time.monotonic()
                for i in range(n):
                    delay = start + i * interval - time.monotonic()
                    if delay > 0:
                        await anyio.sleep(delay)
                    emit(i + 1, "extracting")
                out(sent=n)
            elif cmd["cmd"] == "burst":
                t0 = time.time()
                for i in range(cmd["n"]):
                    emit(100_000 + i, "indexing")
                    if i % 200 == 199:
                        await anyio.sleep(0)  # let the mirror's publisher run, as the pipeline would
                emit(10**6, "completed", terminal=True)
                t1 = time.time()
                while svc.mirror._queue:  # drained into Redis
                    await anyio.sleep(0.01)
                out(t0=t0, t_emitted=t1, t_published=time.time(), dropped=svc.mirror.dropped,
                    published=svc.mirror.published)
            else:
                tg.cancel_scope.cancel()
                break
    svc.db.close()


# ---------------------------------------------------------------- SSE clients on B
class Client(asyncio.Protocol):
    """One raw-socket SSE client: counts frames, records latencies while ``sink`` is set."""

    def __init__(self, request: bytes, sink: dict[str, list[float]], state: dict[str, str]) -> None:
        self.request, self.sink, self.state = request, sink, state
        self.frames = SSEFrames()
        self.count = 0
        self.done = asyncio.get_running_loop().create_future()
        self.ready = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        complete = self.frames.feed(data)
        if complete is None:
            self._end(False)
            return
        if not complete:
            return
        if not self.ready.done():
            self.ready.set_result(True)
        lat = self.sink[self.state["phase"]]
        for frame in complete.split(b"\n\n"):
            if b"data:" not in frame:
                continue
            self.count += 1
            ts = frame.find(TS_KEY)
            if ts >= 0:
                start = ts + len(TS_KEY)
                lat.append(now - event_epoch(frame[start: frame.index(b'"', start)]))
            if b"event: complete" in frame:
                self._end(True)

    def _end(self, ok: bool) -> None:
        for fut in (self.ready, self.done):
            if not fut.done():
                fut.set_result(ok)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(False)


async def run(args: argparse.Namespace) -> None:
    raise_nofile()
    if redis_server_path() is None:
        sys.exit("redis-server is not installed")
    work = Path(tempfile.mkdtemp(prefix="lexintel-redis-bench-"))
    redis = RedisServer(work / "redis").start()
    redis_url = redis.url
    b = Server(env={"LEXINTEL_REDIS_URL": redis_url, "LEXINTEL_EXTRACTION_WORKERS": "1",
                    "LEXINTEL_SUBSCRIBER_QUEUE": str(args.queue)})
    a: subprocess.Popen[str] | None = None
    try:
        b.start()
        a = subprocess.Popen([sys.executable, "-m", "scripts.bench_redis", "--role", "origin", "--redis-url",
                              redis_url, "--data-dir", str(work / "origin")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert a.stdin is not None
        assert a.stdout is not None

        def ask(**cmd: object) -> dict[str, float]:
            assert a is not None
            assert a.stdin is not None
            assert a.stdout is not None
            if cmd:
                a.stdin.write(json.dumps(cmd) + "\n")
                a.stdin.flush()
            reply: dict[str, float] = json.loads(a.stdout.readline())
            return reply

        doc_id = (await asyncio.to_thread(ask))["document_id"]
        print(f"# {load_line()}; {args.clients} clients on B, document {doc_id} of instance A")

        sink: dict[str, list[float]] = {"paced": [], "burst": []}
        state = {"phase": "paced"}
        loop = asyncio.get_running_loop()
        request = (f"GET /progress/documents/{doc_id}/stream HTTP/1.1\r\nHost: 127.0.0.1:{b.port}\r\n"
                   "Accept: text/event-stream\r\n\r\n").encode()
        clients: list[Client] = []
        gate = asyncio.Semaphore(100)

        async def connect() -> None:
            client = Client(request, sink, state)
            clients.append(client)
            async with gate:
                await loop.create_connection(lambda: client, "127.0.0.1", b.port)
                async with asyncio.timeout(60):
                    await client.ready

        t = time.monotonic()
        await asyncio.gather(*(connect() for _ in range(args.clients)))
        connected = sum(1 for c in clients if c.ready.result())
        print(f"connected {connected}/{args.clients} clients in {time.monotonic() - t:.1f}s")
        sink["paced"].clear()

        sent = (await asyncio.to_thread(ask, cmd="paced", rate=args.rate, seconds=args.seconds))["sent"]
        await asyncio.sleep(1.0)
        lat = sink["paced"]
        print(f"paced {args.rate}/s x {args.seconds}s: {int(sent)} events, {len(lat)} deliveries "
              f"({len(lat) / max(1, connected * sent):.1%} of events x clients), latency A emit -> B client "
              f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
              f"max {max(lat, default=float('nan')) * 1000:.1f} ms")

        state["phase"] = "burst"
        before = http_json("GET", b.url + "/ready")["redis_mirror"]["received"]
        burst = await asyncio.to_thread(ask, cmd="burst", n=args.burst)
        target = before + args.burst + 1
        received_at = None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            mirror = http_json("GET", b.url + "/ready")["redis_mirror"]
            if mirror["received"] >= target:
                received_at = time.time()
                break
            await asyncio.sleep(0.02)
        async with asyncio.timeout(300):
            done = await asyncio.gather(*(c.done for c in clients))
        all_done = time.time()
        emit_rate = args.burst / (burst["t_emitted"] - burst["t0"])
        print(f"burst {args.burst} events: A emitted {emit_rate:,.0f}/s (log + queue), published to Redis by "
              f"+{burst['t_published'] - burst['t0']:.2f}s (dropped {int(burst['dropped'])})")
        if received_at is not None:
            print(f"relay A -> Redis -> B (B's mirror appended all): {args.burst / (received_at - burst['t0']):,.0f} "
                  f"events/s; every client had the terminal event by +{all_done - burst['t0']:.2f}s "
                  f"({sum(done)}/{len(clients)} complete)")
        counts = sorted(c.count for c in clients)
        blat = sink["burst"]
        print(f"frames per client over the run min {counts[0]} median {counts[len(counts) // 2]} (coalescing keeps "
              f"slow clients current); burst latency p50 {percentile(blat, 50) * 1000:.0f} ms p99 "
              f"{percentile(blat, 99) * 1000:.0f} ms")
        await asyncio.to_thread(ask_quit, a)
    finally:
        if a is not None and a.poll() is None:
            a.kill()
            a.wait(10)
        b.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


async def run_relay(args: argparse.Namespace) -> None:
    """Issue 18's relay load on LexIntel (and, with ``--compare``, on the bare relay), one after the other."""
    from scripts._relayload import run_relay_load

    raise_nofile()
    if redis_server_path() is None:
        sys.exit("redis-server is not installed")
    work = Path(tempfile.mkdtemp(prefix="lexintel-relay-bench-"))
    redis = RedisServer(work / "redis").start()
    publisher = subprocess.Popen([sys.executable, "-m", "scripts._relayload", redis.url], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def ask(**cmd: object) -> dict[str, float]:
        assert publisher.stdin is not None
        assert publisher.stdout is not None
        publisher.stdin.write(json.dumps(cmd) + "\n")
        publisher.stdin.flush()
        reply: dict[str, float] = json.loads(publisher.stdout.readline())
        return reply

    n_docs = max(1, args.clients // 10)
    print(f"# relay load: {args.clients} clients, {n_docs} documents x 20 events at 10/s "
          f"({args.clients * 10:,} deliveries/s); {load_line()}", flush=True)
    try:
        for target in ("lexintel", "bare") if args.compare else (args.target,):
            docs = [f"relay-{target}-{i:05d}-{os.urandom(3).hex()}" for i in range(n_docs)]
            print(f"# {target} start: {load_line()}", flush=True)
            if target == "lexintel":
                # a generous header timeout: on a contended machine a connect burst's last requests can wait
                # > 10 s to be read, and a 408 would measure the machine, not the fan-out
                server = Server(env={"LEXINTEL_REDIS_URL": redis.url, "LEXINTEL_EXTRACTION_WORKERS": "1",
                                     "LEXINTEL_HEADER_TIMEOUT": "120", "LEXINTEL_MAX_PENDING_CONNECTIONS": "20000",
                                     **dict(kv.split("=", 1) for kv in args.env)}).start()
                try:
                    while http_json("GET", server.url + "/ready")["redis_mirror"]["state"] != "connected":
                        await asyncio.sleep(0.05)
                    await asyncio.to_thread(ask, cmd="prime", docs=docs)
                    while http_json("GET", server.url + "/ready")["redis_mirror"]["received"] < n_docs:
                        await asyncio.sleep(0.05)
                    result = await run_relay_load("lexintel", server.port, server.pid, docs, 10,
                                                  lambda docs=docs: ask(cmd="paced", docs=docs), args.parallel,
                                                  server.url, args.profile)
                finally:
                    server.stop()
            else:
                port = free_port()
                relay = subprocess.Popen([sys.executable, "-m", "scripts.bare_relay", "--port", str(port),
                                          "--redis-url", redis.url], stdout=subprocess.PIPE, text=True, cwd=ROOT)
                try:
                    assert relay.stdout is not None
                    assert relay.stdout.readline().strip() == "ready"
                    await asyncio.to_thread(ask, cmd="prime", docs=docs)
                    result = await run_relay_load("bare relay", port, relay.pid, docs, 10,
                                                  lambda docs=docs: ask(cmd="paced", docs=docs), args.parallel, None)
                finally:
                    relay.kill()
                    relay.wait(10)
            for line in result.lines():
                print(line, flush=True)
            print(f"# {target} end: {load_line()}", flush=True)
    finally:
        publisher.kill()
        publisher.wait(10)
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


def ask_quit(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write('{"cmd": "quit"}\n')
    proc.stdin.flush()
    proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="paced phase: events/s from A")
    parser.add_argument("--seconds", type=float, default=20.0, help="paced phase length")
    parser.add_argument("--burst", type=int, default=5000, help="burst phase: events emitted back to back")
    parser.add_argument("--queue", type=int, default=256, help="B's per-client queue (LEXINTEL_SUBSCRIBER_QUEUE)")
    parser.add_argument("--relay", action="store_true", help="issue 18's relay load (see above)")
    parser.add_argument("--compare", action="store_true", help="--relay on LexIntel, then on the bare relay")
    parser.add_argument("--target", default="lexintel", choices=["lexintel", "bare"], help="--relay without --compare")
    parser.add_argument("--parallel", type=int, default=500, help="--relay: concurrent stream opens")
    parser.add_argument("--env", action="append", default=[], help="--relay: extra server env KEY=VALUE")
    parser.add_argument("--profile", help="--relay: record LexIntel's paced phase with py-spy into this file")
    parser.add_argument("--role", default="bench", choices=["bench", "origin"], help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "origin":
        asyncio.run(origin(args.redis_url, args.data_dir))
    elif args.relay:
        try:
            import uvloop

            uvloop.install()  # a cheaper client loop leaves more CPU to the server under test
        except ImportError:
            pass
        asyncio.run(run_relay(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
