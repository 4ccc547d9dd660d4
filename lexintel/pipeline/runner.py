"""The pipeline runner: the work queue drained by a bounded number of tasks in one anyio task group.

Per document: claim it (``pending`` -> ``processing``, atomically, so a duplicate enqueue is harmless), run
it through the registered stages (:mod:`lexintel.pipeline.execute`) and end as ``indexed`` or ``failed``.
Every state change goes through the document lifecycle, so the status row, the event log and live streams
move together. On start, documents a crash left ``processing`` are put back to ``pending``
(:mod:`lexintel.pipeline.recovery`); at shutdown the drain lets running ones finish or requeues them.
"""

from __future__ import annotations

import logging
import sqlite3

import anyio
from anyio.abc import TaskStatus

from lexintel.pipeline.context import Lifecycle, PipelineStats, StageContext
from lexintel.pipeline.execute import execute
from lexintel.pipeline.queue import WorkQueue
from lexintel.pipeline.recovery import Drain, recover
from lexintel.settings import Settings
from lexintel.store.db import Database
from lexintel.store.records import Records

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

RESCAN_SECONDS = 30.0


class Pipeline:
    """Owns the worker tasks and the extraction limiter; takes its work from the :class:`WorkQueue`."""

    def __init__(self, settings: Settings, db: Database, records: Records, queue: WorkQueue,
                 lifecycle: Lifecycle) -> None:
        self.settings = settings
        self.db = db
        self.records = records
        self.queue = queue
        queue.key_of = records.scheduling_key  # round-robin across owners: one member's flood delays only them
        self.lifecycle = lifecycle
        self.stats = PipelineStats()
        self._limiter = anyio.CapacityLimiter(settings.extraction_workers)
        self._drain = Drain(queue)
        self.alive = False

    # the queue
    def enqueue(self, document_id: str) -> None:
        """Queue a pending document once (never blocks)."""
        self.queue.enqueue(document_id)

    def cancel(self, document_id: str) -> bool:
        """Stop work on a document (it is being deleted); True if it was running."""
        return self.queue.cancel(document_id)

    @property
    def running(self) -> int:
        """Documents being worked on now."""
        return self.queue.running

    @property
    def draining(self) -> bool:
        """True once shutdown began: no new document starts."""
        return self._drain.active

    # start and stop
    def recover(self) -> int:
        """Requeue documents a previous process left ``processing``, then queue every pending one."""
        return recover(self.records, self.lifecycle, self.queue)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Recover, then drain the queue with ``concurrency`` tasks until cancelled."""
        self.recover()
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.settings.concurrency):
                    tg.start_soon(self._worker)
                tg.start_soon(self._rescan)
                self.alive = True
                task_status.started()
        finally:
            self.alive = False

    def begin_drain(self, grace: float) -> None:
        """Start no new documents; running ones have ``grace`` seconds from now to finish (idempotent)."""
        self._drain.begin(grace)

    async def drain(self, grace: float) -> int:
        """Shutdown: wait for running documents until the drain deadline, then stop the rest and set them back
        to ``pending`` so the next start resumes them. Returns how many were requeued."""
        return await self._drain.run(grace)

    # the workers
    async def _rescan(self) -> None:
        """Every ``RESCAN_SECONDS``, queue pending rows the queue does not hold. A document whose claim failed
        (e.g. the disk was full) is otherwise stranded until the next start."""
        while True:
            await anyio.sleep(RESCAN_SECONDS)
            if self.draining:
                continue
            try:
                for document_id in self.records.ids_with_status("pending"):
                    self.queue.enqueue(document_id)
            except sqlite3.Error:
                log.warning("pending re-scan failed; will try again", exc_info=True)

    async def _worker(self) -> None:
        while True:
            document_id = await self.queue.take()
            if self.draining:
                continue  # stays pending in the database: the next start's recover() queues it
            try:
                await self.process(document_id)
            except Exception:  # never let one document stop a worker task
                log.exception("pipeline error on document %s", document_id)

    async def process(self, document_id: str) -> None:
        """Run one document through every stage (no-op unless it is ``pending``)."""
        doc = self.lifecycle.claim(document_id)
        if doc is None:
            return
        ctx = StageContext(doc, settings=self.settings, db=self.db, lifecycle=self.lifecycle, stats=self.stats,
                           limiter=self._limiter)
        with self.queue.working_on(document_id):
            await execute(ctx, self.lifecycle)
        if self._drain.stopped(document_id):
            try:
                self.lifecycle.requeue_interrupted(doc)
            finally:
                self._drain.settled(document_id)
