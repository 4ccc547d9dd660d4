"""Moved to :mod:`tests.support` (shared with ``scripts/``); this name stays so tests written before the move,
on branches not merged yet, keep importing. New code imports ``tests.support``."""

from __future__ import annotations

from tests.support import (
    CORPUS,
    RedisServer,
    ServerProcess,
    SSEEvent,
    child_pids,
    corpus,
    corpus_pages,
    free_port,
    iter_sse,
    read_stream,
    redis_server_path,
    wait_for,
)

__all__ = [
    "CORPUS",
    "RedisServer",
    "SSEEvent",
    "ServerProcess",
    "child_pids",
    "corpus",
    "corpus_pages",
    "free_port",
    "iter_sse",
    "read_stream",
    "redis_server_path",
    "wait_for",
]
