"""Resumable chunked uploads over HTTP (see lexintel/upload/chunked.py and README "Batches and large uploads").

    POST   /cases/{case_id}/uploads            {"filename", "total_size", "chunk_size"?, "sha256"?} -> 201
    PUT    /uploads/{id}/chunks/{index}         raw bytes; optional X-Chunk-SHA256 header -> 200
    GET    /uploads/{id}                        which chunks are present and missing
    POST   /uploads/{id}/complete               assemble and hand over -> 202 (same body as an upload)
    DELETE /uploads/{id}                        abandon -> 204
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, delete, get, post, put
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from lexintel.errors import Conflict
from lexintel.services import Services, Svc

__all__ = ["upload_handlers"]


@dataclass
class NewUpload:
    """Body of ``POST /cases/{case_id}/uploads``."""

    filename: str
    total_size: int
    chunk_size: int | None = None  # default 50 MB (capped by LEXINTEL_UPLOAD_MAX_CHUNK_BYTES)
    sha256: str | None = None  # of the whole file, checked when the chunks are assembled


def _accepting(svc: Services) -> None:
    if not svc.accepting_uploads:
        raise Conflict("shutting_down", "The server is shutting down; retry in a moment.")


@post("/cases/{case_id:str}/uploads", status_code=HTTP_201_CREATED, tags=["uploads"])
async def create_upload(case_id: str, data: NewUpload, svc: Svc) -> dict[str, Any]:
    """Start a resumable upload; its batch (stage ``uploading``) reports progress on /batches/{id}/stream."""
    _accepting(svc)
    svc.records.case(case_id)
    return svc.uploads.create(case_id, data.filename, data.total_size, data.chunk_size, data.sha256)


@put("/uploads/{upload_id:str}/chunks/{index:int}", request_max_body_size=None, tags=["uploads"])
async def put_chunk(upload_id: str, index: int, request: Request[Any, Any, Any], svc: Svc) -> dict[str, Any]:
    """Send chunk ``index`` (0-based) as the raw body; idempotent, any order."""
    _accepting(svc)
    return await svc.uploads.put_chunk(upload_id, index, request.stream(), request.headers.get("x-chunk-sha256"))


@get("/uploads/{upload_id:str}", tags=["uploads"])
async def show_upload(upload_id: str, svc: Svc) -> dict[str, Any]:
    """Which chunks the server has (resume by sending the missing ones)."""
    return svc.uploads.describe(upload_id)


@post("/uploads/{upload_id:str}/complete", status_code=HTTP_202_ACCEPTED, tags=["uploads"])
async def complete_upload(upload_id: str, svc: Svc) -> dict[str, Any]:
    """Assemble the chunks and process the file (a ZIP is unpacked into the batch); repeatable."""
    return await svc.uploads.complete(upload_id)


@delete("/uploads/{upload_id:str}", tags=["uploads"])
async def cancel_upload(upload_id: str, svc: Svc) -> None:
    """Abandon an upload: its chunks are deleted and its batch fails."""
    await svc.uploads.cancel(upload_id)


upload_handlers = [create_upload, put_chunk, show_upload, complete_upload, cancel_upload]
