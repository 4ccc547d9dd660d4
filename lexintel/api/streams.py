"""SSE endpoints: one document, one batch, or a whole case on one connection.

Resume point: the ``Last-Event-ID`` header (what EventSource sends on reconnect) or ``?last_event_id=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, get
from litestar.params import Parameter
from litestar.response.base import ASGIResponse

from lexintel.api.openapi import SSE_MEDIA_TYPE, SSE_RESPONSES
from lexintel.api.sse import SSEResponse, SSESession, replay_is_finished
from lexintel.errors import BadRequest, NotFound
from lexintel.events.schema import StreamKind, stream_key
from lexintel.services import Svc

__all__ = ["stream_handlers"]


def _cursor(request: Request[Any, Any, Any], query_value: str | None) -> int | None:
    raw = request.headers.get("last-event-id") or query_value
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("bad_last_event_id", f"Last-Event-ID must be an integer event id, got {raw!r}.") from None
    if value < 0:
        raise BadRequest("bad_last_event_id", "Last-Event-ID cannot be negative.")
    return value


async def require_subject(svc: Svc, kind: StreamKind, ident: str, lookup: Callable[[str], object]) -> None:
    """404 unless this instance has the row, or (Redis mirror) another instance's events for it."""
    try:
        lookup(ident)
    except NotFound:
        if svc.mirror is None or not await svc.mirror.adopt(stream_key(kind, ident)):
            raise


def open_stream(svc: Svc, kind: StreamKind, ident: str, cursor: int | None) -> ASGIResponse:
    """204 if the client already has the terminal event, else an SSE response."""
    key = stream_key(kind, ident)
    closes = kind != "case"
    if closes and replay_is_finished(svc.events, key, cursor):
        return ASGIResponse(status_code=204)
    s = svc.settings
    session = SSESession(svc.events, svc.broadcaster, key, cursor, closes, s.ping_interval, s.sse_retry_ms,
                         on_deliver=svc.metrics.observe_delivery, on_close=svc.metrics.stream_closed)
    return SSEResponse(session)


_LAST = Parameter(default=None, description="Resume after this event id")


@get("/progress/documents/{document_id:str}/stream", tags=["streams"], media_type=SSE_MEDIA_TYPE,
     responses=SSE_RESPONSES)
async def document_stream(
    document_id: str, request: Request[Any, Any, Any], svc: Svc, last_event_id: str | None = _LAST
) -> ASGIResponse:
    """Live progress of one document; closes after its terminal event."""
    await require_subject(svc, "document", document_id, svc.records.document)
    return open_stream(svc, "document", document_id, _cursor(request, last_event_id))


@get("/batches/{batch_id:str}/stream", tags=["streams"], media_type=SSE_MEDIA_TYPE, responses=SSE_RESPONSES)
async def batch_stream(
    batch_id: str, request: Request[Any, Any, Any], svc: Svc, last_event_id: str | None = _LAST
) -> ASGIResponse:
    """Live progress of a batch and its documents; closes after the batch's terminal event."""
    await require_subject(svc, "batch", batch_id, svc.records.batch)
    return open_stream(svc, "batch", batch_id, _cursor(request, last_event_id))


@get("/cases/{case_id:str}/stream", tags=["streams"], media_type=SSE_MEDIA_TYPE, responses=SSE_RESPONSES)
async def case_stream(
    case_id: str, request: Request[Any, Any, Any], svc: Svc, last_event_id: str | None = _LAST
) -> ASGIResponse:
    """Every document and batch event of a case on one connection; stays open."""
    await require_subject(svc, "case", case_id, svc.records.case)
    return open_stream(svc, "case", case_id, _cursor(request, last_event_id))


stream_handlers = [document_stream, batch_stream, case_stream]
