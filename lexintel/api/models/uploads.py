"""Bodies of resumable chunked uploads (``/cases/{case_id}/uploads``, ``/uploads/{upload_id}``)."""

from __future__ import annotations

import msgspec

from lexintel.api.models import Body
from lexintel.api.models.documents import UploadAccepted

__all__ = ["ChunkReceipt", "NewUpload", "UploadSession"]


class NewUpload(msgspec.Struct):
    """Body of ``POST /cases/{case_id}/uploads``."""

    filename: str
    total_size: int
    chunk_size: int | None = None
    """Default 50 MB (capped by LEXINTEL_UPLOAD_MAX_CHUNK_BYTES)."""
    sha256: str | None = None
    """Of the whole file, checked when the chunks are assembled."""


class UploadSession(Body):
    """An upload session: which chunks the server has (resume by sending the missing ones)."""

    upload_id: str
    case_id: str
    batch_id: str
    """The batch that reports this upload's progress on ``/batches/{id}/stream``."""
    filename: str
    status: str
    """``open``, ``assembling``, ``completed``, ``refused``, ``expired`` or ``cancelled``."""
    total_size: int
    chunk_size: int
    chunk_count: int
    sha256: str | None
    received: list[int]
    missing: list[int]
    received_bytes: int
    created_at: str
    expires_in_seconds: float
    result: UploadAccepted | None
    """Once completed: the answer ``POST /uploads/{id}/complete`` gave."""


class ChunkReceipt(Body):
    """``PUT /uploads/{upload_id}/chunks/{index}``: the chunk was stored."""

    upload_id: str
    index: int
    size: int
    sha256: str
    received_count: int
    chunk_count: int
    received_bytes: int
    complete: bool
    """Every chunk is here: finish with ``POST /uploads/{id}/complete``."""
