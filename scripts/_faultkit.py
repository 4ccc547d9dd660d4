"""Helpers for scripts/faults.py beyond :mod:`tests.support`: the fault suite's server defaults, a client that
resumes like EventSource, a tally of 5xx answers, and readers for /metrics and the durable event log.

Servers, Redis, PDFs, waiting and SSE decoding are the test suite's own (``tests.support``), so the suite
and the tests fault-inject and observe the same way. Run as ``python -m scripts.faults`` from the
repository root.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support import RedisServer as RedisServer  # re-exported for faults.py
from tests.support import ServerProcess, SSEDecoder, SSEEvent, WaitTimeout, scrape_metrics, wait_for
from tests.support.pdfs import slow_pdf
from tests.support.pdfs import text_pdf as text_pdf

hanging_pdf = slow_pdf
wait_until = wait_for  # faults.py's name for it; its WaitTimeout is a TimeoutError, which faults.py catches

MB = 1024 * 1024

FAULT_ENV = {"LEXINTEL_EXTRACTION_WORKERS": "2", "LEXINTEL_PING_INTERVAL": "5", "LEXINTEL_PROGRESS_INTERVAL": "0",
             "LEXINTEL_SHUTDOWN_GRACE": "5", "LEXINTEL_AUTH": "off"}
"""Every fault case's server settings unless the case overrides them."""


class Server(ServerProcess):
    """One instance of a case: data dir ``workdir/name`` and log ``workdir/name.log``, kept together so
    ``--keep`` leaves each case's databases and logs side by side."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str] | None = None,
                 fsize_limit: int | None = None) -> None:
        super().__init__(workdir / name, {**FAULT_ENV, **(env or {})}, log_path=workdir / f"{name}.log",
                         fsize_limit=fsize_limit)


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
    """``name{labels}`` -> value from /metrics (empty while the server is unreachable)."""
    return scrape_metrics(server.url)


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
                    decoder = SSEDecoder()
                    for line in resp.iter_lines():  # pings arrive every ping interval: checks below stay live
                        event = decoder.feed(line)
                        if isinstance(event, SSEEvent) and event.id is not None:
                            if event.id in self.received:
                                self.duplicates += 1
                            self.received[event.id] = event.raw
                            self.last_id = max(event.id, self.last_id or 0)
                        if self.stop_flag.is_set():
                            return
                        if self.flap and time.monotonic() - started >= self.flap:
                            break  # hang up mid-stream
            except httpx.HTTPError:
                time.sleep(0.2)  # server gone or restarting: retry like EventSource

    def catch_up(self, log: dict[int, str], timeout: float = 30) -> None:
        """Give the client time to receive every logged event (it may be reconnecting right now); what is
        still missing after ``timeout`` is counted as lost by :func:`compare`, not raised here."""
        with contextlib.suppress(WaitTimeout):
            wait_until(lambda: set(log) <= set(self.received), timeout, "the follower to catch up", interval=0.2)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(20)


def compare(log: dict[int, str], received: dict[int, str]) -> tuple[int, int]:
    """(events lost, ids reused): logged ids never received; received ids whose logged event differs."""
    lost = len(set(log) - set(received))
    reused = sum(1 for i, data in received.items() if i in log and log[i] != data)
    return lost, reused
