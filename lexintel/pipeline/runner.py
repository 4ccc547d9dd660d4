"""The pipeline runner: a work queue drained by a bounded number of tasks in one anyio task group.

Per document: claim it (``pending`` -> ``processing``, atomically, so a duplicate enqueue is harmless),
extract in the process pool step by step under a wall-clock limit, chunk, index into FTS5, and finish as
``indexed`` or ``failed``. Every state change goes through the emitter, so the status row, the event log and
live streams move together. On start, documents a crash left ``processing`` are put back to ``pending``.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_process
import anyio.to_thread
from anyio.abc import TaskStatus

from lexintel.clock import utc_now_iso
from lexintel.errors import is_disk_full
from lexintel.events.emitter import Emitter
from lexintel.events.model import EventError, ProgressEvent
from lexintel.pipeline.chunk import chunk_pages
from lexintel.pipeline.extract import extract_step
from lexintel.settings import Settings
from lexintel.store.db import Database
from lexintel.store.records import Records

__all__ = ["DocumentFailed", "Pipeline", "PipelineStats"]

log = logging.getLogger(__name__)

# Share of a document's overall progress given to each stage.
EXTRACT_SHARE, CHUNK_SHARE = 80.0, 5.0
INDEX_BATCH = 256
RESCAN_SECONDS = 30.0
STEP_BUDGET = 0.2  # seconds of extraction per worker call: bounds progress latency and call overhead


class DocumentFailed(Exception):
    """A document cannot be processed; ``detail`` is shown to the user."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class PipelineStats:
    """Counters for /metrics and benchmarks."""

    pages_extracted: int = 0
    documents_indexed: int = 0
    documents_failed: int = 0
    worker_restarts: int = 0
    observers: list[Callable[[str, float], None]] = field(default_factory=list)  # e.g. the metrics histogram

    def observe(self, stage: str, seconds: float) -> None:
        """Hand one stage duration to the observers (the metrics histogram); nothing is kept here."""
        for observer in self.observers:
            observer(stage, seconds)


@dataclass
class _Run:
    """One attempt at one document: what events need to say about it."""

    row: sqlite3.Row
    run: int
    started: float
    pages_total: int = 0
    pages_done: int = 0
    progress: float = 0.0
    last_emit: float = 0.0
    extract_started: float = 0.0

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def filename(self) -> str:
        return str(self.row["filename"])

    def advance(self, value: float) -> float:
        """Progress never decreases within a run."""
        self.progress = max(self.progress, min(value, 100.0))
        return self.progress

    def eta(self) -> float | None:
        """Seconds left, from the observed pages/s; None until a page is done."""
        if self.pages_done == 0 or self.pages_total == 0:
            return None
        elapsed = time.monotonic() - self.extract_started
        rate = self.pages_done / max(elapsed, 1e-6)
        remaining = max(self.pages_total - self.pages_done, 0) / rate
        return remaining + 0.05 * elapsed  # chunking and indexing take a small fraction of extraction


def _update_document(document_id: str, **values: Any) -> Callable[[sqlite3.Connection], None]:
    columns = ", ".join(f"{name} = ?" for name in values)

    def write(conn: sqlite3.Connection) -> None:
        conn.execute(f"UPDATE documents SET {columns} WHERE id = ?", (*values.values(), document_id))

    return write


def _then(
    first: Callable[[sqlite3.Connection], None] | None, second: Callable[[sqlite3.Connection], None]
) -> Callable[[sqlite3.Connection], None]:
    if first is None:
        return second

    def both(conn: sqlite3.Connection) -> None:
        first(conn)
        second(conn)

    return both


class Pipeline:
    """Owns the queue, the worker tasks and the extraction limiter."""

    def __init__(self, settings: Settings, db: Database, records: Records, emitter: Emitter) -> None:
        self.settings = settings
        self.db = db
        self.records = records
        self.emitter = emitter
        self.stats = PipelineStats()
        self._send, self._receive = anyio.create_memory_object_stream[str](math.inf)
        self._limiter = anyio.CapacityLimiter(settings.extraction_workers)
        self._running: dict[str, anyio.CancelScope] = {}
        self.finished_hooks: list[Callable[[str], None]] = []  # called with a document id when terminal
        self.alive = False
        # Graceful shutdown: no new documents start once draining; running ones stopped at the deadline are
        # put back to pending (see drain()).
        self.draining = False
        self._drain_deadline = math.inf
        self._requeue: set[str] = set()
        self._queued: set[str] = set()  # ids waiting in the queue: enqueue is idempotent

    # queue
    def enqueue(self, document_id: str) -> None:
        """Queue a pending document once (never blocks; the queue is unbounded, rows are the real backlog)."""
        if document_id in self._queued or document_id in self._running:
            return
        self._queued.add(document_id)
        self._send.send_nowait(document_id)

    async def _rescan(self) -> None:
        """Every ``RESCAN_SECONDS``, queue pending rows the queue does not hold. A document whose claim failed
        (e.g. the disk was full) is otherwise stranded until the next start."""
        while True:
            await anyio.sleep(RESCAN_SECONDS)
            if self.draining:
                continue
            try:
                for document_id in self.records.ids_with_status("pending"):
                    self.enqueue(document_id)
            except sqlite3.Error:
                log.warning("pending re-scan failed; will try again", exc_info=True)

    def recover(self) -> int:
        """Requeue documents a previous process left ``processing``, then queue every pending one."""
        stuck = self.records.ids_with_status("processing")
        for document_id in stuck:
            row = self.records.document(document_id)
            self.emitter.emit(
                ProgressEvent(
                    case_id=row["case_id"],
                    document_id=document_id,
                    batch_id=row["batch_id"],
                    run=row["run"] + 1,  # starts again from 0%: a new run, so progress never drops within one
                    status="processing",
                    stage="queued",
                    progress=0,
                    message=f"Requeued {row['filename']} after a restart",
                    filename=row["filename"],
                ),
                write=_update_document(document_id, status="pending", stage="queued", progress=0, run=row["run"] + 1),
            )
        pending = self.records.ids_with_status("pending")
        for document_id in pending:
            self.enqueue(document_id)
        if stuck or pending:
            log.info("recovered %d interrupted and %d pending documents", len(stuck), len(pending))
        return len(stuck)

    @property
    def running(self) -> int:
        """Documents being worked on now."""
        return len(self._running)

    def cancel(self, document_id: str) -> bool:
        """Stop work on a document (it is being deleted); True if it was running."""
        scope = self._running.get(document_id)
        if scope is None:
            return False
        scope.cancel()
        return True

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
        if not self.draining:
            self.draining = True
            self._drain_deadline = time.monotonic() + grace

    async def drain(self, grace: float) -> int:
        """Shutdown: wait for running documents until the drain deadline, then stop the rest and set them back
        to ``pending`` (with a ``queued`` event) so the next start's :meth:`recover` resumes them.
        Returns how many were requeued."""
        self.begin_drain(grace)
        with anyio.move_on_after(max(0.0, self._drain_deadline - time.monotonic())):
            while self._running:  # noqa: ASYNC110 (shutdown only: not worth an Event on every document)
                await anyio.sleep(0.05)
        stopped = list(self._running)
        for document_id in stopped:
            self._requeue.add(document_id)
            self._running[document_id].cancel()
        with anyio.move_on_after(10):  # each stopped document emits its `queued` event as it unwinds
            while self._requeue:  # noqa: ASYNC110
                await anyio.sleep(0.01)
        return len(stopped)

    async def _worker(self) -> None:
        async for document_id in self._receive:
            self._queued.discard(document_id)
            if self.draining:
                continue  # stays pending in the database: the next start's recover() queues it
            try:
                await self.process(document_id)
            except Exception:  # never let one document stop a worker task
                log.exception("pipeline error on document %s", document_id)

    # one document
    def _claim(self, document_id: str) -> _Run | None:
        row = self.db.query_one("SELECT status FROM documents WHERE id = ?", (document_id,))
        if row is None or row["status"] != "pending":
            return None  # deleted, or already claimed by a duplicate enqueue
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM pages WHERE document_id = ?", (document_id,))
            conn.execute(
                "UPDATE documents SET status = 'processing', started_at = ?, finished_at = NULL,"
                " pages_done = 0, chunks = 0, error_code = NULL, error_message = NULL WHERE id = ?",
                (utc_now_iso(), document_id),
            )
        row = self.records.document(document_id)
        return _Run(row=row, run=row["run"], started=time.monotonic())

    def _emit(self, r: _Run, stage: str, message: str, *, stage_progress: float = 0.0, items_total: int = 0,
              items_done: int = 0, also: Callable[[sqlite3.Connection], None] | None = None,
              **row_values: Any) -> None:
        """One event about ``r``; its document row gets ``row_values`` (and ``also`` runs) in the same commit."""
        status = {"completed": "completed", "failed": "failed"}.get(stage, "processing")
        error = None
        if stage == "failed":
            error = EventError(row_values.get("error_code", "failed"), row_values.get("error_message", ""))
        self.emitter.emit(
            ProgressEvent(
                case_id=r.row["case_id"],
                document_id=r.id,
                batch_id=r.row["batch_id"],
                run=r.run,
                status=status,
                stage=stage,
                progress=r.progress,
                stage_progress=stage_progress,
                items_total=items_total,
                items_done=items_done,
                message=message,
                elapsed_seconds=time.monotonic() - r.started,
                eta_seconds=0.0 if status == "completed" else (None if status == "failed" else r.eta()),
                error=error,
                filename=r.filename,
            ),
            terminal=status != "processing",
            write=_then(also, _update_document(r.id, stage=stage, progress=r.progress, message=message, **row_values)),
        )
        r.last_emit = time.monotonic()

    async def process(self, document_id: str) -> None:
        """Run one document through every stage (no-op unless it is ``pending``)."""
        r = self._claim(document_id)
        if r is None:
            return
        with anyio.CancelScope() as scope:
            self._running[document_id] = scope
            try:
                await self._stages(r)
            except DocumentFailed as failure:
                self._fail(r, failure.code, failure.detail)
            except Exception as exc:
                if is_disk_full(exc):  # a clear reason instead of "internal_error" (the failure write may fail too)
                    log.error("document %s: storage full: %s", document_id, exc)
                    self._fail(r, "disk_full", "The server ran out of disk space while storing this document; "
                               "free space in its data directory, then retry it.")
                else:
                    log.exception("document %s failed unexpectedly", document_id)
                    self._fail(r, "internal_error", f"Unexpected error while processing: {type(exc).__name__}")
            finally:
                self._running.pop(document_id, None)
        if document_id in self._requeue:
            self._requeue_interrupted(r)
            return
        for hook in self.finished_hooks:
            hook(document_id)

    def _requeue_interrupted(self, r: _Run) -> None:
        """Put a document stopped by shutdown back to ``pending``; its stream says it will resume."""
        try:
            message = f"{r.filename} was interrupted by a server shutdown; it will resume when the server restarts"
            self.emitter.emit(
                ProgressEvent(case_id=r.row["case_id"], document_id=r.id, batch_id=r.row["batch_id"], run=r.run,
                              status="processing", stage="queued", progress=0, message=message, filename=r.filename),
                write=_update_document(r.id, status="pending", stage="queued", progress=0, message=message),
            )
        finally:
            self._requeue.discard(r.id)

    def _fail(self, r: _Run, code: str, detail: str) -> None:
        self.stats.documents_failed += 1
        self._emit(r, "failed", f"{r.filename} failed: {detail}", status="failed", error_code=code,
                   error_message=detail, finished_at=utc_now_iso())

    async def _stages(self, r: _Run) -> None:
        t0 = time.monotonic()
        pages = await self._extract(r)
        t1 = time.monotonic()
        self.stats.observe("extracting", t1 - t0)

        r.advance(EXTRACT_SHARE)
        self._emit(r, "chunking", f"Splitting {r.filename} into passages", items_total=r.pages_total,
                   items_done=0)
        size, overlap = self.settings.chunk_size, self.settings.chunk_overlap
        chunks = await anyio.to_thread.run_sync(chunk_pages, pages, size, overlap)
        t2 = time.monotonic()
        self.stats.observe("chunking", t2 - t1)
        r.advance(EXTRACT_SHARE + CHUNK_SHARE)

        await self._index(r, chunks)
        self.stats.observe("indexing", time.monotonic() - t2)

        r.advance(100.0)
        self.stats.documents_indexed += 1
        if chunks:
            message = f"Indexed {r.filename}: {r.pages_total} pages, {len(chunks)} passages"
        else:
            message = f"Indexed {r.filename}: no text found (scanned images need OCR, which LexIntel does not do)"
        self._emit(r, "completed", message, stage_progress=100, items_total=len(chunks), items_done=len(chunks),
                   status="indexed", finished_at=utc_now_iso(), chunks=len(chunks))

    async def _extract(self, r: _Run) -> list[tuple[int, str]]:
        settings = self.settings
        path, kind = str(r.row["storage_path"]), str(r.row["kind"])
        r.extract_started = time.monotonic()
        self._emit(r, "extracting", f"Extracting text from {r.filename}", items_total=r.pages_total)
        pages: list[tuple[int, str]] = []
        start = 0
        try:
            with anyio.fail_after(settings.document_timeout):
                while True:
                    step = await anyio.to_process.run_sync(
                        extract_step, path, kind, start, STEP_BUDGET, settings.worker_memory_mb,
                        settings.pdf_boxes_flow, cancellable=True, limiter=self._limiter,
                    )
                    if step["error"] is not None:
                        raise DocumentFailed(*step["error"])
                    self._pages_done(r, step["pages"], int(step["total"]), final=step["next"] is None)
                    pages.extend(step["pages"])
                    if step["next"] is None:
                        return pages
                    start = int(step["next"])
        except TimeoutError:
            self.stats.worker_restarts += 1
            raise DocumentFailed(
                "timeout",
                f"Extraction did not finish within {settings.document_timeout:g} s (the PDF may be malformed); "
                "its worker process was stopped.",
            ) from None
        # anyio raises ProcessLookupError instead of BrokenWorkerProcess when a worker dies during its start-up
        except (anyio.BrokenWorkerProcess, ProcessLookupError):
            self.stats.worker_restarts += 1
            raise DocumentFailed(
                "worker_crashed", "The extraction worker process crashed on this file; other documents are unaffected."
            ) from None

    def _pages_done(self, r: _Run, new_pages: list[tuple[int, str]], total: int, *, final: bool) -> None:
        """Store new pages; emit page progress at most every ``progress_interval`` (always the last one)."""
        r.pages_total = total
        r.pages_done += len(new_pages)
        self.stats.pages_extracted += len(new_pages)
        share = r.pages_done / max(total, 1)
        r.advance(EXTRACT_SHARE * share)
        message = f"Extracting page {r.pages_done}/{total} from {r.filename}"
        rows = [(r.id, number, text) for number, text in new_pages]

        def store_pages(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO pages (document_id, page, text) VALUES (?, ?, ?)", rows)

        counts = {"pages_done": r.pages_done, "pages_total": total}
        if not final and time.monotonic() - r.last_emit < self.settings.progress_interval:
            with self.db.transaction() as conn:  # throttled: store the pages, skip the event
                store_pages(conn)
                _update_document(r.id, progress=r.progress, message=message, **counts)(conn)
            return
        self._emit(r, "extracting", message, stage_progress=100 * share, items_total=total, items_done=r.pages_done,
                   also=store_pages, **counts)

    async def _index(self, r: _Run, chunks: list[tuple[int, str]]) -> None:
        total = len(chunks)
        self._emit(r, "indexing", f"Indexing {total} passages of {r.filename}", items_total=total, items_done=0)
        case_id = r.row["case_id"]
        for offset in range(0, total, INDEX_BATCH):
            batch = chunks[offset : offset + INDEX_BATCH]
            rows = [(r.id, case_id, offset + i, page, text) for i, (page, text) in enumerate(batch)]
            with self.db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO chunks (document_id, case_id, seq, page, text) VALUES (?, ?, ?, ?, ?)", rows
                )
            done = offset + len(batch)
            r.advance(EXTRACT_SHARE + CHUNK_SHARE + (100 - EXTRACT_SHARE - CHUNK_SHARE) * done / total)
            if done < total and time.monotonic() - r.last_emit >= self.settings.progress_interval:
                self._emit(r, "indexing", f"Indexing passage {done}/{total} of {r.filename}",
                           stage_progress=100 * done / total, items_total=total, items_done=done)
            await anyio.lowlevel.checkpoint()  # let requests and streams run between batches
