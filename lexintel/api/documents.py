"""Documents: upload (streamed multipart), status, text by page, retry, delete."""

from __future__ import annotations

import sqlite3
from functools import partial
from typing import Any

import msgspec
from litestar import Request, delete, get, post
from litestar.status_codes import HTTP_202_ACCEPTED

from lexintel.api.document_files import document_file_handlers
from lexintel.api.errors import error_responses
from lexintel.api.models.documents import DUPLICATES, Document, DocumentStatus, DocumentText, Duplicates, UploadAccepted
from lexintel.auth.access import require_writable_case
from lexintel.auth.users import User
from lexintel.errors import BadRequest, ServiceUnavailable
from lexintel.events.schema import stream_key
from lexintel.services import Svc
from lexintel.store import documents as document_rows
from lexintel.store.records import document_json
from lexintel.upload.multipart import receive_multipart

__all__ = ["document_handlers"]


_STATUS_FIELDS = ("case_id", "batch_id", "filename", "status", "stage", "progress", "pages_total", "pages_done",
                  "chunks", "message", "error_code", "error_message", "run")


def _status_json(row: sqlite3.Row) -> dict[str, Any]:
    """The polling view: the document's progress fields, named like a ProgressEvent (``document_id``, ``step``)."""
    doc = document_json(row)
    return {"document_id": doc["id"], "step": doc["stage"], **{key: doc[key] for key in _STATUS_FIELDS}}


def _principal(caller: User, request: Request[Any, Any, Any]) -> str:
    """Whose uploads count together: the user; with AUTH=off (one implicit admin) the client's address."""
    if caller.implicit:
        return "address:" + (request.client.host if request.client else "?")
    return "user:" + caller.id


async def _receive(svc: Svc, request: Request[Any, Any, Any]) -> Any:
    if not svc.accepting_uploads:
        raise ServiceUnavailable("shutting_down", "The server is shutting down; retry the upload in a moment.")
    s = svc.settings
    return await receive_multipart(
        request, svc.files, max_request_bytes=s.max_request_bytes, max_file_bytes=s.max_file_bytes,
        max_files=s.max_files_per_batch,
    )


@post("/cases/{case_id:str}/documents", status_code=HTTP_202_ACCEPTED, request_max_body_size=None,
      tags=["documents"], responses=error_responses(400, 409, 413, 415, 429, 503))
async def upload_to_case(case_id: str, request: Request[Any, Any, Any], svc: Svc, caller: User,
                         duplicates: Duplicates = DUPLICATES) -> UploadAccepted:
    """Upload one or more files (multipart, any field name) into a case; 202 with the new document ids."""
    svc.records.case(case_id)  # 404 before reading the body
    with svc.upload_slots.hold(_principal(caller, request)):
        received = await _receive(svc, request)
        return msgspec.convert(await svc.intake.accept(case_id, received, duplicates), UploadAccepted)


@post("/documents/upload", status_code=HTTP_202_ACCEPTED, request_max_body_size=None, tags=["documents"],
      responses=error_responses(400, 404, 409, 413, 415, 429, 503))
async def upload_compat(request: Request[Any, Any, Any], svc: Svc, caller: User,
                        duplicates: Duplicates = DUPLICATES) -> UploadAccepted:
    """Compatibility alias of the original design: the case comes in the form field ``case_id``."""
    with svc.upload_slots.hold(_principal(caller, request)):
        return await _upload_compat(request, svc, caller, duplicates)


async def _upload_compat(request: Request[Any, Any, Any], svc: Svc, caller: User,
                         duplicates: Duplicates) -> UploadAccepted:
    received = await _receive(svc, request)
    case_id = received.fields.get("case_id", "").strip()
    try:
        if not case_id:
            raise BadRequest("missing_case_id", "Add the form field 'case_id' naming the case to upload into.")
        require_writable_case(svc.db, caller, case_id)  # missing or not the caller's: the same 404
    except Exception:
        await received.discard()
        raise
    return msgspec.convert(await svc.intake.accept(case_id, received, duplicates), UploadAccepted)


@get("/documents/{document_id:str}", tags=["documents"])
async def show_document(document_id: str, svc: Svc) -> Document:
    """A document's metadata and status."""
    return msgspec.convert(document_json(svc.records.document(document_id)), Document)


@get(["/documents/{document_id:str}/status", "/progress/documents/{document_id:str}/status",
      "/api/documents/{document_id:str}/status"], tags=["documents"])
async def document_status(document_id: str, svc: Svc) -> DocumentStatus:
    """Polling fallback for the stream: status, stage, progress, pages, error (``processing_status`` is
    ``status`` under the name the original design's 003 hook reads)."""
    row = svc.records.document(document_id)
    body = _status_json(row)
    body["last_event_id"] = svc.events.last_id(stream_key("document", document_id))
    body["processing_status"] = body["status"]
    return msgspec.convert(body, DocumentStatus)


@get("/documents/{document_id:str}/text", tags=["documents"])
async def document_text(document_id: str, svc: Svc) -> DocumentText:
    """The extracted text, page by page (pages appear as extraction proceeds); a page read by OCR has its
    ``ocr_confidence`` (0-100)."""
    row = svc.records.document(document_id)
    pages = await svc.db.read(partial(document_rows.pages, document_id=document_id))
    return msgspec.convert({"document_id": document_id, "filename": row["filename"], "status": row["status"],
                            "pages": pages}, DocumentText)


@post("/documents/{document_id:str}/retry", status_code=HTTP_202_ACCEPTED, tags=["documents"],
      responses=error_responses(409))
async def retry_document(document_id: str, svc: Svc) -> DocumentStatus:
    """Run a failed document through the pipeline again (a new run: its stream starts a new history)."""
    return msgspec.convert(_status_json(svc.documents.retry(document_id)), DocumentStatus)


@delete("/documents/{document_id:str}", tags=["documents"])
async def delete_document(document_id: str, svc: Svc) -> None:
    """Delete a document, its text, passages, file and stream; stops its processing if running."""
    svc.documents.delete(document_id)


document_handlers = [
    upload_to_case, upload_compat, show_document, document_status, document_text, retry_document,
    delete_document, *document_file_handlers,
]
