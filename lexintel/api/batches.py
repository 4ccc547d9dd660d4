"""Batches: description, a case's recent batches, and the polling fallback of the batch stream
(``/batches/{id}/stream`` is in streams)."""

from __future__ import annotations

import msgspec
from litestar import get
from litestar.params import Parameter

from lexintel.api.models.batches import Batch, BatchFields, BatchProgress
from lexintel.batches.report import describe
from lexintel.events.schema import stream_key
from lexintel.services import Svc
from lexintel.store.batches import case_batch_ids

__all__ = ["batch_handlers"]


@get("/batches/{batch_id:str}", tags=["batches"])
async def show_batch(batch_id: str, svc: Svc) -> Batch:
    """A batch: where it came from, stage, counts (indexed, failed, skipped), elapsed/ETA and its log."""
    body = describe(svc.db, svc.records, batch_id)
    body["document_ids"] = [r["id"] for r in svc.records.batch_documents(batch_id)]
    return msgspec.convert(body, Batch)


@get("/batches/{batch_id:str}/progress", tags=["batches"])
async def batch_progress(batch_id: str, svc: Svc) -> BatchProgress:
    """Polling fallback: current stage, counts and every document's status, plus the stream's last event id."""
    body = describe(svc.db, svc.records, batch_id)
    body.pop("log")
    body["last_event_id"] = svc.events.last_id(stream_key("batch", batch_id))
    body["documents"] = [
        {
            "document_id": r["id"], "filename": r["filename"], "status": r["status"], "stage": r["stage"],
            "progress": r["progress"], "pages_total": r["pages_total"], "pages_done": r["pages_done"],
            "error_code": r["error_code"], "error_message": r["error_message"],
        }
        for r in svc.records.batch_documents(batch_id)
    ]
    return msgspec.convert(body, BatchProgress)


@get("/cases/{case_id:str}/batches", tags=["batches"])
async def case_batches(case_id: str, svc: Svc,
                       limit: int = Parameter(default=20, ge=1, le=100, description="The newest this many")) -> list[
                           BatchFields]:
    """A case's newest batches with their outcome (counts, status, message), newest first: the page lists
    past uploads after a reload."""
    svc.records.case(case_id)
    out = []
    for batch_id in case_batch_ids(svc.db, case_id, limit):
        body = describe(svc.db, svc.records, batch_id)
        body.pop("log")
        out.append(msgspec.convert(body, BatchFields))
    return out


batch_handlers = [show_batch, batch_progress, case_batches]
