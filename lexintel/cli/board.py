"""What the client knows about an upload or a watch: documents, batches, bytes sent, counted as events arrive.

Every update is O(1): counters by status, running sums of progress and the set of active documents are kept
up to date per event, so a thousand-file batch costs a thousand small updates, never a thousand re-scans.
Drawing it is :mod:`lexintel.cli.display`'s job; this module only keeps the numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from lexintel.pipeline.stages import counts_pages

__all__ = ["BatchState", "DocState", "Tally", "status_of"]

TERMINAL = ("indexed", "needs_ocr", "failed")


def status_of(event: dict[str, Any]) -> str:
    """A ProgressEvent's status in document terms (pending/processing/indexed/needs_ocr/failed); a completed
    document whose scanned pages could not be read carries the error code ``needs_ocr``."""
    if event.get("status") == "completed":
        error = event.get("error")
        return "needs_ocr" if isinstance(error, dict) and error.get("code") == "needs_ocr" else "indexed"
    if event.get("status") == "failed":
        return "failed"
    return "pending" if event.get("stage") == "queued" else "processing"


def _error_text(error: Any) -> str | None:
    if isinstance(error, dict):
        return str(error.get("detail") or error.get("code") or "failed")
    return str(error) if error else None


@dataclass
class DocState:
    """One document, from the upload's answer, its events and the status endpoint."""

    id: str | None  # None: refused before it became a document (a lone bad file answered with a 4xx)
    filename: str
    batch_id: str | None = None
    status: str = "pending"
    stage: str = "queued"
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    error_code: str | None = None
    pages: int | None = None
    pages_done: int = 0
    eta: float | None = None
    run: int = 1
    in_batch: bool = False  # counted through its batch's own progress (set when tracked)

    @property
    def terminal(self) -> bool:
        """Indexed, needing OCR, or failed."""
        return self.status in TERMINAL

    def json(self) -> dict[str, Any]:
        """The ``--json`` view."""
        return {"id": self.id, "filename": self.filename, "batch_id": self.batch_id, "status": self.status,
                "pages": self.pages, "error_code": self.error_code, "error": self.error}


@dataclass
class BatchState:
    """One batch (a multi-file request, a ZIP or a chunked upload) as its batch-level events describe it."""

    id: str
    label: str
    status: str = "processing"
    stage: str = "uploading"
    progress: float = 0.0
    eta: float | None = None
    message: str = ""
    error: str | None = None
    error_code: str | None = None
    docs: int = 0

    @property
    def weight(self) -> int:
        """How much of the whole job this batch is: its documents (at least 1 while a ZIP is unpacked)."""
        return max(self.docs, 1)

    def json(self) -> dict[str, Any]:
        """The ``--json`` view."""
        return {"id": self.id, "source": self.label, "status": self.status, "documents": self.docs,
                "message": self.message, "error_code": self.error_code, "error": self.error}


@dataclass
class Tally:
    """The documents and batches of one command, with the totals the batch line shows."""

    docs: dict[str, DocState] = field(default_factory=dict)
    refused: list[DocState] = field(default_factory=list)
    batches: dict[str, BatchState] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("pending", "processing", *TERMINAL), 0))
    active: dict[str, None] = field(default_factory=dict)  # processing documents, oldest first (an ordered set)
    failed: list[DocState] = field(default_factory=list)
    pending_files: int = 0  # files planned but not yet answered for (a ZIP counts as one)
    started: float = field(default_factory=time.monotonic)
    _solo_sum: float = 0.0  # progress of documents outside any batch (terminal = 100)
    _solo_n: int = 0
    _batch_sum: float = 0.0  # batch progress x weight
    _batch_weight: int = 0
    _sent: int = 0
    _to_send: int = 0
    _transfers: dict[str, tuple[int, int]] = field(default_factory=dict)

    # totals ------------------------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Documents known plus files still to be answered for."""
        return len(self.docs) + len(self.refused) + self.pending_files

    @property
    def done(self) -> int:
        return self.counts["indexed"] + self.counts["needs_ocr"] + self.counts["failed"] + len(self.refused)

    @property
    def failures(self) -> int:
        return self.counts["failed"] + len(self.refused)

    @property
    def fraction(self) -> float:
        """Overall progress 0-1: each batch's own progress (the server weighs its documents' work) weighted by
        its documents, documents outside batches by theirs, files not yet answered for at 0."""
        weight = self._batch_weight + self._solo_n + len(self.refused) + self.pending_files
        if weight == 0:
            return 0.0
        return min((self._batch_sum + self._solo_sum + 100.0 * len(self.refused)) / (100.0 * weight), 1.0)

    @property
    def eta(self) -> float | None:
        """The longest remaining estimate among unfinished batches and active lone documents (None: unknown)."""
        etas = [b.eta for b in self.batches.values() if b.status == "processing" and b.eta is not None]
        etas += [d.eta for d in map(self.docs.__getitem__, self.active) if not d.in_batch and d.eta is not None]
        return max(etas) if etas else None

    @property
    def upload(self) -> tuple[int, int]:
        """(bytes sent, bytes to send) over every request and chunk still in flight."""
        return self._sent, self._to_send

    # uploads -----------------------------------------------------------------------------------------
    def transfer(self, key: str, sent: int, total: int) -> None:
        """Bytes of one request or chunked upload so far; (0, 0) drops it once its answer has come."""
        old_sent, old_total = self._transfers.pop(key, (0, 0))
        self._sent += sent - old_sent
        self._to_send += total - old_total
        if total:
            self._transfers[key] = (sent, total)

    # documents and batches ---------------------------------------------------------------------------
    def add_batch(self, batch_id: str, label: str) -> BatchState:
        """Track a batch (idempotent)."""
        batch = self.batches.get(batch_id)
        if batch is None:
            batch = self.batches[batch_id] = BatchState(batch_id, label)
            self._batch_weight += batch.weight
        return batch

    def add_document(self, doc: DocState) -> DocState:
        """Track a document (idempotent); a refused file (no id) is counted as failed at once."""
        if doc.id is None:
            self.refused.append(doc)
            self.failed.append(doc)
            return doc
        known = self.docs.get(doc.id)
        if known is not None:
            return known
        self.docs[doc.id] = doc
        self.counts[doc.status] += 1
        batch = self.batches.get(doc.batch_id) if doc.batch_id else None
        doc.in_batch = batch is not None
        if batch is None:
            self._solo_n += 1
            self._solo_sum += self._doc_share(doc)
        else:
            self._reweigh(batch, batch.docs + 1)
        if doc.status == "processing":
            self.active[doc.id] = None
        elif doc.status == "failed":
            self.failed.append(doc)
        return doc

    def update_document(self, doc: DocState, *, status: str, stage: str, progress: float, message: str,
                        error: str | None = None, error_code: str | None = None) -> tuple[str, str]:
        """Move a document to a new state, keeping every counter right; returns its previous (status, stage)."""
        before = (doc.status, doc.stage)
        solo = not doc.in_batch
        if solo:
            self._solo_sum -= self._doc_share(doc)
        if status != doc.status:
            self.counts[doc.status] -= 1
            self.counts[status] += 1
            if status == "failed":
                self.failed.append(doc)
            elif doc.status == "failed":
                self.failed.remove(doc)  # retried elsewhere: rare, so a list scan is fine
        doc.status, doc.stage, doc.progress, doc.message = status, stage, progress, message
        doc.error, doc.error_code = error, error_code
        if solo:
            self._solo_sum += self._doc_share(doc)
        if status == "processing":
            self.active[doc.id or ""] = None
        else:
            self.active.pop(doc.id or "", None)
        return before

    def on_document_event(self, event: dict[str, Any]) -> tuple[DocState, tuple[str, str]] | None:
        """Apply a document ProgressEvent (stale ones, from an older run, are ignored); returns the document
        and its previous (status, stage), or None when nothing changed."""
        doc_id = event["document_id"]
        doc = self.docs.get(doc_id)
        if doc is None:
            doc = self.add_document(DocState(doc_id, event.get("filename") or doc_id, batch_id=event.get("batch_id")))
        run = int(event.get("run") or 1)
        if run < doc.run:
            return None
        doc.run = run
        stage = event.get("stage") or doc.stage
        if counts_pages(stage) and event.get("items_total"):
            doc.pages, doc.pages_done = int(event["items_total"]), int(event.get("items_done") or 0)
        doc.eta = event.get("eta_seconds")
        error = event.get("error")
        before = self.update_document(
            doc, status=status_of(event), stage=stage, progress=float(event.get("progress") or 0),
            message=event.get("message") or "", error=_error_text(error),
            error_code=error.get("code") if isinstance(error, dict) else None,
        )
        return doc, before

    def on_batch_event(self, event: dict[str, Any]) -> tuple[BatchState, str]:
        """Apply a batch-level ProgressEvent (document_id null); returns the batch and its previous status."""
        batch = self.add_batch(event["batch_id"], event.get("filename") or "batch")
        before = batch.status
        self._batch_sum -= batch.progress * batch.weight
        batch.progress = max(batch.progress, float(event.get("progress") or 0))
        if event.get("status") in ("completed", "failed"):
            batch.progress = 100.0  # finished: nothing of it is left to wait for
        self._batch_sum += batch.progress * batch.weight
        batch.status = {"completed": "completed", "failed": "failed"}.get(event.get("status") or "", "processing")
        batch.stage = event.get("stage") or batch.stage
        batch.eta = event.get("eta_seconds")
        batch.message = event.get("message") or batch.message
        error = event.get("error")
        if batch.status == "failed" and error:
            batch.error = _error_text(error)
            batch.error_code = error.get("code") if isinstance(error, dict) else None
        return batch, before

    def _reweigh(self, batch: BatchState, docs: int) -> None:
        self._batch_sum -= batch.progress * batch.weight
        self._batch_weight -= batch.weight
        batch.docs = docs
        self._batch_sum += batch.progress * batch.weight
        self._batch_weight += batch.weight

    @staticmethod
    def _doc_share(doc: DocState) -> float:
        return 100.0 if doc.terminal else doc.progress
