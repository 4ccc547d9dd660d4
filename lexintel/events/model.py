"""The ProgressEvent as a type: one ``msgspec.Struct`` shared by the emitter, the Redis mirror, the OpenAPI schema
and clients, so the event's fields are written down once (DESIGN.md "ProgressEvent").

Field order is the wire order: encoding an event gives byte-for-byte the JSON clients already parse
(``{"id":…,"document_id":…,…,"run":…}``). ``id`` is per stream, so the emitter encodes the body once with
``id=0`` and swaps the id in per stream (:func:`with_stream_id`).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["EventError", "ProgressEvent", "encode_event", "event_fields", "with_stream_id"]


class EventError(msgspec.Struct, frozen=True):
    """Why a document or batch failed (or why an entry was skipped): a stable ``code`` and a human ``detail``."""

    code: str
    detail: str


class ProgressEvent(msgspec.Struct, kw_only=True):
    """One step of a document's or batch's progress, as stored in the event log and sent on SSE ``data:`` lines."""

    id: int = 0
    """Per-stream, monotonically increasing; also the SSE ``id:`` field (0 until the emitter assigns it)."""
    document_id: str | None = None
    batch_id: str | None = None
    case_id: str | None
    """Null only on an outside worker's event (its original shape has no case)."""
    status: str
    """``processing`` | ``completed`` | ``failed``."""
    stage: str
    """A stage name from the stage registry (``GET /stages``)."""
    step: str = ""
    """Same as ``stage``: kept for clients of the original design."""
    progress: float = 0.0
    """0-100, overall for this document or batch; never decreases within a run."""
    stage_progress: float = 0.0
    items_total: int = 0
    items_done: int = 0
    message: str = ""
    elapsed_seconds: float = 0.0
    eta_seconds: float | None = None
    timestamp: str = ""
    """ISO-8601 UTC with microseconds."""
    error: EventError | None = None
    filename: str | None = None
    run: int = 0
    """The document's attempt number (0 for batch-level events)."""


_encoder = msgspec.json.Encoder()
_ID_PREFIX = b'{"id":0,'


def encode_event(event: ProgressEvent) -> str:
    """Compact JSON of an event; never contains a raw newline, so it fits one SSE ``data:`` line."""
    return _encoder.encode(event).decode()


def with_stream_id(event_id: int, encoded: str) -> str:
    """``encoded`` (an event encoded with ``id=0``) with its id set to ``event_id``, without encoding again:
    an event belongs to up to three streams and only the id differs."""
    assert encoded.startswith('{"id":0,'), "encode the event with id=0 first"
    return f'{{"id":{event_id},{encoded[len(_ID_PREFIX):]}'


def event_fields(event: ProgressEvent) -> dict[str, Any]:
    """The event as plain JSON-ready data without its per-stream ``id``, for code that adds its own keys
    (the Redis mirror's ``ids``/``instance_id``) or stores a body per stream (foreign events)."""
    fields: dict[str, Any] = msgspec.to_builtins(event)
    del fields["id"]
    return fields
