"""Shared helpers for the benchmarks in scripts/: a real server subprocess, RSS sampling, percentiles.

Benchmarks measure the real thing: ``python -m lexintel serve`` in a subprocess on a free loopback port with
a throw-away data dir, driven over HTTP. Nothing here is imported by the server or the tests.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CORPUS",
    "Server",
    "corpus_pdfs",
    "cpu_seconds",
    "free_port",
    "http_json",
    "load_line",
    "percentile",
    "raise_nofile",
    "rss_kb",
]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("LEXINTEL_CORPUS", "/work/shared/corpus"))


def corpus_pdfs() -> list[Path]:
    """The corpus PDFs in name order (the same order for every benchmark run)."""
    return sorted(CORPUS.glob("*.pdf"))


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit (each SSE client holds a socket); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def load_line() -> str:
    """The machine load now, for the record: benchmark figures on a shared 2-core box are noisy."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(x) for x in fh.read().split())
        except OSError:
            continue
    return kids


def _vmrss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int, include_children: bool = False) -> int:
    """VmRSS of ``pid`` in KiB, plus all its descendants' when asked (e.g. extraction workers)."""
    total = _vmrss_kb(pid)
    if include_children:
        stack = _children(pid)
        while stack:
            child = stack.pop()
            total += _vmrss_kb(child)
            stack.extend(_children(child))
    return total


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds of ``pid`` itself, CPU seconds of its live descendants), user + system."""
    own = _cpu_s(pid)
    kids = 0.0
    stack = _children(pid)
    while stack:
        child = stack.pop()
        kids += _cpu_s(child)
        stack.extend(_children(child))
    return own, kids


TS_KEY = b'"timestamp":"'
_ts_cache: dict[bytes, float] = {}


def event_epoch(raw: bytes) -> float:
    """An event's ``timestamp`` -> epoch seconds; parsed once per event, shared by every client receiving it."""
    value = _ts_cache.get(raw)
    if value is None:
        value = datetime.fromisoformat(raw.decode()).timestamp()
        _ts_cache[raw] = value
    return value


class SSEFrames:
    """Cheap SSE splitting for raw-socket benchmark clients: checks the HTTP status line once, then hands back
    only complete frames (up to the last blank line) and keeps the partial tail for the next read."""

    __slots__ = ("buf", "head")

    def __init__(self) -> None:
        self.buf = b""
        self.head = False

    def feed(self, data: bytes) -> bytes | None:
        """Complete frames so far (``b""`` if none yet), or None if the response is not ``200``."""
        buf = self.buf + data
        if not self.head:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                self.buf = buf
                return b""
            if not buf.startswith(b"HTTP/1.1 200"):
                return None
            self.head = True
            buf = buf[head_end + 4 :]
        end = buf.rfind(b"\n\n")
        if end < 0:
            self.buf = buf
            return b""
        complete, self.buf = buf[: end + 2], buf[end + 2 :]
        return complete


def http_json(method: str, url: str, body: Any = None, timeout: float = 30.0) -> Any:
    """A small JSON request with the standard library (benchmarks avoid client libraries on hot paths)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@dataclass
class Server:
    """``python -m lexintel serve`` on a free loopback port with a temporary data dir (removed on stop)."""

    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    keep_data: bool = False
    proc: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> Server:
        """Start and wait for ``/health``; raise with the server log if it exits or never answers."""
        base = Path(tempfile.mkdtemp(prefix="lexintel-bench-"))
        self.data_dir = base / "data"
        self.log_path = base / "server.log"
        env = {**os.environ, "LEXINTEL_LOG_LEVEL": "WARNING", "LEXINTEL_AUTH": "off", **self.env,
               "LEXINTEL_DATA_DIR": str(self.data_dir), "LEXINTEL_PORT": str(self.port),
               "LEXINTEL_HOST": "127.0.0.1", "PYTHONPATH": str(ROOT)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "lexintel", "serve"], env=env, stdout=log,
                                         stderr=log, cwd=str(ROOT))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /health within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path and self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; remove the data dir unless ``keep_data``."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.data_dir is not None and not self.keep_data:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
