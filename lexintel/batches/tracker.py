"""Following live batches: their events, stage by stage, until they complete or fail.

Batch-level events (``document_id`` null, ``batch_id`` set) go through the Emitter like every other event, so
they land in the batch's durable stream (resumable by Last-Event-ID) and its case stream. While a batch's
documents do not all exist yet (upload, unpacking), whoever is producing them reports through
:meth:`BatchTracker.report`. Once they exist, the tracker follows them by listening to the Emitter: a document
event schedules a recomputation of its batch at most once per ``progress_interval`` (so a 500-document batch
does not double the event rate). Progress never decreases and the stage never goes back.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from lexintel.batches.progress import FIRST_DOCUMENT_RANK, batch_stage, summarize, unix
from lexintel.clock import new_id, utc_now_iso
from lexintel.events.emitter import EmittedEvent, Emitter, Write
from lexintel.events.model import EventError, ProgressEvent
from lexintel.pipeline.stages import batch_rank, batch_share, batch_stage_ranks
from lexintel.settings import Settings
from lexintel.store import batches as rows
from lexintel.store import uploads
from lexintel.store.db import Database

__all__ = ["BatchTracker"]

log = logging.getLogger(__name__)



def _count(n: int, noun: str) -> str:
    """``1 document``, ``2 documents``: the messages are read by people (issue 17: "1 pages")."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"

@dataclass
class _State:
    """What the tracker keeps in memory about a live batch (rebuilt from rows after a restart)."""

    case_id: str
    created: float  # unix time
    filename: str
    ready: bool = False  # every document exists: progress comes from documents now
    done: bool = False
    stage: str = "uploading"
    progress: float = 0.0
    last_emit: float = 0.0  # monotonic
    timer: asyncio.TimerHandle | None = None
    signature: tuple[Any, ...] = field(default_factory=tuple)


class BatchTracker:
    """Creates batches and reports their progress (from their producer, then from their documents)."""

    def __init__(self, settings: Settings, db: Database, emitter: Emitter) -> None:
        self.settings = settings
        self.db = db
        self.emitter = emitter
        self._states: dict[str, _State] = {}

    def recover(self) -> None:
        """Resume following unfinished batches; fail those whose unpacking a restart cut short."""
        for row in rows.unfinished(self.db):
            st = _State(row["case_id"], unix(row["created_at"]), row["source_name"] or "", stage=row["stage"],
                        progress=row["progress"])
            self._states[row["id"]] = st
            if row["ready"]:
                st.ready = True
                self.flush(row["id"])
            elif row["stage"] == "uploading" and uploads.has_open(self.db, row["id"]):
                continue  # a chunked upload: resumable across restarts
            elif (made := summarize(rows.summary(self.db, row["id"], batch_stage_ranks(), FIRST_DOCUMENT_RANK)).n):
                self._adopt_documents(row["id"], st, made, row["items_total"])
            else:
                self.fail(row["id"], "interrupted",
                          "The server restarted before this batch's files were unpacked; upload it again.")

    def _adopt_documents(self, batch_id: str, st: _State, made: int, expected: int) -> None:
        """A restart cut the recording of an archive's documents short: the ones that exist have their files
        (they are recorded file first) and are processed, so the batch follows them instead of failing, and
        its log says what was lost."""
        rows.set_items_total(self.db, batch_id, made)
        if made < expected:
            with self.db.transaction() as conn:
                rows.log(conn, batch_id, at=utc_now_iso(), level="interrupted", code="interrupted",
                         name=st.filename, message=f"The server restarted while recording this batch: {made} of "
                         f"{expected} files became documents; upload the rest again.")
        rows.mark_ready(self.db, batch_id)
        st.ready = True
        self.flush(batch_id)

    # a batch before its documents exist
    def create(self, case_id: str, kind: str, filename: str, *, items_total: int = 0, bytes_total: int = 0,
               message: str, stage_progress: float = 100.0) -> str:
        """Insert a batch (stage ``uploading``) and emit its first event; returns its id."""
        batch_id = new_id()
        now = utc_now_iso()
        self._states[batch_id] = _State(case_id, unix(now), filename)

        def insert(conn: sqlite3.Connection) -> None:
            rows.insert(conn, batch_id, case_id, kind=kind, filename=filename, items_total=items_total,
                        bytes_total=bytes_total, message=message, created_at=now)

        # items_done counts documents finished (DESIGN: "documents in a batch"): none yet, even once every file
        # is received (the page read "330/330 · 10%" before anything was processed)
        self.report(batch_id, "uploading", stage_progress / 100, message, items_total=items_total,
                    items_done=0, first_write=insert)
        return batch_id

    def stage(self, batch_id: str) -> str:
        """The stage a batch last reported (from its row once it has ended)."""
        st = self._states.get(batch_id)
        return st.stage if st is not None else rows.stage(self.db, batch_id)

    def report(self, batch_id: str, stage: str, fraction: float, message: str, *, items_total: int = 0,
               items_done: int = 0, eta: float | None = None, throttle: bool = False,
               first_write: Write | None = None) -> None:
        """``fraction`` (0-1) of a batch-only stage (upload, unpacking) is done; with ``throttle``, at most one
        event per ``progress_interval``. Ignored once the batch is done (or unknown)."""
        st = self._states.get(batch_id)
        if st is None or st.done:
            return
        if throttle and time.monotonic() - st.last_emit < self.settings.progress_interval:
            return
        start, weight = batch_share(stage)
        self._emit(batch_id, stage=stage, progress=start + weight * fraction, stage_progress=100 * fraction,
                   items_total=items_total, items_done=items_done, eta=eta, message=message,
                   first_write=first_write)

    def reached(self, batch_id: str, progress: float) -> None:
        """The batch's own stages are behind it: its progress is at least ``progress`` (no event)."""
        st = self._states[batch_id]
        st.progress = max(st.progress, progress)

    def skip(self, batch_id: str, code: str, name: str, message: str) -> None:
        """An entry of the batch's source was skipped: logged, counted, and said on the stream (a progress
        event carrying an ``error``)."""
        st = self._states[batch_id]

        def record(conn: sqlite3.Connection) -> None:
            rows.log(conn, batch_id, at=utc_now_iso(), level="skipped", code=code, name=name, message=message)
            rows.count_skipped(conn, batch_id)

        self._emit(batch_id, stage=st.stage, progress=st.progress, message=message, error=EventError(code, message),
                   first_write=record)

    # following documents
    def documents_added(self, batch_id: str) -> None:
        """Every document of the batch exists: from now on its progress comes from them."""
        rows.mark_ready(self.db, batch_id)
        self._states[batch_id].ready = True
        self.flush(batch_id)

    def on_event(self, event: EmittedEvent) -> None:
        """Emitter listener: a document of a live batch moved; recompute the batch soon."""
        batch_id = event.event.batch_id
        if not batch_id or event.event.document_id is None:
            return
        st = self._states.get(batch_id)
        if st is None or not st.ready or st.done:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush(batch_id)
            return
        if st.timer is None:  # throttled: at most one batch event per progress_interval
            delay = max(0.0, st.last_emit + self.settings.progress_interval - time.monotonic())
            st.timer = loop.call_later(delay, self._scheduled_flush, batch_id)

    def _scheduled_flush(self, batch_id: str) -> None:
        st = self._states.get(batch_id)
        if st is None:
            return
        st.timer = None
        try:
            self.flush(batch_id)
        except Exception:
            log.exception("batch %s progress update failed", batch_id)

    def flush(self, batch_id: str) -> None:
        """Recompute a ready batch from its documents; emit if anything moved; complete it when all are done."""
        st = self._states.get(batch_id)
        if st is None or not st.ready or st.done:
            return
        s = summarize(rows.summary(self.db, batch_id, batch_stage_ranks(), FIRST_DOCUMENT_RANK))
        n, finished = s.n, s.finished
        if n == 0:
            self.fail(batch_id, "no_documents", "The batch has no documents.")
            return
        counts = s.counts_text(rows.skipped(self.db, batch_id))
        if finished == n:
            st.done = True
            self._emit(batch_id, status="completed", stage="completed", progress=100.0, stage_progress=100,
                       items_total=n, items_done=n, eta=0.0, terminal=True,
                       message=f"Batch complete: {_count(n, 'document')}, {counts}",
                       row_values={"status": "completed", "finished_at": utc_now_iso()})
            self._forget(batch_id)
            return
        stage = batch_stage(s, st.stage)
        progress = s.progress
        signature = (stage, finished, round(progress, 1))
        if signature == st.signature:
            return
        st.signature = signature
        rate = f", {s.pages_per_second:.1f} pages/s" if s.pages_per_second is not None else ""
        self._emit(batch_id, stage=stage, progress=progress, stage_progress=100 * s.documents_share, items_total=n,
                   items_done=finished, eta=s.eta_seconds,
                   message=f"Processing {_count(n, 'document')}: {counts}, {n - finished} to go "
                           f"({_count(s.pages_done, 'page')}{rate})")

    # the end
    def fail(self, batch_id: str, code: str, detail: str) -> None:
        """The batch itself cannot go on (not one of its documents): a terminal ``error`` event."""
        st = self._states.get(batch_id)
        if st is None or st.done:
            return
        st.done = True
        self._emit(batch_id, status="failed", stage="failed", progress=st.progress, message=detail, terminal=True,
                   error=EventError(code, detail),
                   row_values={"status": "failed", "error_code": code, "error_message": detail,
                               "finished_at": utc_now_iso()})
        self._forget(batch_id)

    def _forget(self, batch_id: str) -> None:
        st = self._states.pop(batch_id, None)
        if st is not None and st.timer is not None:
            st.timer.cancel()

    def _emit(self, batch_id: str, *, stage: str, progress: float, message: str, status: str = "processing",
              stage_progress: float = 0.0, items_total: int = 0, items_done: int = 0, eta: float | None = None,
              error: EventError | None = None, terminal: bool = False,
              row_values: dict[str, Any] | None = None, first_write: Write | None = None) -> None:
        """One batch-level event; the row's stage/progress change in the same transaction. Never goes back."""
        st = self._states[batch_id]
        st.progress = max(st.progress, min(progress, 100.0))
        if batch_rank(stage) >= batch_rank(st.stage):
            st.stage = stage
        values = {"stage": st.stage, "progress": st.progress, "message": message, **(row_values or {})}

        def write(conn: sqlite3.Connection) -> None:
            if first_write is not None:
                first_write(conn)
            rows.update(conn, batch_id, values)

        self.emitter.emit(
            ProgressEvent(
                case_id=st.case_id, batch_id=batch_id, status=status, stage=st.stage, progress=st.progress,
                stage_progress=min(stage_progress, 100.0), items_total=items_total, items_done=items_done,
                message=message, elapsed_seconds=max(time.time() - st.created, 0.0),
                eta_seconds=None if eta is None else max(eta, 0.0), error=error, filename=st.filename or None,
            ),
            terminal=terminal, write=write,
        )
        st.last_emit = time.monotonic()
