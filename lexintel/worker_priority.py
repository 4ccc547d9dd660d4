"""Worker processes yield the CPU to the server process.

Why: on a small machine the process pool's extraction, OCR and embedding workers are as many as the cores, so
under load they compete with the one process that serves every request and stream. At equal priority a busy
pool took the event loop's core often enough to make stream latency 3-4x its idle value (issue 18's
loaded/idle ratio). A worker at niceness +10 (relative to the server; ``LEXINTEL_WORKER_NICE``, 0 keeps it
equal) still gets every core the server leaves idle, so throughput on an otherwise idle machine is unchanged;
it only stops winning against the server. Applied once per worker process, on its first call (anyio's pool
starts fresh interpreters, so this module's state is per worker).
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["DEFAULT_NICE", "yield_to_server"]

DEFAULT_NICE = 10
_applied = False


def yield_to_server() -> None:
    """Lower this (worker) process's CPU priority by ``LEXINTEL_WORKER_NICE`` steps, once."""
    global _applied
    if _applied:
        return
    _applied = True
    try:
        steps = int(os.environ.get("LEXINTEL_WORKER_NICE", DEFAULT_NICE))
    except ValueError:
        steps = DEFAULT_NICE
    if steps > 0:
        with contextlib.suppress(OSError):  # not permitted (some containers): run at the server's priority
            os.nice(min(steps, 19))
