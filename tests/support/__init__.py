"""What the test suite and the scripts in ``scripts/`` share: real servers in subprocesses, SSE parsing, waiting
with a deadline, the corpus, PDFs built in memory and /proc readings.

One copy, so a test and a benchmark start a server, read a stream and give up waiting the same way. Scripts
import it as ``tests.support`` when run as modules from the repository root (``python -m scripts.faults``):
no ``sys.path`` edits anywhere. Nothing here imports pytest, so the scripts do not need it; nothing here is
imported by ``lexintel``.
"""

from __future__ import annotations

from tests.support.corpus import CORPUS, corpus, corpus_pages, corpus_pdfs
from tests.support.metrics import parse_metrics, scrape_metrics
from tests.support.procfs import child_pids, cpu_seconds, descendants, rss_kb, status_kb
from tests.support.servers import ROOT, RedisServer, ServerFailed, ServerProcess, free_port, redis_server_path
from tests.support.sse import SSEDecoder, SSEEvent, SSEFrames, StreamFollower, iter_sse, read_stream
from tests.support.waiting import WaitTimeout, wait_for

__all__ = [
    "CORPUS",
    "ROOT",
    "RedisServer",
    "SSEDecoder",
    "SSEEvent",
    "SSEFrames",
    "ServerFailed",
    "ServerProcess",
    "StreamFollower",
    "WaitTimeout",
    "child_pids",
    "corpus",
    "corpus_pages",
    "corpus_pdfs",
    "cpu_seconds",
    "descendants",
    "free_port",
    "iter_sse",
    "parse_metrics",
    "read_stream",
    "redis_server_path",
    "rss_kb",
    "scrape_metrics",
    "status_kb",
    "wait_for",
]
