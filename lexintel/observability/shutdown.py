"""Graceful shutdown on SIGTERM/SIGINT.

Order matters, and uvicorn's own order does not fit: on a signal it stops listening, then *waits for open
connections to close*, and only then runs the lifespan shutdown. SSE streams never close on their own, so
the app must act when the signal arrives, not in the lifespan. :class:`GracefulServer` does that:

1. at the signal: stop accepting uploads (503) and start the pipeline's drain (no new documents start;
   running extractions may finish until ``LEXINTEL_SHUTDOWN_GRACE`` seconds after the signal; the rest are
   stopped, set back to ``pending`` with a ``queued`` event saying where they will resume). Streams stay open
   meanwhile, so clients see the last pages done and the interruption;
2. when the drain has ended, every SSE subscription is closed: each stream writes its last events, then a
   final ``: closed (shutdown)`` comment with a ``retry:`` and ends cleanly; clients reconnect by
   ``Last-Event-ID`` to the next instance. uvicorn's graceful timeout must outlast the grace
   (``lexintel serve`` gives it the grace plus a margin);
3. uvicorn then drains the remaining connections, and the lifespan shutdown waits for the same drain
   (:func:`finish_shutdown`) before it stops the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Protocol

import uvicorn

from lexintel.observability.logging import log_event

__all__ = ["GracefulServer", "ShutdownTarget", "begin_shutdown", "finish_shutdown"]

log = logging.getLogger("lexintel.shutdown")


class _Draining(Protocol):
    """The pipeline: documents in flight, and the drain clock."""

    @property
    def running(self) -> int: ...
    @property
    def draining(self) -> bool: ...
    def begin_drain(self, grace: float) -> None: ...
    async def drain(self, grace: float) -> int: ...


class _Closing(Protocol):
    """The broadcaster: open streams, and ending them all."""

    @property
    def closed(self) -> bool: ...
    def subscriber_count(self) -> int: ...
    def close_all(self, reason: str) -> None: ...


class _Grace(Protocol):
    @property
    def shutdown_grace(self) -> float: ...


class ShutdownTarget(Protocol):
    """What shutdown touches on an instance (``Services`` matches it as it is)."""

    accepting_uploads: bool

    @property
    def settings(self) -> _Grace: ...
    @property
    def pipeline(self) -> _Draining: ...
    @property
    def broadcaster(self) -> _Closing: ...


_finishing: set[asyncio.Task[int]] = set()  # the signal's drain tasks, held until they end


def begin_shutdown(services: ShutdownTarget) -> None:
    """Stop taking work and start the drain; on a running event loop (the signal), also start
    :func:`finish_shutdown`, which ends the streams once the drain is over. Idempotent (the signal and the
    lifespan both call it)."""
    if not services.accepting_uploads and services.pipeline.draining:
        return
    grace = services.settings.shutdown_grace
    services.accepting_uploads = False
    services.pipeline.begin_drain(grace)
    log_event(log, "shutdown.begin", grace_s=grace, running=services.pipeline.running,
              sse_streams=services.broadcaster.subscriber_count())
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # called from another thread (tests): the lifespan's finish_shutdown ends the streams
        return
    task = loop.create_task(finish_shutdown(services))
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)


async def finish_shutdown(services: ShutdownTarget) -> int:
    """Wait for the drain (the same one however often it is awaited), then end every stream: the interrupted
    documents' ``queued`` events are in the subscriptions before they close. Returns how many documents the
    drain requeued."""
    try:
        return await services.pipeline.drain(services.settings.shutdown_grace)
    finally:
        if not services.broadcaster.closed:
            streams = services.broadcaster.subscriber_count()
            services.broadcaster.close_all("shutdown")
            log_event(log, "shutdown.streams_closed", sse_streams=streams)


class GracefulServer(uvicorn.Server):
    """``uvicorn.Server`` that runs ``on_signal`` on the event loop as soon as a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, on_signal: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_signal = on_signal
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Remember the loop: the signal handler must not touch asyncio objects directly."""
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """After a completed graceful shutdown exit normally (status 0) instead of re-raising the signal, so
        a supervisor or script can tell a clean stop from a crash."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Schedule ``on_signal`` (thread- and signal-safe), then let uvicorn begin its own shutdown."""
        if not self.should_exit and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._safe_on_signal)
        super().handle_exit(sig, frame)

    def _safe_on_signal(self) -> None:
        try:
            self._on_signal()
        except Exception:  # shutdown must go on even if a part fails to stop cleanly
            log.exception("error while beginning shutdown")
