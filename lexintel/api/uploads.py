"""Resumable chunked uploads over HTTP (see lexintel/upload/chunked.py and README "Batches and large uploads").

    POST   /cases/{case_id}/uploads            {"filename", "total_size", "chunk_size"?, "sha256"?} -> 201
    PUT    /uploads/{id}/chunks/{index}         raw bytes; optional X-Chunk-SHA256 header -> 200
    GET    /uploads/{id}                        which chunks are present and missing
    POST   /uploads/{id}/complete               assemble and hand over -> 202 (same body as an upload)
    DELETE /uploads/{id}                        abandon -> 204
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, delete, get, post, put
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED

from lexintel.api.errors import error_responses
from lexintel.api.fields import FILENAME_MAX, bounded
from lexintel.api.models.documents import DUPLICATES, Duplicates, UploadAccepted
from lexintel.api.models.uploads import ChunkReceipt, NewUpload, UploadSession
from lexintel.errors import Unavailable
from lexintel.services import Services, Svc

__all__ = ["upload_handlers"]


def _accepting(svc: Services) -> None:
    if not svc.accepting_uploads:
        raise Unavailable("shutting_down", "The server is shutting down; retry in a moment.")


@post("/cases/{case_id:str}/uploads", status_code=HTTP_201_CREATED, tags=["uploads"],
      responses=error_responses(413, 503))
async def create_upload(case_id: str, data: NewUpload, svc: Svc) -> UploadSession:
    """Start a resumable upload; its batch (stage ``uploading``) reports progress on /batches/{id}/stream."""
    _accepting(svc)
    svc.records.case(case_id)
    bounded("filename", data.filename, FILENAME_MAX)  # access (issue 13 item 14): no 9 MB name echoed back
    body = svc.uploads.create(case_id, data.filename, data.total_size, data.chunk_size, data.sha256)
    return msgspec.convert(body, UploadSession)


@put("/uploads/{upload_id:str}/chunks/{index:int}", request_max_body_size=None, tags=["uploads"],
     responses=error_responses(409, 410, 413, 503))
async def put_chunk(upload_id: str, index: int, request: Request[Any, Any, Any], svc: Svc) -> ChunkReceipt:
    """Send chunk ``index`` (0-based) as the raw body; idempotent, any order."""
    _accepting(svc)
    body = await svc.uploads.put_chunk(upload_id, index, request.stream(), request.headers.get("x-chunk-sha256"))
    return msgspec.convert(body, ChunkReceipt)


@get("/uploads/{upload_id:str}", tags=["uploads"])
async def show_upload(upload_id: str, svc: Svc) -> UploadSession:
    """Which chunks the server has (resume by sending the missing ones)."""
    return msgspec.convert(svc.uploads.describe(upload_id), UploadSession)


@post("/uploads/{upload_id:str}/complete", status_code=HTTP_202_ACCEPTED, tags=["uploads"],
      responses=error_responses(409, 410, 415))
async def complete_upload(upload_id: str, svc: Svc, duplicates: Duplicates = DUPLICATES) -> UploadAccepted:
    """Assemble the chunks and process the file (a ZIP is unpacked into the batch); repeatable."""
    return msgspec.convert(await svc.uploads.complete(upload_id, duplicates), UploadAccepted)


@delete("/uploads/{upload_id:str}", tags=["uploads"], responses=error_responses(409, 410))
async def cancel_upload(upload_id: str, svc: Svc) -> None:
    """Abandon an upload: its chunks are deleted and its batch fails."""
    await svc.uploads.cancel(upload_id)


upload_handlers = [create_upload, put_chunk, show_upload, complete_upload, cancel_upload]
