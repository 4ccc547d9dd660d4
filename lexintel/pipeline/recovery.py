"""Putting interrupted work back: after a crash (at start) and at a graceful shutdown (the drain).

A crash leaves documents ``processing`` with nobody working on them: at start they go back to ``pending`` and
everything pending is queued again. A shutdown first lets running documents finish for a grace period, then
stops the rest; each stopped document goes back to ``pending`` (with a ``queued`` event) as it unwinds, so the
next start resumes it. Both paths follow one rule: the run number, the stored pages and the progress are kept,
and the next attempt continues at the first page not stored (see ``Documents.requeue_stuck``).
"""

from __future__ import annotations

import logging
import math
import time

import anyio

from lexintel.pipeline.context import Lifecycle
from lexintel.pipeline.queue import WorkQueue
from lexintel.store.records import Records

__all__ = ["Drain", "recover"]

log = logging.getLogger(__name__)


def recover(records: Records, lifecycle: Lifecycle, queue: WorkQueue) -> int:
    """Requeue documents a previous process left ``processing``, then queue every pending one; returns how
    many were interrupted."""
    stuck = records.ids_with_status("processing")
    for document_id in stuck:
        lifecycle.requeue_stuck(document_id)
    pending = records.ids_with_status("pending")
    for document_id in pending:
        queue.enqueue(document_id)
    if stuck or pending:
        log.info("recovered %d interrupted and %d pending documents", len(stuck), len(pending))
    return len(stuck)


class Drain:
    """Graceful shutdown of the workers: no new documents, a deadline for running ones, then stop."""

    def __init__(self, queue: WorkQueue) -> None:
        self._queue = queue
        self.active = False
        self._deadline = math.inf
        self._stopped: set[str] = set()  # stopped by the drain, not yet back to pending
        self._done: anyio.Event | None = None  # set when the (one) drain has ended
        self._requeued = 0

    def begin(self, grace: float) -> None:
        """Start no new documents; running ones have ``grace`` seconds from now to finish (idempotent)."""
        if not self.active:
            self.active = True
            self._deadline = time.monotonic() + grace

    async def run(self, grace: float) -> int:
        """Wait for running documents until the deadline, then stop the rest and wait for them to be put
        back to ``pending``. Returns how many were stopped. Runs once: the signal starts it (streams stay
        open until it ends) and the lifespan's later call waits for the same drain."""
        self.begin(grace)
        if self._done is not None:
            await self._done.wait()
            return self._requeued
        self._done = anyio.Event()
        try:
            self._requeued = await self._stop_the_rest()
        finally:
            self._done.set()
        return self._requeued

    @property
    def finished(self) -> bool:
        """True once the drain has ended (every stopped document is back to ``pending``)."""
        return self._done is not None and self._done.is_set()

    async def _stop_the_rest(self) -> int:
        queue = self._queue
        with anyio.move_on_after(max(0.0, self._deadline - time.monotonic())):
            while queue.running:  # noqa: ASYNC110 (shutdown only: not worth an Event on every document)
                await anyio.sleep(0.05)
        stopped = queue.running_ids()
        for document_id in stopped:
            self._stopped.add(document_id)
            queue.cancel(document_id)
        with anyio.move_on_after(10):  # each stopped document emits its `queued` event as it unwinds
            while self._stopped:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        return len(stopped)

    def stopped(self, document_id: str) -> bool:
        """True if the drain stopped this document (it must go back to pending)."""
        return document_id in self._stopped

    def settled(self, document_id: str) -> None:
        """The stopped document is back to pending (or gave up trying)."""
        self._stopped.discard(document_id)
