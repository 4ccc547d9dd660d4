"""Bodies of ``/batches/{batch_id}``: the batch with its log, and the polling view with its documents."""

from __future__ import annotations

from lexintel.api.models import Body

__all__ = ["Batch", "BatchCounts", "BatchDocument", "BatchFields", "BatchLogEntry", "BatchProgress"]


class BatchCounts(Body):
    """A batch's documents by status, and the archive entries skipped while unpacking."""

    total: int
    pending: int
    processing: int
    indexed: int
    needs_ocr: int
    """Ended with pages that have no text and could not be read by OCR here (OCR off, no Tesseract)."""
    failed: int
    skipped: int


class BatchLogEntry(Body):
    """A skipped archive entry or a refusal, with its reason."""

    at: str
    level: str
    """``skipped``, ``refused`` or ``info``."""
    code: str
    name: str
    message: str


class BatchDocument(Body):
    """One document of a batch in the polling view."""

    document_id: str
    filename: str
    status: str
    stage: str
    progress: float
    pages_total: int | None
    pages_done: int
    error_code: str | None
    error_message: str | None


class BatchFields(Body):
    """What both batch views say: where it came from, stage, counts, elapsed/ETA."""

    id: str
    batch_id: str
    """Same as ``id``, named like a ProgressEvent's field."""
    case_id: str
    kind: str
    """``files``, ``zip`` or ``chunked``."""
    filename: str
    """The ZIP's or the chunked upload's file name (empty for a multi-file upload)."""
    status: str
    """``processing``, ``completed`` or ``failed`` (the batch itself could not go on)."""
    stage: str
    step: str
    """Same as ``stage``: kept for clients of the original design."""
    progress: float
    message: str
    error_code: str | None
    error_message: str | None
    bytes_total: int
    created_at: str
    finished_at: str | None
    elapsed_seconds: float
    eta_seconds: float | None
    counts: BatchCounts
    items_total: int
    items_done: int
    pages_done: int


class Batch(BatchFields):
    """``GET /batches/{batch_id}``: the batch, its log and its documents' ids."""

    log: list[BatchLogEntry]
    document_ids: list[str]


class BatchProgress(BatchFields):
    """``GET /batches/{batch_id}/progress``: the polling fallback of the batch stream."""

    last_event_id: int
    """The batch stream's newest event id: resume the stream from there."""
    documents: list[BatchDocument]
