"""Bodies of documents: the upload answer (202), a document, its polling status, its text."""

from __future__ import annotations

from typing import Literal

from litestar.params import Parameter
from msgspec import UNSET, UnsetType, field

from lexintel.api.models import Body

__all__ = ["DUPLICATES", "AcceptedDocument", "Document", "DocumentStatus", "DocumentText", "DuplicateFile",
           "Duplicates", "PageText", "UploadAccepted"]


class AcceptedDocument(Body):
    """One file of an upload, as the upload answer lists it."""

    id: str
    filename: str
    kind: str
    """What the content was judged to be: ``pdf``, ``text``, ... (``unknown`` when refused)."""
    size_bytes: int
    sha256: str
    status: str
    """``pending`` (queued for processing) or ``failed`` (refused at once: see ``error_code``)."""
    error_code: str | None
    error_message: str | None


Duplicates = Literal["skip", "allow"]
DUPLICATES = Parameter(default="skip", description="skip (default): a file whose bytes are already in the case is "
                       "not processed again, the answer names the existing document; allow: make a new one anyway")


class DuplicateFile(Body):
    """A file of the upload whose bytes are already in the case: not stored or processed again (send the upload
    with ``?duplicates=allow`` to make a new document anyway)."""

    filename: str
    sha256: str
    size_bytes: int
    document_id: str
    """The document that already has these bytes."""
    existing_filename: str
    existing_status: str
    message: str


class UploadAccepted(Body):
    """The 202 answer to an upload: the documents created (none yet for a ZIP, which is unpacked in its batch)."""

    case_id: str
    batch_id: str | None
    """Set when the upload is followed as a batch (several files, a ZIP, a chunked upload)."""
    document_ids: list[str]
    documents: list[AcceptedDocument]
    status: str | UnsetType = UNSET
    """Batches only: the batch's status (``processing``)."""
    stage: str | UnsetType = UNSET
    """Batches only: the batch's stage (``unpacking`` for a ZIP)."""
    upload_id: str | UnsetType = UNSET
    """Chunked uploads only: the upload session this file came from."""
    duplicates: list[DuplicateFile] = field(default_factory=list)
    """Files skipped because the case already has their bytes (``?duplicates=skip``, the default)."""


class Document(Body):
    """A document's metadata and status."""

    id: str
    case_id: str
    batch_id: str | None
    filename: str
    kind: str
    size_bytes: int
    sha256: str
    status: str
    """``pending`` -> ``processing`` -> ``indexed`` | ``needs_ocr`` | ``failed``. ``needs_ocr``: some pages have no
    text and could not be read by OCR here (see ``error_message``); the others are indexed and searchable."""
    stage: str
    """A stage name from the stage registry (``queued``, ``extracting``, ... ``completed``, ``failed``)."""
    progress: float
    """0-100, overall."""
    pages_total: int | None
    """Null until extraction knows it."""
    pages_done: int
    chunks: int
    message: str
    error_code: str | None
    error_message: str | None
    run: int
    """The attempt number (a retry starts a new run)."""
    created_at: str
    started_at: str | None
    finished_at: str | None
    parent_id: str | None = None
    """The email this document was attached to (its attachments are documents of their own)."""


class DocumentStatus(Body):
    """The polling view of a document (the stream's fallback), named like a ProgressEvent."""

    document_id: str
    step: str
    """Same as ``stage``: kept for clients of the original design."""
    case_id: str
    batch_id: str | None
    filename: str
    status: str
    stage: str
    progress: float
    pages_total: int | None
    pages_done: int
    chunks: int
    message: str
    error_code: str | None
    error_message: str | None
    run: int
    last_event_id: int | UnsetType = UNSET
    """The document stream's newest event id (the status endpoints; a retry's answer has none)."""
    processing_status: str | UnsetType = UNSET
    """Same as ``status``, for the original design's 003 hook (the status endpoints; a retry's answer has none)."""


class PageText(Body):
    page: int
    """1-based."""
    text: str
    ocr_confidence: float | None = None
    """Tesseract's mean word confidence (0-100) when the page was read from its picture; null for a text layer."""


class DocumentText(Body):
    """The extracted text, page by page (pages appear as extraction proceeds)."""

    document_id: str
    filename: str
    status: str
    pages: list[PageText]
