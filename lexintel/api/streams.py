"""SSE endpoints: one document, one batch, or a whole case on one connection.

Resume point: the ``Last-Event-ID`` header (what EventSource sends on reconnect) or ``?last_event_id=``.

Event names follow the original design's clients on its paths (seed-clients/README.md): the document stream
sends unnamed events (``EventSource.onmessage``); ``?events=named`` opts into LexIntel's names
(``progress``/``complete``/``error``/``reset``), which LexIntel's CLI uses to see the terminal event. The batch
stream (also at ``/api/batches/{id}/stream``) names the batch's own events ``progress``/``complete``/``error`` and
its documents' events ``document``. The case stream (LexIntel's page) always uses LexIntel's names.

A stream for an id this instance has never heard of, when the Redis mirror is on and outside-worker events are
accepted (``LEXINTEL_ACCEPT_OUTSIDE_EVENTS``), waits up to ``LEXINTEL_UNKNOWN_STREAM_WAIT`` seconds (pinging) for
a first event instead of a 404: the original design's test connects before the worker publishes. With accounts
on, only admins reach that point (the auth guard answers 404 to anyone else for an id without a case), and only
when outside events are enabled (off by default with accounts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from litestar import Request, get
from litestar.params import Parameter
from litestar.response.base import ASGIResponse

from lexintel.api.openapi import SSE_MEDIA_TYPE, SSE_RESPONSES
from lexintel.api.sse import SSESession, replay_is_finished
from lexintel.api.sse_response import SSEResponse
from lexintel.api.stream_limits import admit_stream
from lexintel.auth.users import User
from lexintel.errors import BadRequest, NotFound, Unavailable
from lexintel.events.redis_mirror import HistoryUnavailable
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


async def require_subject(svc: Svc, kind: StreamKind, ident: str, lookup: Callable[[str], object]) -> float:
    """404 unless this instance has the row, or (Redis mirror) another instance's events for it, or it may still
    come from an outside worker; returns how long the stream should wait for a first event (0: it exists).
    503 with ``Retry-After`` when Redis cannot be read just now: the subject may exist on another instance."""
    try:
        lookup(ident)
    except NotFound:
        if svc.mirror is None or (kind == "case" and ident in svc.emitter.deleted_cases):
            raise  # (a case deleted here: gone, whatever copies of its events are about)
        try:
            known = await svc.mirror.adopt(stream_key(kind, ident))
        except HistoryUnavailable as exc:
            raise Unavailable("mirror_unavailable", f"This {kind} is not known here and its history could not be "
                              f"read from Redis ({exc}); try again shortly.", retry_after=2) from None
        if known:
            return 0.0
        if kind == "case" or not svc.settings.outside_events or svc.settings.unknown_stream_wait <= 0:
            raise
        return svc.settings.unknown_stream_wait
    return 0.0


def _unnamed(events: str | None) -> bool:
    if events is None or events == "":
        return True
    if events != "named":
        raise BadRequest("bad_events", f"events must be 'named' (or absent for unnamed events), got {events!r}.")
    return False


def open_stream(svc: Svc, kind: StreamKind | Literal["case-list"], ident: str, cursor: int | None, *,
                unnamed: bool = False, wait: float = 0.0, request: Request[Any, Any, Any] | None = None,
                caller: User | None = None) -> ASGIResponse:
    """204 if the client already has the terminal event, else an SSE response. With ``caller``, the stream also
    carries that user's case-list notices (:mod:`lexintel.case_list`)."""
    key = f"case-list:{ident}" if kind == "case-list" else stream_key(kind, ident)
    closes = kind not in ("case", "case-list")
    if closes and replay_is_finished(svc.events, key, cursor):
        return ASGIResponse(status_code=204)
    s = svc.settings
    session = SSESession(svc.events, svc.broadcaster, key, cursor, closes, s.ping_interval, s.sse_retry_ms,
                         on_deliver=svc.metrics.observe_delivery, on_close=svc.metrics.stream_closed,
                         unnamed=unnamed, wait_for_subject=wait,
                         on_subscribe=svc.case_lists.hook(caller.id) if caller is not None else None)
    if request is not None:
        admit_stream(request, svc, session)  # 429 past LEXINTEL_MAX_STREAMS_PER_USER (api/stream_limits.py)
    return SSEResponse(session)


_LAST = Parameter(default=None, description="Resume after this event id")
_EVENTS = Parameter(default=None, description="'named': LexIntel's event names; absent: unnamed events "
                    "(the original design's EventSource.onmessage clients)")


@get("/progress/documents/{document_id:str}/stream", tags=["streams"], media_type=SSE_MEDIA_TYPE,
     responses=SSE_RESPONSES)
async def document_stream(
    document_id: str, request: Request[Any, Any, Any], svc: Svc, last_event_id: str | None = _LAST,
    events: str | None = _EVENTS,
) -> ASGIResponse:
    """Live progress of one document (unnamed events unless ``?events=named``); closes after its terminal event."""
    unnamed = _unnamed(events)
    cursor = _cursor(request, last_event_id)
    wait = await require_subject(svc, "document", document_id, svc.records.document)
    return open_stream(svc, "document", document_id, cursor, unnamed=unnamed, wait=wait, request=request)


@get(["/batches/{batch_id:str}/stream", "/api/batches/{batch_id:str}/stream"], tags=["streams"],
     media_type=SSE_MEDIA_TYPE, responses=SSE_RESPONSES)
async def batch_stream(
    batch_id: str, request: Request[Any, Any, Any], svc: Svc, last_event_id: str | None = _LAST
) -> ASGIResponse:
    """Live progress of a batch (``progress``/``complete``/``error``) and its documents (``document``); closes
    after the batch's terminal event."""
    cursor = _cursor(request, last_event_id)
    wait = await require_subject(svc, "batch", batch_id, svc.records.batch)
    return open_stream(svc, "batch", batch_id, cursor, wait=wait, request=request)


@get("/cases/{case_id:str}/stream", tags=["streams"], media_type=SSE_MEDIA_TYPE, responses=SSE_RESPONSES)
async def case_stream(
    case_id: str, request: Request[Any, Any, Any], svc: Svc, caller: User, last_event_id: str | None = _LAST
) -> ASGIResponse:
    """Every document and batch event of a case on one connection, and the caller's ``cases_changed`` notices
    (a case renamed, deleted, created or shared: the page reloads its case list); stays open."""
    await require_subject(svc, "case", case_id, svc.records.case)
    return open_stream(svc, "case", case_id, _cursor(request, last_event_id), request=request, caller=caller)


@get("/case-list/stream", tags=["streams"], media_type=SSE_MEDIA_TYPE, responses=SSE_RESPONSES)
async def case_list_stream(request: Request[Any, Any, Any], svc: Svc, caller: User) -> ASGIResponse:
    """The caller's ``cases_changed`` notices only (no ids, nothing replayed): what the page listens to while
    no case is open, so its case switcher stays current; stays open."""
    return open_stream(svc, "case-list", caller.id, None, request=request, caller=caller)


stream_handlers = [document_stream, batch_stream, case_stream, case_list_stream]
