"""From received files to pending documents: sniff, record, move into place, announce, enqueue.

A file that can be judged bad at once (empty, not a PDF or text) is refused with a 4xx when it is the only
file; in a multi-file upload it becomes a ``failed`` document with its reason, so the rest still go through.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import BadRequest, UnsupportedType
from lexintel.events.emitter import Emitter
from lexintel.events.model import EventError, ProgressEvent
from lexintel.pipeline.runner import Pipeline
from lexintel.store.files import FileStore, IncomingFile
from lexintel.store.records import Records
from lexintel.upload.multipart import Received
from lexintel.upload.sniff import sniff

if TYPE_CHECKING:
    from lexintel.batches import BatchTracker

__all__ = ["Intake", "NewDocument"]


@dataclass
class NewDocument:
    """A file about to become a document, with its verdict."""

    filename: str
    incoming: IncomingFile | None
    size: int
    sha256: str
    kind: str
    problem: tuple[str, str] | None = None
    id: str = ""


def judge(filename: str, incoming: IncomingFile) -> NewDocument:
    """Decide by content whether a file can be processed."""
    kind = sniff(incoming.head)
    doc = NewDocument(filename, incoming, incoming.size, incoming.sha256, kind or "unknown")
    if incoming.size == 0:
        doc.problem = ("empty_file", f"{filename} is empty.")
    elif kind is None:
        doc.problem = (
            "unsupported_type",
            f"{filename} is not a PDF or plain-text file (judged by its content, not its name).",
        )
    elif kind == "zip":
        doc.problem = ("unsupported_type", f"{filename} is a ZIP archive; upload it on its own to unpack it.")
    return doc


class Intake:
    """Creates documents from uploads and hands them to the pipeline."""

    def __init__(self, records: Records, files: FileStore, emitter: Emitter, pipeline: Pipeline) -> None:
        self.records = records
        self.files = files
        self.emitter = emitter
        self.pipeline = pipeline
        self.batches: BatchTracker | None = None  # set by Services: several files or a ZIP make a batch

    async def accept(self, case_id: str, received: Received) -> dict[str, Any]:
        """Turn a parsed upload into documents; returns the 202 body."""
        if not received.files:
            raise BadRequest("no_files", "The upload has no file parts; send one or more files in 'files'.")
        docs = [judge(item.filename, item.incoming) for item in received.files]
        if self.batches is not None:
            if len(docs) == 1 and docs[0].kind == "zip" and docs[0].size > 0:
                first = received.files[0]
                return await self.batches.accept_zip(case_id, first.filename, first.incoming)
            if len(docs) > 1:
                return await self.batches.accept_files(case_id, docs)
        if len(docs) == 1 and docs[0].problem is not None:
            await received.discard()
            code, detail = docs[0].problem
            raise (UnsupportedType if code == "unsupported_type" else BadRequest)(code, detail)
        return await self.create(case_id, docs)

    async def create(self, case_id: str, docs: list[NewDocument], batch_id: str | None = None) -> dict[str, Any]:
        """Record ``docs`` (refused ones as failed), move their files into place, announce and queue them."""
        now = utc_now_iso()
        for doc in docs:
            doc.id = new_id()
        with self.records.db.transaction() as conn:
            for doc in docs:
                self._insert(conn, case_id, batch_id, doc, now)
        for doc in docs:
            if doc.incoming is None:
                continue
            if doc.problem is None:
                self.files.commit(doc.incoming, doc.id)
            else:
                await doc.incoming.discard()
        for doc in docs:
            self._announce(case_id, batch_id, doc)
        for doc in docs:
            if doc.problem is None:
                self.pipeline.enqueue(doc.id)
        return {
            "case_id": case_id,
            "batch_id": batch_id,
            "document_ids": [d.id for d in docs],
            "documents": [
                {
                    "id": d.id,
                    "filename": d.filename,
                    "kind": d.kind,
                    "size_bytes": d.size,
                    "sha256": d.sha256,
                    "status": "failed" if d.problem else "pending",
                    "error_code": d.problem[0] if d.problem else None,
                    "error_message": d.problem[1] if d.problem else None,
                }
                for d in docs
            ],
        }

    def _insert(self, conn: sqlite3.Connection, case_id: str, batch_id: str | None, doc: NewDocument,
                now: str) -> None:
        failed = doc.problem is not None
        self.records.insert_document(
            conn,
            {
                "id": doc.id,
                "case_id": case_id,
                "batch_id": batch_id,
                "filename": doc.filename,
                "kind": doc.kind,
                "size_bytes": doc.size,
                "sha256": doc.sha256,
                "storage_path": "" if failed else str(self.files.final_path(doc.id)),
                "status": "failed" if failed else "pending",
                "stage": "failed" if failed else "queued",
                "progress": 0,
                "run": 1,
                "message": doc.problem[1] if doc.problem else f"{doc.filename} is waiting to be processed",
                "error_code": doc.problem[0] if doc.problem else None,
                "error_message": doc.problem[1] if doc.problem else None,
                "created_at": now,
                "finished_at": now if failed else None,
            },
        )

    def _announce(self, case_id: str, batch_id: str | None, doc: NewDocument) -> None:
        if doc.problem is None:
            self.emitter.emit(ProgressEvent(case_id=case_id, document_id=doc.id, batch_id=batch_id,
                                            status="processing", stage="queued", progress=0, run=1,
                                            filename=doc.filename,
                                            message=f"{doc.filename} is waiting to be processed"))
            return
        code, detail = doc.problem
        self.emitter.emit(ProgressEvent(case_id=case_id, document_id=doc.id, batch_id=batch_id, status="failed",
                                        stage="failed", progress=0, run=1, filename=doc.filename,
                                        message=f"{doc.filename} failed: {detail}", error=EventError(code, detail)),
                          terminal=True)
