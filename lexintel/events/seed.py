"""The original design's event fields and shapes, computed once per event (seed-clients/README.md).

LexIntel's ProgressEvent already carries the original document fields (``document_id, status, step, progress,
message, timestamp``). The original clients also read a few fields under their own names; they are appended to
the event JSON once, where the event is encoded (the Emitter, and :meth:`Emitter.ingest` for events from other
instances and outside workers), so every stream and every subscriber shares the same bytes:

* a failed document event gets ``error_message`` (the 001 hook shows it);
* a batch's own event gets ``progress_percentage`` (progress within the current stage, i.e. ``stage_progress``)
  and ``error_details`` (null unless it failed), the seed 004 ``BatchProgressEvent`` fields.

Appending keeps every existing field, its order and its bytes: clients that parse LexIntel's JSON see the same
object with one or two keys more. :func:`batch_progress_event` builds the original ``BatchProgressEvent`` itself,
for the Redis keys the original debugging commands read (``batch:{id}:progress:current`` and ``:log``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["batch_progress_event", "body_with_seed_fields", "document_event_name", "seed_suffix", "with_seed_fields"]

DOCUMENT_EVENT = "document"
"""The SSE name of a document's own events on a batch stream: the original batch client listens to
``progress``/``complete``/``error`` for the batch, so document events must not move its bar."""


def document_event_name() -> str:
    """The event name documents' events carry on a batch stream."""
    return DOCUMENT_EVENT


def _error_detail(error: Any) -> str | None:
    if isinstance(error, dict):
        detail = error.get("detail")
        return detail if isinstance(detail, str) else None
    detail = getattr(error, "detail", None)
    return detail if isinstance(detail, str) else None


def seed_suffix(document_id: str | None, status: str, stage_progress: float, error: Any) -> str:
    """The JSON members (``,"key":value``…) the original clients read that the event has under other names."""
    if document_id:
        if status != "failed":
            return ""
        return f',"error_message":{json.dumps(_error_detail(error) or "failed", ensure_ascii=False)}'
    details = _error_detail(error) if status == "failed" else None
    return (f',"progress_percentage":{json.dumps(float(stage_progress))}'
            f',"error_details":{json.dumps(details, ensure_ascii=False)}')


def with_seed_fields(encoded: str, document_id: str | None, status: str, stage_progress: float,
                     error: Any) -> str:
    """``encoded`` (a JSON object) with the original design's fields appended (see the module docstring)."""
    suffix = seed_suffix(document_id, status, stage_progress, error)
    if not suffix or not encoded.endswith("}"):
        return encoded
    return encoded[:-1] + suffix + "}"


def body_with_seed_fields(encoded: str, body: dict[str, Any]) -> str:
    """:func:`with_seed_fields` for an event held as a dict (another instance's, an outside worker's); a body
    that already carries the fields (an older instance's copy) is left alone."""
    if "error_message" in body or "progress_percentage" in body:
        return encoded
    progress = body.get("stage_progress")
    return with_seed_fields(encoded, body.get("document_id"), str(body.get("status") or ""),
                            float(progress) if isinstance(progress, int | float) else 0.0, body.get("error"))


def batch_progress_event(body: dict[str, Any]) -> dict[str, Any]:
    """The seed 004 ``BatchProgressEvent`` of a batch's own event (``body`` is the ProgressEvent as a dict)."""
    stage_progress = body.get("stage_progress")
    elapsed = body.get("elapsed_seconds")
    return {
        "stage": body.get("stage"),
        "message": body.get("message", ""),
        "progress_percentage": float(stage_progress) if isinstance(stage_progress, int | float) else 0.0,
        "sheets_total": body.get("items_total", 0),
        "sheets_processed": body.get("items_done", 0),
        "elapsed_seconds": int(elapsed) if isinstance(elapsed, int | float) else 0,
        "timestamp": body.get("timestamp", ""),
        "error_details": _error_detail(body.get("error")) if body.get("status") == "failed" else None,
    }
