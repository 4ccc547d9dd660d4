"""From received files to documents: judge each file, then hand it on alone, as a batch, or as a ZIP to unpack.

A file that can be judged bad at once (empty, not a PDF or text) is refused with a 4xx when it is the only
file; in a multi-file upload it becomes a ``failed`` document with its reason, so the rest still go through.
A chunked upload's assembled file comes here too (:meth:`Intake.accept_assembled`), into its existing batch.
"""

from __future__ import annotations

from typing import Any

from lexintel import formats
from lexintel.batches.progress import mb
from lexintel.batches.tracker import BatchTracker
from lexintel.documents import Documents, NewDocument
from lexintel.errors import AppError, BadRequest, UnsupportedType
from lexintel.store import batches as batch_rows
from lexintel.store.db import Database
from lexintel.store.files import IncomingFile
from lexintel.upload.multipart import Received
from lexintel.upload.unpack import ZipIntake

__all__ = ["Intake", "NewDocument", "judge"]


def judge(filename: str, incoming: IncomingFile) -> NewDocument:
    """Decide by content (the format registry) whether a file can be processed."""
    found = formats.detect(incoming.head, incoming.path)
    doc = NewDocument(filename, incoming, incoming.size, incoming.sha256, found.kind if found else "unknown")
    doc.problem = formats.refusal(filename, incoming.size, found)
    return doc


def _refusal(problem: tuple[str, str]) -> AppError:
    code, detail = problem
    return (UnsupportedType if code == "unsupported_type" else BadRequest)(code, detail)


class Intake:
    """Routes uploads: one document, a batch of files, or a ZIP to unpack."""

    def __init__(self, db: Database, documents: Documents, batches: BatchTracker, zips: ZipIntake) -> None:
        self.db = db
        self.documents = documents
        self.batches = batches
        self.zips = zips

    async def accept(self, case_id: str, received: Received) -> dict[str, Any]:
        """Turn a parsed upload into documents; returns the 202 body."""
        if not received.files:
            raise BadRequest("no_files", "The upload has no file parts; send one or more files in 'files'.")
        docs = [judge(item.filename, item.incoming) for item in received.files]
        if len(docs) == 1 and docs[0].kind == "zip" and docs[0].size > 0:
            first = received.files[0]
            return await self.zips.accept(case_id, first.filename, first.incoming)
        if len(docs) > 1:
            return await self._accept_files(case_id, docs)
        if docs[0].problem is not None:
            await received.discard()
            raise _refusal(docs[0].problem)
        await self.documents.create(case_id, docs)
        return _accepted(case_id, None, docs)

    async def _accept_files(self, case_id: str, docs: list[NewDocument]) -> dict[str, Any]:
        """A multi-file upload: one batch, its documents (refused files as failed ones)."""
        size = sum(d.size for d in docs)
        batch_id = self.batches.create(case_id, "files", "", items_total=len(docs), bytes_total=size,
                                       message=f"Received {len(docs)} files ({mb(size)} MB)")
        return await self._into_batch(case_id, batch_id, docs)

    async def accept_assembled(self, case_id: str, batch_id: str, filename: str,
                               incoming: IncomingFile) -> dict[str, Any]:
        """A chunked upload's assembled file: a ZIP is unpacked, a PDF/text becomes the batch's document."""
        doc = judge(filename, incoming)
        if doc.kind == "zip" and incoming.size > 0:
            return await self.zips.accept(case_id, filename, incoming, batch_id)
        if doc.problem is not None:
            await incoming.discard()
            self.batches.fail(batch_id, *doc.problem)
            raise _refusal(doc.problem)
        batch_rows.set_items_total(self.db, batch_id, 1)
        return await self._into_batch(case_id, batch_id, [doc])

    async def _into_batch(self, case_id: str, batch_id: str, docs: list[NewDocument]) -> dict[str, Any]:
        await self.documents.create(case_id, docs, batch_id)
        self.batches.documents_added(batch_id)
        return {**_accepted(case_id, batch_id, docs), "status": "processing", "stage": self.batches.stage(batch_id)}


def _accepted(case_id: str, batch_id: str | None, docs: list[NewDocument]) -> dict[str, Any]:
    """The 202 body: the new documents, each pending or failed with its reason."""
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
