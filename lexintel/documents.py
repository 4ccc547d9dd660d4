"""The document lifecycle, in one place: create, claim, advance, complete, fail, requeue, retry, delete.

Every change of a document's state is made here, and each one that a client can see updates the row and
appends its ProgressEvent in the same transaction (through the Emitter), so the status endpoints, the event
log and the live streams never disagree. "Back to queued" (after a crash, at shutdown, on retry) is written
once (:meth:`Documents._queue_again`).

    pending --claim--> processing --advance...--> indexed | needs_ocr | failed
       ^                    |                                       |
       +--- requeue --------+                  retry ---------------+

``needs_ocr`` ends a document whose scanned pages could not be read here (OCR off, or no Tesseract): its other
pages are indexed, it is never reported as ready, and a retry (once Tesseract is installed) reads them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from lexintel import formats
from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import Conflict, NotFound
from lexintel.events.broadcaster import Broadcaster
from lexintel.events.emitter import Emitter
from lexintel.events.log import EventLog
from lexintel.events.model import EventError, ProgressEvent
from lexintel.events.notice import CaseNotice
from lexintel.events.schema import stream_key
from lexintel.pipeline.context import DocumentRun, Write
from lexintel.pipeline.queue import WorkQueue
from lexintel.pipeline.stages import document_eta
from lexintel.store import documents as rows
from lexintel.store.access import case_exists
from lexintel.store.db import Database
from lexintel.store.files import FileStore, IncomingFile
from lexintel.store.private import DIR_MODE
from lexintel.store.records import Records

__all__ = ["DOCUMENT_STATUSES", "MAX_ATTACHMENT_DEPTH", "Documents", "NewDocument"]

DOCUMENT_STATUSES = ("pending", "processing", "indexed", "needs_ocr", "failed")
"""Every status a document row can have; ``indexed``, ``needs_ocr`` and ``failed`` are terminal."""

MAX_ATTACHMENT_DEPTH = 3
"""An attachment of an attachment... this deep is not made a document: nesting emails must not multiply work."""


@dataclass
class NewDocument:
    """A file about to become a document, with its verdict (``problem``: refused, as (code, detail))."""

    filename: str
    incoming: IncomingFile | None
    size: int
    sha256: str
    kind: str
    problem: tuple[str, str] | None = None
    id: str = ""
    parent_id: str | None = None  # the email it was attached to


class Documents:
    """The owner of every document's state (the pipeline reaches it as a ``Lifecycle``)."""

    def __init__(self, db: Database, records: Records, files: FileStore, emitter: Emitter, events: EventLog,
                 broadcaster: Broadcaster, queue: WorkQueue) -> None:
        self._db = db
        self._records = records
        self._files = files
        self._emitter = emitter
        self._events = events
        self._broadcaster = broadcaster
        self._queue = queue

    # create
    async def create(self, case_id: str, docs: list[NewDocument], batch_id: str | None = None) -> None:
        """Record ``docs`` (refused ones as failed), with their files in place, announce and queue them."""
        for doc in docs:
            doc.id = new_id()
        for doc in docs:
            if doc.incoming is not None and doc.problem is not None:
                await doc.incoming.discard()
        if not case_exists(self._db, case_id) or case_id in self._emitter.deleted_cases:  # deleted meanwhile;
            # no await from here on
            for doc in docs:
                if doc.incoming is not None and doc.problem is None:
                    await doc.incoming.discard()
            raise NotFound("case_not_found", f"No case with id {case_id!r}: it was deleted during the upload.")
        for doc in docs:  # files first: a pending row always has its file
            if doc.incoming is not None and doc.problem is None:
                self._files.commit(doc.incoming, doc.id)
        now = utc_now_iso()
        for i, doc in enumerate(docs):
            try:
                self._insert(case_id, batch_id, doc, now)
            except BaseException:  # e.g. the disk is full: no file without its row
                for orphan in docs[i:]:
                    if orphan.incoming is not None and orphan.problem is None:
                        self._files.remove(self._files.final_path(orphan.id))
                raise
        for doc in docs:
            if doc.problem is None:
                self._queue.enqueue(doc.id)

    def _insert(self, case_id: str, batch_id: str | None, doc: NewDocument, now: str) -> None:
        failed = doc.problem is not None
        code, detail = doc.problem or (None, None)
        waiting = f"{doc.filename} is waiting to be processed"
        values = {
            "id": doc.id, "case_id": case_id, "batch_id": batch_id, "filename": doc.filename, "kind": doc.kind,
            "size_bytes": doc.size, "sha256": doc.sha256,
            "storage_path": "" if failed else str(self._files.final_path(doc.id)),
            "status": "failed" if failed else "pending", "stage": "failed" if failed else "queued",
            "progress": 0, "run": 1, "message": detail or waiting, "error_code": code, "error_message": detail,
            "created_at": now, "finished_at": now if failed else None, "parent_id": doc.parent_id,
        }

        def insert(conn: sqlite3.Connection) -> None:
            rows.insert(conn, values)

        if code is None or detail is None:
            event = ProgressEvent(case_id=case_id, document_id=doc.id, batch_id=batch_id, status="processing",
                                  stage="queued", progress=0, run=1, filename=doc.filename, message=waiting)
        else:
            event = ProgressEvent(case_id=case_id, document_id=doc.id, batch_id=batch_id, status="failed",
                                  stage="failed", progress=0, run=1, filename=doc.filename,
                                  message=f"{doc.filename} failed: {detail}", error=EventError(code, detail))
        self._emitter.emit(event, terminal=failed, write=insert)

    # one attempt (the pipeline's side)
    def claim(self, document_id: str) -> DocumentRun | None:
        """``pending`` -> ``processing``; None if the document is gone or already claimed."""
        if rows.status(self._db, document_id) != "pending":
            return None  # deleted, or already claimed by a duplicate enqueue
        with self._db.transaction() as conn:
            rows.claim(conn, document_id, utc_now_iso())
        doc = DocumentRun.from_row(self._records.document(document_id), rows.stored_pages(self._db, document_id))
        doc.ocr_pages = rows.pages_needing_ocr(self._db, document_id)  # a resumed run's pages still to OCR
        return doc

    def advance(self, doc: DocumentRun, stage: str, message: str, *, stage_progress: float = 0.0,
                items_total: int = 0, items_done: int = 0, write: Write | None = None,
                counts: Mapping[str, int] | None = None, announce: bool = True,
                eta: float | None = None) -> None:
        """Record where ``doc`` is (``write`` runs in the same transaction); with ``announce``, as an event
        (``eta``: the stage's own estimate; by default the document's pages at extraction's pace)."""
        values = {"stage": stage, "progress": doc.progress, "message": message, **(counts or {})}
        if not announce:
            with self._db.transaction() as conn:
                if write is not None:
                    write(conn)
                rows.update(conn, doc.id, values)
            return
        if eta is None:
            eta = document_eta(doc.pages_done - doc.pages_resumed, doc.pages_total - doc.pages_resumed,
                               time.monotonic() - doc.paced_since)  # paced by this attempt's pages only
        self._emit(doc, "processing", stage, message, values, write=write, stage_progress=stage_progress,
                   items_total=items_total, items_done=items_done, eta=eta)

    def complete(self, doc: DocumentRun, message: str) -> None:
        """``doc`` went through every stage: ``indexed``, with its passage count; ``needs_ocr`` when scanned
        pages could not be read (``doc.ocr_problem``: the reason, also the event's ``error``, code
        ``needs_ocr``, on an otherwise ``completed`` event)."""
        n = len(doc.chunks)
        values: dict[str, Any] = {"stage": "completed", "progress": doc.progress, "message": message,
                                  "status": "indexed", "finished_at": utc_now_iso(), "chunks": n}
        error = None
        if doc.ocr_problem is not None:
            values.update(status="needs_ocr", error_code="needs_ocr", error_message=doc.ocr_problem)
            error = EventError("needs_ocr", doc.ocr_problem)
        self._emit(doc, "completed", "completed", message, values, stage_progress=100, items_total=n,
                   items_done=n, eta=0.0, error=error)

    def fail(self, doc: DocumentRun, code: str, detail: str) -> None:
        """``doc`` cannot be processed: ``failed``, with the reason a person reads."""
        message = f"{doc.filename} failed: {detail}"
        values = {"stage": "failed", "progress": doc.progress, "message": message, "status": "failed",
                  "error_code": code, "error_message": detail, "finished_at": utc_now_iso()}
        self._emit(doc, "failed", "failed", message, values, error=EventError(code, detail))

    def _emit(self, doc: DocumentRun, status: str, stage: str, message: str, values: Mapping[str, Any], *,
              write: Write | None = None, stage_progress: float = 0.0, items_total: int = 0, items_done: int = 0,
              eta: float | None = None, error: EventError | None = None) -> None:
        def change(conn: sqlite3.Connection) -> None:
            if write is not None:
                write(conn)
            rows.update(conn, doc.id, values)

        event = ProgressEvent(
            case_id=doc.case_id, document_id=doc.id, batch_id=doc.batch_id, run=doc.run, status=status,
            stage=stage, progress=doc.progress, stage_progress=stage_progress, items_total=items_total,
            items_done=items_done, message=message, elapsed_seconds=doc.elapsed, eta_seconds=eta, error=error,
            filename=doc.filename,
        )
        self._emitter.emit(event, terminal=status != "processing", write=change)
        doc.last_emit = time.monotonic()

    # back to queued
    def requeue_interrupted(self, doc: DocumentRun) -> None:
        """Shutdown stopped ``doc``: back to ``pending`` in the same run, to resume at its next page."""
        self._interrupted(doc.id)

    def requeue_stuck(self, document_id: str) -> None:
        """A crash left the document ``processing``: the same as a shutdown (one rule for both)."""
        self._interrupted(document_id)

    def _interrupted(self, document_id: str) -> None:
        """Back to ``pending`` keeping the run, its stored pages and the progress reached, so progress never
        goes back within a run. The event is a ``queued`` one whose progress is above 0 and whose message says
        where it resumes: how clients recognise an interruption (``items_done``/``items_total`` are the pages
        kept)."""
        row = self._records.document(document_id)
        kept = len(rows.stored_pages(self._db, document_id))
        total = int(row["pages_total"] or 0)
        where = "resuming after its last page" if kept and kept >= total else f"resuming at page {kept + 1}"
        message = f"{row['filename']} was interrupted by a server restart; {where}"
        self._queue_again(document_id, row["case_id"], row["batch_id"], row["filename"], int(row["run"]), message,
                          progress=float(row["progress"] or 0.0) if kept else 0.0, pages=(kept, total))

    def retry(self, document_id: str) -> sqlite3.Row:
        """Run a failed document again as a new run from page 1 (its stream starts a new history)."""
        row = self._records.document(document_id)
        if row["status"] not in ("failed", "needs_ocr"):
            raise Conflict("not_failed", "Only failed documents and those that need OCR can be retried; "
                                         f"this one is {row['status']}.")
        if not row["storage_path"]:
            raise Conflict("no_file", "This file was refused at upload and was not kept; upload it again.")
        self._queue_again(document_id, row["case_id"], row["batch_id"], row["filename"], row["run"] + 1,
                          f"{row['filename']} is waiting to be processed again", new_run=True)
        self._queue.enqueue(document_id)
        return self._records.document(document_id)

    def _queue_again(self, document_id: str, case_id: str, batch_id: str | None, filename: str, run: int,
                     message: str, *, progress: float = 0.0, pages: tuple[int, int] = (0, 0),
                     new_run: bool = False) -> None:
        values = {"status": "pending", "stage": "queued", "progress": progress, "run": run, "message": message,
                  "error_code": None, "error_message": None, "finished_at": None}
        if new_run:
            values["pages_done"] = 0

        def reset(conn: sqlite3.Connection) -> None:
            if new_run:
                rows.forget_pages(conn, document_id)
            rows.update(conn, document_id, values)

        done, total = pages
        event = ProgressEvent(case_id=case_id, document_id=document_id, batch_id=batch_id, run=run,
                              status="processing", stage="queued", progress=progress, items_total=total,
                              items_done=done, message=message, filename=filename)
        self._emitter.emit(event, write=reset)

    # an email's attachments
    async def add_attachments(self, doc: DocumentRun, attachments: list[tuple[str, str]]) -> list[str]:
        """Each attachment (name as sent, its bytes on disk) becomes a document of ``doc``'s case and batch,
        linked by ``parent_id``, judged by content like an upload (a type LexIntel cannot read is a ``failed``
        child with its reason) and queued. An earlier attempt of the same email already made them: those are
        kept and the new files dropped. Files are hashed in a thread; rows are written on the loop."""
        existing = rows.children(self._db, doc.id)
        paths = [path for _, path in attachments]
        if existing or self._depth(doc.id) >= MAX_ATTACHMENT_DEPTH:
            await anyio.to_thread.run_sync(_place_files, self._files, [], paths)
            return existing
        made = await anyio.to_thread.run_sync(_judge_files, attachments)
        for new in made:
            new.id, new.parent_id = new_id(), doc.id
        await anyio.to_thread.run_sync(_place_files, self._files, made, paths)
        now = utc_now_iso()
        for new in made:
            self._insert(doc.case_id, doc.batch_id, new, now)
        for new in made:
            if new.problem is None:
                self._queue.enqueue(new.id)
        return [new.id for new in made]

    def _depth(self, document_id: str) -> int:
        """How many parents up the chain of attachments this document sits (0: uploaded itself)."""
        depth, current = 0, document_id
        while depth < MAX_ATTACHMENT_DEPTH:
            parent = rows.parent(self._db, current)
            if parent is None:
                break
            depth, current = depth + 1, parent
        return depth

    # delete
    def delete(self, document_id: str) -> None:
        """Delete a document, its text, passages, file and stream; stops its processing if running."""
        row = self._records.document(document_id)
        self._queue.cancel(document_id)
        stream = stream_key("document", document_id)
        notice = CaseNotice(row["case_id"], "deleted", stream, {  # webui: open pages drop the row live
            "document_id": document_id, "batch_id": row["batch_id"], "filename": row["filename"],
            "message": f"Deleted {row['filename']}"})
        with self._db.transaction() as conn:
            rows.delete(conn, document_id)
            self._events.delete_stream(conn, stream)
            notice.append(self._events, conn)
        self._emitter.tell(notice.commit(self._events, closes=(stream,)))
        if row["storage_path"]:
            self._files.remove(row["storage_path"])
        self._files.remove_previews(document_id)


def _judge_files(attachments: list[tuple[str, str]]) -> list[NewDocument]:
    """Attachments on disk judged by content (the format registry), with size and sha256 (in a thread)."""
    judged = []
    for filename, path in attachments:
        digest = hashlib.sha256()
        head = b""
        size = 0
        with open(path, "rb") as stream:
            while block := stream.read(1024 * 1024):
                if len(head) < 8192:
                    head += block[: 8192 - len(head)]
                digest.update(block)
                size += len(block)
        found = formats.detect(head, Path(path))
        new = NewDocument(filename, None, size, digest.hexdigest(), found.kind if found else "unknown")
        new.problem = formats.refusal(filename, size, found)
        judged.append(new)
    return judged


def _place_files(files: FileStore, made: list[NewDocument], paths: list[str]) -> None:
    """Move each accepted attachment to its document's place; delete the refused ones (and all, without
    ``made``)."""
    accepted = {path: new for new, path in zip(made, paths, strict=False) if new.problem is None}
    for path in paths:
        new = accepted.get(path)
        if new is None:
            Path(path).unlink(missing_ok=True)
            continue
        target = files.final_path(new.id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.replace(path, target)
