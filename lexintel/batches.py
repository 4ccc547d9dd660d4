"""Batches: a multi-file, ZIP or chunked upload followed as one unit, stage by stage.

A batch moves ``uploading`` -> (``unpacking`` for a ZIP) -> ``extracting`` -> ``chunking`` -> ``indexing``
-> ``completed`` (or ``failed`` when the batch itself cannot go on: an archive refused, an upload that
expired). Once its documents exist, its stage is the earliest stage any unfinished document is in, so it only
moves forward; it completes when every document is terminal, however many failed: one bad file never fails
the batch, it is counted and listed with its reason.

Batch-level events (``document_id`` null, ``batch_id`` set) go through the Emitter like every other event,
so they land in the batch's durable stream (resumable by Last-Event-ID) and its case stream. The tracker
follows documents by listening to the Emitter: a document event schedules a recomputation of its batch,
at most once per ``progress_interval`` (stage changes and terminal events at once), so a 500-document batch
does not double the event rate. Progress never decreases; ``eta_seconds`` comes from the pages/s observed
across the batch (null until a page is done) and, while uploading, from the bytes/s observed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.abc import TaskGroup, TaskStatus

from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import BadRequest, Conflict, UnsupportedType
from lexintel.events.emitter import EmittedEvent, Emitter
from lexintel.events.model import EventError, ProgressEvent
from lexintel.settings import Settings
from lexintel.store.db import Database
from lexintel.store.files import IncomingFile
from lexintel.store.records import Records
from lexintel.upload import archive
from lexintel.upload.archive import ArchiveRefused, Limits, Skipped

if TYPE_CHECKING:
    from lexintel.upload.intake import Intake, NewDocument

__all__ = ["BatchTracker"]

log = logging.getLogger(__name__)

UPLOAD_SHARE, UNPACK_SHARE = 10.0, 10.0  # of a batch's overall progress; documents get the rest
PROCESS_SHARE = 100.0 - UPLOAD_SHARE - UNPACK_SHARE
RANK = {"uploading": 0, "unpacking": 1, "queued": 2, "extracting": 2, "chunking": 3, "indexing": 4,
        "completed": 5, "failed": 5}
ACTIVE_STAGE = {2: "extracting", 3: "chunking", 4: "indexing"}
TERMINAL = ("indexed", "failed")

_SUMMARY = """
SELECT COUNT(*) AS n,
  COALESCE(SUM(status = 'indexed'), 0) AS indexed,
  COALESCE(SUM(status = 'failed'), 0) AS failed,
  COALESCE(SUM(status = 'processing'), 0) AS processing,
  COALESCE(SUM(status = 'pending'), 0) AS pending,
  COALESCE(SUM(CASE WHEN status IN ('indexed', 'failed') THEN 100.0 ELSE progress END), 0) AS progress_sum,
  COALESCE(SUM(pages_done), 0) AS pages_done,
  COALESCE(SUM(CASE WHEN pages_total IS NOT NULL THEN pages_total ELSE 0 END), 0) AS pages_known,
  COALESCE(SUM(CASE WHEN pages_total IS NOT NULL THEN size_bytes ELSE 0 END), 0) AS bytes_known,
  COALESCE(SUM(CASE WHEN status NOT IN ('indexed', 'failed') AND pages_total IS NOT NULL
                    THEN MAX(pages_total - pages_done, 0) ELSE 0 END), 0) AS pages_left,
  COALESCE(SUM(CASE WHEN status NOT IN ('indexed', 'failed') AND pages_total IS NULL
                    THEN size_bytes ELSE 0 END), 0) AS bytes_unknown,
  MIN(CASE WHEN status NOT IN ('indexed', 'failed')
           THEN CASE stage WHEN 'chunking' THEN 3 WHEN 'indexing' THEN 4 ELSE 2 END END) AS active_rank,
  MIN(started_at) AS first_started
FROM documents WHERE batch_id = ?
"""


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f}"


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
    upload_t0: float | None = None
    upload_b0: int = 0
    signature: tuple[Any, ...] = field(default_factory=tuple)


class BatchTracker:
    """Creates batches, unpacks ZIPs into them and reports their progress."""

    def __init__(self, settings: Settings, db: Database, records: Records, emitter: Emitter,
                 incoming_dir: Path) -> None:
        self.settings = settings
        self.db = db
        self.records = records
        self.emitter = emitter
        self.incoming_dir = incoming_dir
        self.intake: Intake | None = None  # set by Services (the two refer to each other)
        self._states: dict[str, _State] = {}
        self._tg: TaskGroup | None = None

    @property
    def limits(self) -> Limits:
        """ZIP limits from the settings."""
        s = self.settings
        return Limits(s.zip_max_entries, s.zip_max_total_bytes, s.zip_max_ratio, s.zip_ratio_grace_bytes)

    # lifecycle
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Recover batches a restart interrupted, then host unpacking jobs until cancelled."""
        self.recover()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            await anyio.sleep_forever()

    def recover(self) -> None:
        """Resume following unfinished batches; fail those whose unpacking a restart cut short."""
        rows = self.db.query(
            "SELECT b.*, s.ready, s.filename AS source_name FROM batches b"
            " LEFT JOIN batch_sources s ON s.batch_id = b.id WHERE b.status = 'processing'"
        )
        for row in rows:
            st = _State(row["case_id"], _unix(row["created_at"]), row["source_name"] or "", stage=row["stage"],
                        progress=row["progress"])
            self._states[row["id"]] = st
            if row["ready"]:
                st.ready = True
                self.flush(row["id"])
            elif row["stage"] == "uploading" and self.db.query_one(
                "SELECT 1 FROM upload_sessions WHERE batch_id = ? AND status IN ('open', 'assembling')",
                (row["id"],),
            ):
                continue  # a chunked upload: resumable across restarts
            else:
                self.fail(row["id"], "interrupted",
                          "The server restarted before this batch's files were unpacked; upload it again.")

    # creating batches
    def create(self, case_id: str, kind: str, filename: str, *, items_total: int = 0, bytes_total: int = 0,
               message: str, stage_progress: float = 100.0) -> str:
        """Insert a batch (stage ``uploading``) and emit its first event; returns its id."""
        batch_id = new_id()
        now = utc_now_iso()
        st = _State(case_id, _unix(now), filename)
        self._states[batch_id] = st

        def write(conn: Any) -> None:
            conn.execute(
                "INSERT INTO batches (id, case_id, status, stage, progress, items_total, bytes_total, message,"
                " created_at) VALUES (?, ?, 'processing', 'uploading', 0, ?, ?, ?, ?)",
                (batch_id, case_id, items_total, bytes_total, message, now),
            )
            conn.execute("INSERT INTO batch_sources (batch_id, kind, filename) VALUES (?, ?, ?)",
                         (batch_id, kind, filename))

        self._emit(batch_id, stage="uploading", progress=UPLOAD_SHARE * stage_progress / 100, message=message,
                   stage_progress=stage_progress, items_total=items_total,
                   items_done=items_total if stage_progress >= 100 else 0, first_write=write)
        return batch_id

    async def accept_files(self, case_id: str, docs: list[NewDocument]) -> dict[str, Any]:
        """A multi-file upload: one batch, its documents (refused files as failed ones), 202 body."""
        assert self.intake is not None
        size = sum(d.size for d in docs)
        batch_id = self.create(case_id, "files", "", items_total=len(docs), bytes_total=size,
                               message=f"Received {len(docs)} files ({_mb(size)} MB)")
        body = await self.intake.create(case_id, docs, batch_id)
        self.documents_added(batch_id)
        return {**body, "status": "processing", "stage": self._states[batch_id].stage}

    async def accept_zip(self, case_id: str, filename: str, incoming: IncomingFile,
                         batch_id: str | None = None) -> dict[str, Any]:
        """A ZIP on disk: (create and) start unpacking it in the background; 202 body without documents yet."""
        if self._tg is None:
            await incoming.discard()
            raise Conflict("not_ready", "The server is starting or stopping; retry the upload in a moment.")
        await incoming.close()
        if batch_id is None:
            batch_id = self.create(case_id, "zip", filename, bytes_total=incoming.size,
                                   message=f"Received {filename} ({_mb(incoming.size)} MB)")
        else:
            self.db.conn.execute("UPDATE batch_sources SET kind = 'zip' WHERE batch_id = ?", (batch_id,))
        self._tg.start_soon(self._unpack, batch_id, filename, incoming.path)
        return {"case_id": case_id, "batch_id": batch_id, "document_ids": [], "documents": [],
                "status": "processing", "stage": "unpacking"}

    async def accept_single(self, case_id: str, batch_id: str, filename: str,
                            incoming: IncomingFile) -> dict[str, Any]:
        """A chunked upload's assembled file: a ZIP is unpacked, a PDF/text becomes the batch's document."""
        from lexintel.upload.intake import judge

        assert self.intake is not None
        doc = judge(filename, incoming)
        if doc.kind == "zip" and incoming.size > 0:
            return await self.accept_zip(case_id, filename, incoming, batch_id)
        if doc.problem is not None:
            await incoming.discard()
            code, detail = doc.problem
            self.fail(batch_id, code, detail)
            raise (UnsupportedType if code == "unsupported_type" else BadRequest)(code, detail)
        self.db.conn.execute("UPDATE batches SET items_total = 1 WHERE id = ?", (batch_id,))
        body = await self.intake.create(case_id, [doc], batch_id)
        self.documents_added(batch_id)
        return {**body, "status": "processing", "stage": self._states[batch_id].stage}

    # unpacking
    async def _unpack(self, batch_id: str, filename: str, path: Path) -> None:
        assert self.intake is not None
        st = self._states[batch_id]
        stop = threading.Event()
        limits = self.limits
        try:
            self._emit(batch_id, stage="unpacking", progress=UPLOAD_SHARE, message=f"Checking {filename}")
            plan = await anyio.to_thread.run_sync(archive.inspect, path, limits)
            entries = len(plan.entries)
            self._emit(batch_id, stage="unpacking", progress=UPLOAD_SHARE, items_total=entries,
                       message=f"Unpacking {filename}: {entries} files of {plan.total_entries} entries")
            for skipped in plan.skipped:
                self._skip(batch_id, skipped)

            def progress(done: int, inflated: int, name: str) -> None:
                anyio.from_thread.run_sync(self._unpack_progress, batch_id, done, entries, inflated, name)

            def on_skip(skipped: Skipped) -> None:
                anyio.from_thread.run_sync(self._skip, batch_id, skipped)

            job = partial(archive.extract, path, plan, self.incoming_dir, limits, progress=progress,
                          on_skip=on_skip, stop=stop)
            extracted = await anyio.to_thread.run_sync(job, abandon_on_cancel=True)
        except ArchiveRefused as refused:
            self._log(batch_id, "refused", refused.code, filename, refused.detail)
            self.fail(batch_id, refused.code, refused.detail)
            return
        except Exception as exc:
            log.exception("unpacking batch %s failed", batch_id)
            self.fail(batch_id, "unpack_failed", f"{filename} could not be unpacked ({type(exc).__name__}).")
            return
        finally:
            stop.set()
            with anyio.CancelScope(shield=True):
                await anyio.Path(path).unlink(missing_ok=True)
        from lexintel.upload.intake import NewDocument

        docs = []
        for item in extracted:
            incoming = IncomingFile(item.path)
            incoming.size, incoming.head = item.size, item.head
            docs.append(NewDocument(item.filename, incoming, item.size, item.sha256, item.kind))
        if not docs:
            self.fail(batch_id, "no_documents", f"{filename} holds no PDF or text file (see the batch log).")
            return
        self.db.conn.execute("UPDATE batches SET items_total = ? WHERE id = ?", (len(docs), batch_id))
        st.progress = max(st.progress, UPLOAD_SHARE + UNPACK_SHARE)
        await self.intake.create(st.case_id, docs, batch_id)
        self.documents_added(batch_id)

    def _unpack_progress(self, batch_id: str, done: int, total: int, inflated: int, name: str) -> None:
        st = self._states[batch_id]
        if done < total and time.monotonic() - st.last_emit < self.settings.progress_interval:
            return
        share = done / max(total, 1)
        self._emit(batch_id, stage="unpacking", progress=UPLOAD_SHARE + UNPACK_SHARE * share,
                   stage_progress=100 * share, items_total=total, items_done=done,
                   message=f"Unpacking {done}/{total} ({_mb(inflated)} MB): {name}")

    def _skip(self, batch_id: str, skipped: Skipped) -> None:
        """Log a skipped entry and say so on the stream (a progress event carrying an ``error``)."""
        message = f"Skipped {skipped.name}: {skipped.detail}"
        self._log(batch_id, "skipped", skipped.code, skipped.name, message)
        self.db.conn.execute("UPDATE batch_sources SET skipped = skipped + 1 WHERE batch_id = ?", (batch_id,))
        st = self._states[batch_id]
        self._emit(batch_id, stage=st.stage, progress=st.progress, message=message,
                   error=EventError(skipped.code, message))

    def _log(self, batch_id: str, level: str, code: str, name: str, message: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO batch_log (batch_id, at, level, code, name, message) VALUES (?, ?, ?, ?, ?, ?)",
                         (batch_id, utc_now_iso(), level, code, name, message))

    # uploads
    def uploading(self, batch_id: str, *, bytes_done: int, bytes_total: int, chunks_done: int,
                  chunks_total: int) -> None:
        """One chunk arrived: an ``uploading`` event with MB and %, ETA from the observed bytes/s."""
        st = self._states.get(batch_id)
        if st is None or st.done:
            return
        now = time.monotonic()
        if st.upload_t0 is None:
            st.upload_t0, st.upload_b0 = now, bytes_done
        eta = None
        if now > st.upload_t0 and bytes_done > st.upload_b0:
            eta = (bytes_total - bytes_done) / ((bytes_done - st.upload_b0) / (now - st.upload_t0))
        share = bytes_done / max(bytes_total, 1)
        self._emit(batch_id, stage="uploading", progress=UPLOAD_SHARE * share, stage_progress=100 * share,
                   items_total=chunks_total, items_done=chunks_done, eta=eta,
                   message=f"Uploading {st.filename}: chunk {chunks_done}/{chunks_total}, "
                           f"{_mb(bytes_done)} of {_mb(bytes_total)} MB ({100 * share:.0f}%)")

    # following documents
    def documents_added(self, batch_id: str) -> None:
        """Every document of the batch exists: from now on its progress comes from them."""
        self.db.conn.execute("UPDATE batch_sources SET ready = 1 WHERE batch_id = ?", (batch_id,))
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

    def summary(self, batch_id: str) -> dict[str, Any]:
        """Counts, pages and an ETA for a batch, computed from its documents' rows."""
        row = self.db.query_one(_SUMMARY, (batch_id,))
        assert row is not None
        out = {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
        eta = None
        if row["first_started"] and row["pages_done"] > 0:
            seconds = max(time.time() - _unix(row["first_started"]), 1e-3)
            rate = row["pages_done"] / seconds
            out["pages_per_second"] = rate
            if row["bytes_unknown"] == 0 or row["bytes_known"] > 0:
                per_byte = row["pages_known"] / row["bytes_known"] if row["bytes_known"] else 0.0
                eta = (row["pages_left"] + row["bytes_unknown"] * per_byte) / rate
        out["eta_seconds"] = eta
        return out

    def flush(self, batch_id: str) -> None:
        """Recompute a ready batch from its documents; emit if anything moved; complete it when all are done."""
        st = self._states.get(batch_id)
        if st is None or not st.ready or st.done:
            return
        s = self.summary(batch_id)
        n, finished = s["n"], s["indexed"] + s["failed"]
        if n == 0:
            self.fail(batch_id, "no_documents", "The batch has no documents.")
            return
        skipped = self._skipped(batch_id)
        counts = f"{s['indexed']} indexed, {s['failed']} failed" + (f", {skipped} skipped" if skipped else "")
        if finished == n:
            st.done = True
            self._emit(batch_id, status="completed", stage="completed", progress=100.0, stage_progress=100,
                       items_total=n, items_done=n, eta=0.0, terminal=True,
                       message=f"Batch complete: {n} documents, {counts}",
                       row_values={"status": "completed", "finished_at": utc_now_iso()})
            self._forget(batch_id)
            return
        stage = ACTIVE_STAGE[max(s["active_rank"] or 2, RANK.get(st.stage, 0), 2)]
        docs_share = s["progress_sum"] / (100.0 * n)
        progress = UPLOAD_SHARE + UNPACK_SHARE + PROCESS_SHARE * docs_share
        signature = (stage, finished, round(progress, 1))
        if signature == st.signature:
            return
        st.signature = signature
        rate = f", {s['pages_per_second']:.1f} pages/s" if "pages_per_second" in s else ""
        self._emit(batch_id, stage=stage, progress=progress, stage_progress=100 * docs_share, items_total=n,
                   items_done=finished, eta=s["eta_seconds"],
                   message=f"Processing {n} documents: {counts}, {n - finished} to go ({s['pages_done']} pages{rate})")

    def _skipped(self, batch_id: str) -> int:
        row = self.db.query_one("SELECT skipped FROM batch_sources WHERE batch_id = ?", (batch_id,))
        return int(row[0]) if row else 0

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
              row_values: dict[str, Any] | None = None, first_write: Any = None) -> None:
        """One batch-level event; the row's stage/progress change in the same transaction. Never goes back."""
        st = self._states[batch_id]
        st.progress = max(st.progress, min(progress, 100.0))
        if RANK.get(stage, 0) >= RANK.get(st.stage, 0):
            st.stage = stage
        values = {"stage": st.stage, "progress": st.progress, "message": message, **(row_values or {})}
        columns = ", ".join(f"{name} = ?" for name in values)

        def write(conn: Any) -> None:
            if first_write is not None:
                first_write(conn)
            conn.execute(f"UPDATE batches SET {columns} WHERE id = ?", (*values.values(), batch_id))

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

    # reading
    def describe(self, batch_id: str) -> dict[str, Any]:
        """The batch row, where it came from, counts, elapsed/ETA and its log (GET /batches/{id})."""
        row = self.records.batch(batch_id)
        source = self.db.query_one("SELECT * FROM batch_sources WHERE batch_id = ?", (batch_id,))
        s = self.summary(batch_id)
        end = _unix(row["finished_at"]) if row["finished_at"] else time.time()
        eta = 0.0 if row["status"] == "completed" else (None if row["status"] == "failed" else s["eta_seconds"])
        if row["stage"] in ("uploading", "unpacking"):
            eta = None
        log_rows = self.db.query("SELECT at, level, code, name, message FROM batch_log WHERE batch_id = ?"
                                 " ORDER BY seq", (batch_id,))
        return {
            "id": row["id"], "batch_id": row["id"], "case_id": row["case_id"],
            "kind": source["kind"] if source else "files", "filename": source["filename"] if source else "",
            "status": row["status"], "stage": row["stage"], "step": row["stage"], "progress": row["progress"],
            "message": row["message"], "error_code": row["error_code"], "error_message": row["error_message"],
            "bytes_total": row["bytes_total"], "created_at": row["created_at"], "finished_at": row["finished_at"],
            "elapsed_seconds": round(max(end - _unix(row["created_at"]), 0.0), 3),
            "eta_seconds": None if eta is None else round(eta, 1),
            "counts": {"total": s["n"], "pending": s["pending"], "processing": s["processing"],
                       "indexed": s["indexed"], "failed": s["failed"],
                       "skipped": source["skipped"] if source else 0},
            "items_total": s["n"], "items_done": s["indexed"] + s["failed"],
            "pages_done": s["pages_done"],
            "log": [{key: r[key] for key in r.keys()} for r in log_rows],  # noqa: SIM118
        }
