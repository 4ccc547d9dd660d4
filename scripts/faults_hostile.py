"""Hostile-client cases of the fault suite (issue 13), registered in scripts/faults.py's ``CASES``.

Each reproduces one finding of the outside security test against a real ``lexintel serve`` and measures what
another user sees meanwhile:

  cookie         ``Cookie: lexintel_session="\\\\…"`` with 100,000 backslashes (quadratic unquote on Python
                 < 3.11.10), then one just under the cookie limit: time to answer; /health latency meanwhile
  overlap-bomb   a Fifield-style overlapping-entry ZIP (tests/zipbomb.py): disk used by files and database
  slow-clients   1,100 slow-header + 400 slow-body sockets dripping a byte every few seconds: how long they are
                 held, and the latency (and failures) of another user's requests during the flood

    python -m scripts.faults --only cookie --only overlap-bomb --only slow-clients
"""

from __future__ import annotations

import resource
import selectors
import socket
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from scripts._faultkit import Server, Tally, new_case
from scripts._faultresult import Result, finish
from tests.zipbomb import bomb_kernel, extra_field_bomb

MiB = 1024 * 1024
COOKIE_LIMIT = 16 * 1024  # LEXINTEL_MAX_COOKIE_BYTES' default
FD_LIMIT = 1024  # the slow-client case's server: open files, as under a common default ulimit
SATURATION = 3.0  # seconds: a burst beyond the server's descriptors resets new connections until eviction


class Prober(threading.Thread):
    """Another user: one request every ``interval`` on a fresh connection; latencies and failures."""

    def __init__(self, url: str, interval: float = 0.1, timeout: float = 30.0,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.interval, self.timeout, self.headers = url, interval, timeout, headers
        self.latencies_ms: list[float] = []
        self.failures: list[tuple[float, str]] = []  # (monotonic time, what went wrong)
        self.halt = threading.Event()

    def run(self) -> None:
        fresh = httpx.Limits(max_keepalive_connections=0)  # a new TCP connection per request, like a new visitor
        with httpx.Client(timeout=self.timeout, limits=fresh, headers=self.headers) as client:
            while not self.halt.is_set():
                self._one(client)
                self.halt.wait(self.interval)

    def _one(self, client: httpx.Client) -> None:
        started = time.monotonic()
        try:
            resp = client.get(self.url)
            if resp.status_code != 200:
                self.failures.append((started, str(resp.status_code)))
        except httpx.HTTPError as exc:
            self.failures.append((started, type(exc).__name__))
        self.latencies_ms.append((time.monotonic() - started) * 1000)

    def stop(self) -> None:
        self.halt.set()
        self.join(self.timeout + 5)

    def wait_first(self, timeout: float = 30.0) -> None:
        """Block until one request has been answered: the prober is warm and running."""
        deadline = time.monotonic() + timeout
        while not self.latencies_ms and time.monotonic() < deadline:
            time.sleep(0.01)

    def summary(self) -> str:
        lat = self.latencies_ms or [0.0]
        kinds = ", ".join(sorted({why for _, why in self.failures}))
        fails = f", {len(self.failures)} failed ({kinds})" if self.failures else ""
        count = len(self.latencies_ms)
        return f"{count} requests, median {statistics.median(lat):.0f} ms, max {max(lat):.0f} ms{fails}"


def _cookie_request(server: Server, client: httpx.Client, cookie: str) -> tuple[int, str, float]:
    started = time.monotonic()
    resp = client.get(f"{server.url}/cases", headers={"Cookie": cookie})
    code = resp.json().get("code", "") if resp.headers.get("content-type", "").startswith("application/json") else ""
    return resp.status_code, str(code), time.monotonic() - started


def _answer_into(out: list[tuple[int, str, float]], server: Server, client: httpx.Client, cookie: str) -> None:
    out.append(_cookie_request(server, client, cookie))


def case_cookie(work: Path, fast: bool) -> Result:
    """The 100k-backslash cookie (CVE-2024-7592) and ones just under the limit; /health for others meanwhile.
    Each under-limit cookie differs (Litestar caches parsed cookie strings), so every request parses afresh."""
    r, tally = Result("100k-backslash cookie"), Tally()
    server = Server(work, "cookie", {"LEXINTEL_AUTH": "on"}).start()
    under = COOKIE_LIMIT - len('x00=1; lexintel_session=""') - 8
    kinds: list[tuple[str, int, Callable[[int], str]]] = [
        ("no cookie (baseline)", 5, lambda i: f"x{i:02d}=1"),
        ("100k backslashes", 1, lambda i: 'lexintel_session="' + "\\" * 100_000 + '"'),
        (f"{under} backslashes (just under the limit)", 5,
         lambda i: f'x{i:02d}=1; lexintel_session="' + "\\" * under + '"'),
    ]
    try:
        with httpx.Client(timeout=300) as client, httpx.Client(timeout=300) as other:
            other.get(f"{server.url}/health")  # the other user's connection is open before the attack
            for label, repeat, make in kinds:
                answers, health_ms = [], []
                for i in range(repeat):  # the other user asks for /health just after the hostile request left
                    done: list[tuple[int, str, float]] = []
                    hostile = threading.Thread(target=_answer_into, args=(done, server, client, make(i)))
                    hostile.start()
                    time.sleep(0.002)
                    started = time.monotonic()
                    other.get(f"{server.url}/health")
                    health_ms.append((time.monotonic() - started) * 1000)
                    hostile.join()
                    answers.extend(done)
                times = sorted(a[2] * 1000 for a in answers)
                status, code = answers[-1][0], answers[-1][1]
                r.notes.append(f"{label}: {status} {code} in {statistics.median(times):.1f} ms (median of {repeat}, "
                               f"max {times[-1]:.1f}); another user's /health meanwhile: median "
                               f"{statistics.median(health_ms):.1f} ms, max {max(health_ms):.1f} ms")
                r.check(times[-1] < 1000, f"{label}: answered after {times[-1]:.0f} ms")
                r.check(max(health_ms) < 1000, f"{label}: /health waited {max(health_ms):.0f} ms")
                if label.startswith("100k"):
                    r.check(status == 431 and code in ("cookie_too_large", "headers_too_large"),
                            f"100k cookie answered {status} {code}")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


def _disk_used(root: Path) -> dict[str, float]:
    """MiB on disk (allocated blocks) of the stored files, and of the database with its -wal/-shm."""
    files = sum(p.stat().st_blocks * 512 for p in (root / "files").rglob("*") if p.is_file())
    db = sum(p.stat().st_blocks * 512 for p in root.glob("lexintel.db*") if p.is_file())
    return {"files": files / MiB, "db": db / MiB}


def case_overlap_bomb(work: Path, fast: bool) -> Result:
    """Upload an overlapping-entry ZIP bomb; watch the data dir for a bounded time."""
    r, tally = Result("overlapping-entry ZIP bomb"), Tally()
    entries, window = (200, 30.0) if fast else (1000, 60.0)
    server = Server(work, "bomb").start()
    try:
        case_id = new_case(server, tally)
        before = _disk_used(server.data_dir)
        bomb = extra_field_bomb(entries, bomb_kernel())
        started = time.monotonic()
        resp = tally.seen(httpx.post(f"{server.url}/cases/{case_id}/documents", timeout=120,
                                     files=[("files", ("production.zip", bomb, "application/zip"))]))
        batch_id = resp.json()["batch_id"]

        def batch() -> dict[str, object]:
            body: dict[str, object] = tally.seen(httpx.get(f"{server.url}/batches/{batch_id}", timeout=30)).json()
            return body

        final = batch()
        while final.get("status") not in ("completed", "failed") and time.monotonic() - started < window:
            time.sleep(0.5)
            final = batch()
        seconds = time.monotonic() - started
        after = _disk_used(server.data_dir)
        docs = tally.seen(httpx.get(f"{server.url}/cases/{case_id}/documents", timeout=60)).json()
        indexed = sum(d["status"] == "indexed" for d in docs)
        grew = {k: after[k] - before[k] for k in after}
        r.notes.append(f"{len(bomb) / 1024:.0f} KiB upload, {entries} entries (declared "
                       f"{entries * len(bomb_kernel()) / MiB:.0f} MiB): batch {final.get('status')} "
                       f"({final.get('error_code') or 'no error'}) after {seconds:.1f} s; +{grew['files']:.1f} MiB "
                       f"of files, +{grew['db']:.1f} MiB of database, {len(docs)} documents ({indexed} indexed)")
        ended = f"{final.get('status')}/{final.get('error_code')}"
        r.check(final.get("error_code") == "zip_overlap", f"batch ended {ended}")
        r.check(grew["files"] + grew["db"] < 5, f"the data dir grew {grew['files'] + grew['db']:.0f} MiB")
        finish(r, [server], tally)
    finally:
        server.stop()
    return r


class SlowClients:
    """Sockets that send a request's first bytes and then one more byte every ``drip`` seconds."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.selector = selectors.DefaultSelector()
        self.opened: dict[socket.socket, tuple[str, float]] = {}
        self.closed_after: dict[str, list[float]] = {"header": [], "body": []}
        self.refused = 0

    def open(self, kind: str, count: int) -> None:
        head = (b"GET /cases HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " if kind == "header" else
                b"POST /cases HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{\"name\": \"")
        for _ in range(count):
            try:
                s = socket.create_connection((self.host, self.port), timeout=5)
                s.sendall(head)
            except OSError:
                self.refused += 1
                continue
            s.setblocking(False)
            self.opened[s] = (kind, time.monotonic())
            self.selector.register(s, selectors.EVENT_READ)

    def tick(self) -> None:
        """Drip one byte on every open socket; note the ones the server answered or closed."""
        for s in list(self.opened):
            try:
                s.send(b"a")
            except OSError:
                self._closed(s)
        for key, _ in self.selector.select(timeout=0):
            s = key.fileobj
            assert isinstance(s, socket.socket)
            try:
                if s.recv(65536):  # an answer (408): the close follows
                    continue
            except BlockingIOError:
                continue
            except OSError:
                pass
            self._closed(s)

    def _closed(self, s: socket.socket) -> None:
        if s in self.opened:
            kind, since = self.opened.pop(s)
            self.closed_after[kind].append(time.monotonic() - since)
            self.selector.unregister(s)
            s.close()

    def close_all(self) -> None:
        for s in list(self.opened):
            self.selector.unregister(s)
            s.close()
        self.opened.clear()


def case_slow_clients(work: Path, fast: bool, slow_header: int = 1100, slow_body: int = 400) -> Result:
    """A flood of slow-header and slow-body sockets while another user keeps working. The server runs with
    1,024 open files (a common default ``ulimit -n``), where the flood used to exhaust its descriptors."""
    r, tally = Result(f"{slow_header} slow-header + {slow_body} slow-body sockets"), Tally()
    window, drip = (25.0, 2.0) if fast else (60.0, 3.0)
    server = Server(work, "slow").start()
    assert server.proc is not None
    resource.prlimit(server.proc.pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    flood = SlowClients("127.0.0.1", server.port)
    try:
        new_case(server, tally)
        prober = Prober(f"{server.url}/cases", interval=0.1, timeout=10.0)
        prober.start()
        prober.wait_first()
        started = time.monotonic()
        flood.open("body", slow_body)  # first, so they are accepted before the header flood fills the descriptors
        flood.open("header", slow_header)
        peak = len(flood.opened)
        while time.monotonic() - started < window:
            flood.tick()
            peak = max(peak, len(flood.opened))
            if not flood.opened:
                break
            time.sleep(drip)
        prober.stop()
        held = {k: max(v) if v else 0.0 for k, v in flood.closed_after.items()}
        still = {k: sum(1 for kind, _ in flood.opened.values() if kind == k) for k in ("header", "body")}
        r.notes.append(f"server closed {len(flood.closed_after['header'])} slow-header sockets (the last after "
                       f"{held['header']:.0f} s) and {len(flood.closed_after['body'])} slow-body sockets (last after "
                       f"{held['body']:.0f} s); still open after {window:.0f} s: {still['header']} + {still['body']}; "
                       f"at most {peak} open at once; connect refused {flood.refused}")
        r.notes.append(f"another user's GET /cases (new connection each, 10 s timeout) during the flood, server "
                       f"limited to {FD_LIMIT} open files: {prober.summary()}")
        late = [t - started for t, _ in prober.failures if t - started > SATURATION]
        if prober.failures:
            early = len(prober.failures) - len(late)
            r.notes.append(f"another user's failures: {early} within {SATURATION:g} s of the flood's start (the "
                           f"server's {FD_LIMIT} descriptors full until the oldest are evicted), {len(late)} later")
        r.check(not late, f"{len(late)} of another user's requests failed after the first {SATURATION:g} s")
        r.check(not any(still.values()), f"slow sockets still held after {window:.0f} s: {still}")
        finish(r, [server], tally)
    finally:
        flood.close_all()
        server.stop()
    return r


HOSTILE_CASES: dict[str, tuple[bool, Callable[..., Result]]] = {  # name -> (in --fast, function)
    "cookie": (False, case_cookie),
    "overlap-bomb": (False, case_overlap_bomb),
    "slow-clients": (False, case_slow_clients),
}
