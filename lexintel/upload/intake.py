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
from lexintel.store.document_list import duplicate_of
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

    async def accept(self, case_id: str, received: Received, duplicates: str = "skip") -> dict[str, Any]:
        """Turn a parsed upload into documents; returns the 202 body. With ``duplicates="skip"`` a file whose
        bytes are already in the case is not stored or processed again: the answer names the existing document
        under ``duplicates``."""
        if not received.files:
            raise BadRequest("no_files", "The upload has no file parts; send one or more files in 'files'.")
        docs = [judge(item.filename, item.incoming) for item in received.files]
        if len(docs) == 1 and docs[0].kind == "zip" and docs[0].size > 0:
            first = received.files[0]
            return await self.zips.accept(case_id, first.filename, first.incoming, duplicates=duplicates)
        if len(docs) == 1 and docs[0].problem is not None:
            await received.discard()
            raise _refusal(docs[0].problem)
        many = len(docs) > 1
        docs, dupes = await self._without_duplicates(case_id, docs, duplicates)
        if not docs:
            return {**_accepted(case_id, None, []), "duplicates": dupes}
        if many:
            return await self._accept_files(case_id, docs, dupes)
        await self.documents.create(case_id, docs)
        return {**_accepted(case_id, None, docs), "duplicates": dupes}

    async def _without_duplicates(self, case_id: str, docs: list[NewDocument],
                                  duplicates: str) -> tuple[list[NewDocument], list[dict[str, Any]]]:
        """Split off the files already in the case (or twice in this upload); their bytes are discarded."""
        if duplicates == "allow":
            return docs, []
        keep: list[NewDocument] = []
        dupes: list[dict[str, Any]] = []
        seen: dict[str, NewDocument] = {}
        for doc in docs:
            if doc.problem is not None:  # refused anyway: said as a failed document, never as a duplicate
                keep.append(doc)
                continue
            existing = duplicate_of(self.db, case_id, doc.sha256)
            earlier = seen.get(doc.sha256)
            if existing is None and earlier is None:
                seen[doc.sha256] = doc
                keep.append(doc)
                continue
            if doc.incoming is not None:
                await doc.incoming.discard()
            dupes.append(_duplicate(doc, existing, earlier))
        return keep, dupes

    async def _accept_files(self, case_id: str, docs: list[NewDocument],
                            dupes: list[dict[str, Any]]) -> dict[str, Any]:
        """A multi-file upload: one batch, its documents (refused files as failed ones, duplicates skipped)."""
        size = sum(d.size for d in docs)
        batch_id = self.batches.create(case_id, "files", "", items_total=len(docs), bytes_total=size,
                                       message=f"Received {len(docs)} files ({mb(size)} MB)")
        for dupe in dupes:
            self.batches.skip(batch_id, "duplicate", dupe["filename"], dupe["message"])
        body = await self._into_batch(case_id, batch_id, docs)
        for dupe in dupes:  # a copy of a file earlier in this upload: that document has its id now
            earlier = dupe.pop("earlier", None)
            if earlier is not None:
                dupe["document_id"] = earlier.id
        return {**body, "duplicates": dupes}

    async def accept_assembled(self, case_id: str, batch_id: str, filename: str, incoming: IncomingFile,
                               duplicates: str = "skip") -> dict[str, Any]:
        """A chunked upload's assembled file: a ZIP is unpacked, a PDF/text becomes the batch's document (a
        duplicate of one in the case ends the batch, naming it, unless ``duplicates="allow"``)."""
        doc = judge(filename, incoming)
        if doc.kind == "zip" and incoming.size > 0:
            return await self.zips.accept(case_id, filename, incoming, batch_id, duplicates)
        if doc.problem is not None:
            await incoming.discard()
            self.batches.fail(batch_id, *doc.problem)
            raise _refusal(doc.problem)
        kept, dupes = await self._without_duplicates(case_id, [doc], duplicates)
        if not kept:
            self.batches.fail(batch_id, "duplicate", dupes[0]["message"])
            return {**_accepted(case_id, batch_id, []), "status": "failed", "stage": "failed", "duplicates": dupes}
        batch_rows.set_items_total(self.db, batch_id, 1)
        return await self._into_batch(case_id, batch_id, [doc])

    async def _into_batch(self, case_id: str, batch_id: str, docs: list[NewDocument]) -> dict[str, Any]:
        await self.documents.create(case_id, docs, batch_id)
        self.batches.documents_added(batch_id)
        return {**_accepted(case_id, batch_id, docs), "status": "processing", "stage": self.batches.stage(batch_id)}


def _duplicate(doc: NewDocument, existing: Any, earlier: NewDocument | None) -> dict[str, Any]:
    """How the answer names a skipped duplicate: the document already holding these bytes."""
    if existing is not None:
        ident, name, status = existing["id"], existing["filename"], existing["status"]
    else:
        assert earlier is not None
        ident, name, status = earlier.id, earlier.filename, "pending"
    where = "in this case" if existing is not None else "earlier in this upload"
    same = "" if name == doc.filename else f" as {name}"
    return {"filename": doc.filename, "sha256": doc.sha256, "size_bytes": doc.size, "document_id": ident,
            "existing_filename": name, "existing_status": status,
            "message": f"{doc.filename} is already {where}{same}; it was not processed again.",
            **({"earlier": earlier} if existing is None else {})}


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
