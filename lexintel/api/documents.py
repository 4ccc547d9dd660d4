"""Documents: upload (streamed multipart), status, text by page, retry, delete."""

from __future__ import annotations

import sqlite3
from typing import Any

from litestar import Request, delete, get, post
from litestar.status_codes import HTTP_202_ACCEPTED

from lexintel.auth.access import require_case
from lexintel.auth.users import User
from lexintel.errors import BadRequest, Conflict, ServiceUnavailable
from lexintel.events.model import ProgressEvent
from lexintel.events.schema import stream_key
from lexintel.services import Svc
from lexintel.store.records import document_json
from lexintel.upload.multipart import receive_multipart

__all__ = ["document_handlers"]


_STATUS_FIELDS = ("case_id", "batch_id", "filename", "status", "stage", "progress", "pages_total", "pages_done",
                  "chunks", "message", "error_code", "error_message", "run")


def _status_json(row: sqlite3.Row) -> dict[str, Any]:
    """The polling view: the document's progress fields, named like a ProgressEvent (``document_id``, ``step``)."""
    doc = document_json(row)
    return {"document_id": doc["id"], "step": doc["stage"], **{key: doc[key] for key in _STATUS_FIELDS}}


async def _receive(svc: Svc, request: Request[Any, Any, Any]) -> Any:
    if not svc.accepting_uploads:
        raise ServiceUnavailable("shutting_down", "The server is shutting down; retry the upload in a moment.")
    s = svc.settings
    return await receive_multipart(
        request, svc.files, max_request_bytes=s.max_request_bytes, max_file_bytes=s.max_file_bytes,
        max_files=s.max_files_per_batch,
    )


@post("/cases/{case_id:str}/documents", status_code=HTTP_202_ACCEPTED, request_max_body_size=None,
      tags=["documents"])
async def upload_to_case(case_id: str, request: Request[Any, Any, Any], svc: Svc) -> dict[str, Any]:
    """Upload one or more files (multipart, any field name) into a case; 202 with the new document ids."""
    svc.records.case(case_id)  # 404 before reading the body
    received = await _receive(svc, request)
    return await svc.intake.accept(case_id, received)


@post("/documents/upload", status_code=HTTP_202_ACCEPTED, request_max_body_size=None, tags=["documents"])
async def upload_compat(request: Request[Any, Any, Any], svc: Svc, caller: User) -> dict[str, Any]:
    """Compatibility alias of the original design: the case comes in the form field ``case_id``."""
    received = await _receive(svc, request)
    case_id = received.fields.get("case_id", "").strip()
    try:
        if not case_id:
            raise BadRequest("missing_case_id", "Add the form field 'case_id' naming the case to upload into.")
        require_case(svc.db, caller, case_id)  # missing or not the caller's: the same 404
    except Exception:
        await received.discard()
        raise
    return await svc.intake.accept(case_id, received)


@get("/documents/{document_id:str}", tags=["documents"])
async def show_document(document_id: str, svc: Svc) -> dict[str, Any]:
    """A document's metadata and status."""
    return document_json(svc.records.document(document_id))


@get(["/documents/{document_id:str}/status", "/progress/documents/{document_id:str}/status"], tags=["documents"])
async def document_status(document_id: str, svc: Svc) -> dict[str, Any]:
    """Polling fallback for the stream: status, stage, progress, pages, error."""
    row = svc.records.document(document_id)
    body = _status_json(row)
    body["last_event_id"] = svc.events.last_id(stream_key("document", document_id))
    return body


@get("/documents/{document_id:str}/text", tags=["documents"])
async def document_text(document_id: str, svc: Svc) -> dict[str, Any]:
    """The extracted text, page by page (pages appear as extraction proceeds)."""
    row = svc.records.document(document_id)

    def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute("SELECT page, text FROM pages WHERE document_id = ? ORDER BY page", (document_id,))
        return [{"page": r[0], "text": r[1]} for r in rows]

    pages = await svc.db.read(read)
    return {"document_id": document_id, "filename": row["filename"], "status": row["status"], "pages": pages}


@post("/documents/{document_id:str}/retry", status_code=HTTP_202_ACCEPTED, tags=["documents"])
async def retry_document(document_id: str, svc: Svc) -> dict[str, Any]:
    """Run a failed document through the pipeline again (a new run: its stream starts a new history)."""
    row = svc.records.document(document_id)
    if row["status"] != "failed":
        raise Conflict("not_failed", f"Only failed documents can be retried; this one is {row['status']}.")
    if not row["storage_path"]:
        raise Conflict("no_file", "This file was refused at upload and was not kept; upload it again.")
    run = row["run"] + 1

    def reset(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE documents SET status = 'pending', stage = 'queued', progress = 0, run = ?, error_code = NULL,"
            " error_message = NULL, finished_at = NULL, message = ? WHERE id = ?",
            (run, f"{row['filename']} is waiting to be processed again", document_id),
        )

    svc.emitter.emit(
        ProgressEvent(case_id=row["case_id"], document_id=document_id, batch_id=row["batch_id"], run=run,
                      status="processing", stage="queued", progress=0, filename=row["filename"],
                      message=f"{row['filename']} is waiting to be processed again"),
        write=reset,
    )
    svc.pipeline.enqueue(document_id)
    return _status_json(svc.records.document(document_id))


@delete("/documents/{document_id:str}", tags=["documents"])
async def delete_document(document_id: str, svc: Svc) -> None:
    """Delete a document, its text, passages, file and stream; stops its processing if running."""
    row = svc.records.document(document_id)
    svc.pipeline.cancel(document_id)
    stream = stream_key("document", document_id)
    with svc.db.transaction() as conn:
        conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
        conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
        svc.events.delete_stream(conn, stream)
    svc.broadcaster.close_stream(stream, "deleted")
    if row["storage_path"]:
        svc.files.remove(row["storage_path"])


document_handlers = [
    upload_to_case, upload_compat, show_document, document_status, document_text, retry_document,
    delete_document,
]
