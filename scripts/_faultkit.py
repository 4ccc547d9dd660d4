"""Helpers for scripts/faults.py: PDFs built in memory, real server and Redis subprocesses, an SSE client that
resumes like EventSource, and readers for /metrics and the durable event log. The PDF builder, free ports, the
/proc child scan and the private redis-server come from the test suite's helpers (tests/helpers.py,
tests/pdfgen.py), so the suite and the tests fault-inject the same way."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository root: tests/ holds the shared process and PDF helpers

# Re-exported for faults.py.
from tests.helpers import RedisServer as RedisServer  # noqa: E402
from tests.helpers import child_pids, free_port  # noqa: E402
from tests.pdfgen import make_pdf, slow_pdf  # noqa: E402

hanging_pdf = slow_pdf

MB = 1024 * 1024


# ---------------------------------------------------------------- PDFs built here (no corpus needed)
def text_pdf(pages: int, tag: str) -> bytes:
    """``pages`` pages of contract-like text (about 40 lines each)."""
    contents = []
    for n in range(1, pages + 1):
        ops = [b"BT /F1 10 Tf 50 760 Td 12 TL"]
        for line in range(40):
            ops.append(b"(%s page %d clause %d: the lessee shall indemnify the lessor against all claims.) Tj T*"
                       % (tag.encode(), n, line))
        ops.append(b"ET")
        contents.append(b"\n".join(ops))
    return make_pdf(contents)


# ---------------------------------------------------------------- processes
def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    """``python -m lexintel serve`` on a loopback port; restartable on the same port and data dir."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str] | None = None,
                 fsize_limit: int | None = None) -> None:
        self.data_dir = workdir / name
        self.log_path = workdir / f"{name}.log"
        self.port = free_port()
        self.env = env or {}
        self.fsize_limit = fsize_limit
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _limits(self) -> None:  # runs in the child before exec
        if self.fsize_limit is not None:  # soft limit only: raise_fsize() can lift it later ("free space")
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.fsize_limit, hard))

    def raise_fsize(self) -> None:
        """Lift the file-size cap of the running server: the "disk" has room again."""
        assert self.proc is not None
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (hard, hard))
        self.fsize_limit = None  # and not on the next start either

    def start(self, timeout: float = 60) -> Server:
        env = {**os.environ, "LEXINTEL_EXTRACTION_WORKERS": "2", "LEXINTEL_PING_INTERVAL": "5",
               "LEXINTEL_PROGRESS_INTERVAL": "0", "LEXINTEL_SHUTDOWN_GRACE": "5", "LEXINTEL_AUTH": "off",
               **self.env,
               "LEXINTEL_DATA_DIR": str(self.data_dir), "LEXINTEL_PORT": str(self.port), "LEXINTEL_HOST": "127.0.0.1",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "lexintel", "serve"], env=env, stdout=log,
                                         stderr=log, preexec_fn=self._limits if self.fsize_limit else None)

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout, "server /health")
        return self

    def sample_rss(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.peak_rss_kb = max(self.peak_rss_kb, _status_kb(self.proc.pid, "VmHWM"))

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.sample_rss()
            workers = child_pids(self.proc.pid)
            self.proc.kill()
            self.proc.wait(10)
            for pid in workers:  # orphaned extraction workers: a supervisor would kill the whole group
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM (graceful), SIGKILL after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.sample_rss()
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


# ---------------------------------------------------------------- HTTP and SSE
@dataclass
class Tally:
    """What the harness saw: unexpected 5xx answers, and expected ones (by code) for the notes."""

    unexpected_5xx: int = 0
    expected: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self, resp: httpx.Response, expected: frozenset[int] = frozenset()) -> httpx.Response:
        if resp.status_code >= 500:
            with self.lock:
                if resp.status_code in expected:
                    self.expected[str(resp.status_code)] = self.expected.get(str(resp.status_code), 0) + 1
                else:
                    self.unexpected_5xx += 1
        return resp


def new_case(server: Server, tally: Tally) -> str:
    resp = tally.seen(httpx.post(f"{server.url}/cases", json={"name": "fault suite"}, timeout=30))
    resp.raise_for_status()
    return str(resp.json()["id"])


def upload(server: Server, case_id: str, files: list[tuple[str, bytes]], tally: Tally,
           batch: bool = True) -> list[str]:
    """Upload as one multi-file request (a batch) when possible, else one request per file."""
    if batch and len(files) > 1:
        resp = tally.seen(httpx.post(f"{server.url}/cases/{case_id}/documents",
                                     files=[("files", f) for f in files], timeout=120))
        if resp.status_code == 202 and len(resp.json().get("document_ids", [])) == len(files):
            return [str(i) for i in resp.json()["document_ids"]]
    ids: list[str] = []
    for name, data in files:
        resp = tally.seen(httpx.post(f"{server.url}/cases/{case_id}/documents", files={"files": (name, data)},
                                     timeout=120))
        resp.raise_for_status()
        ids.extend(str(i) for i in resp.json()["document_ids"])
    return ids


def pages_done(server: Server, ids: list[str], tally: Tally) -> int:
    """Pages extracted so far in documents still processing (0 if none is)."""
    total = 0
    for document_id in ids:
        with_status = tally.seen(httpx.get(f"{server.url}/documents/{document_id}/status", timeout=10)).json()
        if with_status.get("status") == "processing":
            total += int(with_status.get("pages_done") or 0)
    return total


def statuses(server: Server, ids: list[str], tally: Tally) -> dict[str, str]:
    out = {}
    for document_id in ids:
        try:
            resp = tally.seen(httpx.get(f"{server.url}/documents/{document_id}/status", timeout=10))
            out[document_id] = str(resp.json().get("status"))
        except httpx.HTTPError:
            out[document_id] = "unreachable"
    return out


def all_terminal(server: Server, ids: list[str], tally: Tally) -> bool:
    return all(s in ("indexed", "failed") for s in statuses(server, ids, tally).values())


def metrics(server: Server) -> dict[str, float]:
    """``name{labels}`` -> value from /metrics (0 on failure)."""
    out: dict[str, float] = {}
    try:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                continue
    return out


def server_5xx(server: Server) -> int:
    return int(sum(v for k, v in metrics(server).items()
                   if k.startswith("lexintel_http_requests_total") and 'status="5xx"' in k))


def log_events(data_dir: Path, stream: str) -> dict[int, str]:
    """The durable log of one stream, read straight from the instance's SQLite file (WAL allows it)."""
    conn = sqlite3.connect(f"file:{data_dir / 'lexintel.db'}?mode=ro", uri=True, timeout=30)
    try:
        return {int(i): str(d) for i, d in conn.execute("SELECT id, data FROM events WHERE stream = ?", (stream,))}
    finally:
        conn.close()


class SSEParser:
    """Feed lines one at a time (so callers can act on every line, pings included); events come out whole."""

    def __init__(self) -> None:
        self.event_id: int | None = None
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[int | None, str] | None:
        """(id, data) when ``line`` completes an event, else None."""
        if line == "":
            event = (self.event_id, "\n".join(self.data)) if self.data else None
            self.event_id, self.data = None, []
            return event
        if not line.startswith(":"):
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "id":
                self.event_id = int(value)
            elif key == "data":
                self.data.append(value)
        return None


class Follower(threading.Thread):
    """A client following one stream the way EventSource does: reconnect with Last-Event-ID whenever the
    connection ends (server killed, lagging cut-off, shutdown), optionally hanging up every ``flap`` seconds."""

    def __init__(self, url: Callable[[], str], tally: Tally, flap: float | None = None) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.tally = tally
        self.flap = flap
        self.received: dict[int, str] = {}
        self.duplicates = 0
        self.connects = 0
        self.last_id: int | None = None
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            headers = {} if self.last_id is None else {"Last-Event-ID": str(self.last_id)}
            started = time.monotonic()
            try:
                with httpx.stream("GET", self.url(), headers=headers, timeout=httpx.Timeout(10, read=15)) as resp:
                    self.tally.seen(resp)
                    if resp.status_code != 200:
                        time.sleep(0.3)
                        continue
                    self.connects += 1
                    parser = SSEParser()
                    for line in resp.iter_lines():  # pings arrive every ping interval: checks below stay live
                        event = parser.feed(line)
                        event_id = event[0] if event is not None else None
                        if event is not None and event_id is not None:
                            data = event[1]
                            if event_id in self.received:
                                self.duplicates += 1
                            self.received[event_id] = data
                            self.last_id = max(event_id, self.last_id or 0)
                        if self.stop_flag.is_set():
                            return
                        if self.flap and time.monotonic() - started >= self.flap:
                            break  # hang up mid-stream
            except httpx.HTTPError:
                time.sleep(0.2)  # server gone or restarting: retry like EventSource

    def catch_up(self, log: dict[int, str], timeout: float = 30) -> None:
        """Give the client time to receive every logged event (it may be reconnecting right now)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not set(log) <= set(self.received):
            time.sleep(0.2)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(20)


def compare(log: dict[int, str], received: dict[int, str]) -> tuple[int, int]:
    """(events lost, ids reused): logged ids never received; received ids whose logged event differs."""
    lost = len(set(log) - set(received))
    reused = sum(1 for i, data in received.items() if i in log and log[i] != data)
    return lost, reused
