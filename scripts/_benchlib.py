"""What the benchmarks in scripts/ share beyond :mod:`tests.support`: a throw-away server, open-file limits,
the machine load, percentiles, event timestamps and a small stdlib JSON client.

Benchmarks measure the real thing: ``python -m lexintel serve`` in a subprocess on a free loopback port with
a throw-away data dir, driven over HTTP. Run them as modules from the repository root
(``python -m scripts.bench_sse …``) so ``scripts`` and ``tests.support`` import without path edits. Nothing
here is imported by the server or the tests.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from tests.support import ServerProcess

__all__ = ["TS_KEY", "Server", "event_epoch", "http_json", "load_line", "percentile", "raise_nofile"]


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


TS_KEY = b'"timestamp":"'
_ts_cache: dict[bytes, float] = {}


def event_epoch(raw: bytes) -> float:
    """An event's ``timestamp`` -> epoch seconds; parsed once per event, shared by every client receiving it."""
    value = _ts_cache.get(raw)
    if value is None:
        value = datetime.fromisoformat(raw.decode()).timestamp()
        _ts_cache[raw] = value
    return value


def http_json(method: str, url: str, body: Any = None, timeout: float = 30.0) -> Any:
    """A small JSON request with the standard library (benchmarks avoid client libraries on hot paths)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


class Server(ServerProcess):
    """A benchmark's server: quiet logs, auth off, a temporary data dir that :meth:`stop` removes (unless
    ``keep_data``). ``env`` overrides those defaults."""

    def __init__(self, env: dict[str, str] | None = None, keep_data: bool = False) -> None:
        base = Path(tempfile.mkdtemp(prefix="lexintel-bench-"))
        super().__init__(base / "data", {"LEXINTEL_LOG_LEVEL": "WARNING", "LEXINTEL_AUTH": "off",
                                          # benchmarks open thousands of streams from one address on purpose
                                          "LEXINTEL_MAX_STREAMS_PER_USER": "0", "LEXINTEL_MAX_PENDING_PER_ADDRESS": "0",
                                          **(env or {})},
                         log_path=base / "server.log")
        self.keep_data = keep_data

    def start(self, timeout: float = 60.0) -> Self:
        try:
            return super().start(timeout)
        except BaseException:
            self.stop()  # the error carries the log; leave no temporary directory behind
            raise

    def stop(self, sig: str = "term", timeout: float = 15.0) -> int | None:
        try:
            return super().stop(sig, timeout)
        finally:
            if not self.keep_data:
                shutil.rmtree(self.data_dir.parent, ignore_errors=True)
