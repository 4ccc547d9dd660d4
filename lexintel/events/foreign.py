"""Turn messages from Redis into events for the local log: other instances' events and outside workers'.

Two shapes arrive on ``document:{id}:progress`` / ``batch:{id}:progress``:

* a LexIntel instance's event: the ProgressEvent JSON plus ``instance_id``, ``ids`` (the event's id in each
  stream it belongs to, on its origin instance) and ``terminal``. It is stored under the origin's ids, so a
  ``Last-Event-ID`` means the same event on every instance (see README "Redis mirror").
* an outside worker's event in the original design's shape (``document_id, status, step, progress, message,
  timestamp`` and maybe ``error``): no ids, no instance. It is translated to a ProgressEvent and takes the next
  local id of its document stream.
* an outside batch worker's ``BatchProgressEvent`` on ``batch:{id}:progress`` (seed 004: ``stage``,
  ``progress_percentage``, ``error_details``…, no ids): translated to a batch-level ProgressEvent that takes
  the next local id of its batch stream.
"""

from __future__ import annotations

import json
from typing import Any

from lexintel.clock import utc_now_iso
from lexintel.events.emitter import IngestedEvent
from lexintel.events.log import StoredEvent
from lexintel.events.model import EventError, ProgressEvent, event_fields
from lexintel.events.schema import StreamKind
from lexintel.events.seed import document_event_name
from lexintel.pipeline.stages import stage_for_step

__all__ = [
    "MIRROR_KEYS",
    "ForeignEventError",
    "channel_stream",
    "from_instance",
    "from_outside_batch",
    "from_outside_worker",
    "stage_for",
    "targets",
]

MIRROR_KEYS = ("instance_id", "ids", "terminal", "notice", "closes")
"""Keys the mirror adds to a published ProgressEvent (or case notice: its name, the streams it ends); stripped
again before storing it."""

class ForeignEventError(ValueError):
    """A message on a progress channel that is neither shape; counted and dropped, never fatal."""


def channel_stream(channel: str) -> tuple[StreamKind, str] | None:
    """``document:{id}:progress`` -> ("document", id); None for anything else."""
    kind, sep, rest = channel.partition(":")
    ident, sep2, suffix = rest.rpartition(":")
    if not sep or not sep2 or suffix != "progress" or not ident or kind not in ("document", "batch"):
        return None
    return ("document" if kind == "document" else "batch"), ident


def stage_for(step: str, status: str) -> str:
    """Map an original-design step (``extraction``, ``EXTRACTED``, ``embedding``…) to one of our stages: each
    stage of the registry lists the step-name prefixes that mean it."""
    if status == "completed":
        return "completed"
    if status == "failed":
        return "failed"
    return stage_for_step(step)


def _event_name(kind: StreamKind, body: dict[str, Any], terminal: bool) -> str:
    """The same naming rule as the Emitter: terminal names only on the subject's own stream."""
    if kind == "batch" and body.get("document_id"):
        return document_event_name()
    if not terminal or kind == "case":
        return "progress"
    return "error" if body.get("status") == "failed" else "complete"


def _subject(body: dict[str, Any]) -> str:
    if body.get("document_id"):
        return f"document:{body['document_id']}"
    return f"batch:{body.get('batch_id')}"


def from_instance(stream: str, message: dict[str, Any]) -> IngestedEvent:
    """One stream's copy of another instance's event, under the origin's id for that stream."""
    ids = message.get("ids")
    if not isinstance(ids, dict) or not isinstance(ids.get(stream), int):
        raise ForeignEventError(f"event for {stream} carries no id for it")
    kind = stream.partition(":")[0]
    if kind not in ("document", "batch", "case"):
        raise ForeignEventError(f"not a stream: {stream!r}")
    body = {k: v for k, v in message.items() if k != "id" and k not in MIRROR_KEYS}
    run = body.get("run", 0)
    notice = message.get("notice")  # a case notice (case_renamed, deleted, case_deleted): its own name
    if notice is not None and (kind != "case" or not isinstance(notice, str) or not notice.isidentifier()):
        raise ForeignEventError(f"bad notice {notice!r} for {stream}")
    return IngestedEvent(
        stream=stream,
        id=int(ids[stream]),
        run=run if kind == "document" and isinstance(run, int) else 0,
        name=notice or _event_name(kind, body, bool(message.get("terminal"))),  # type: ignore[arg-type]
        subject=_subject(body) if not notice or body.get("document_id") else stream,
        body=body,
    )


def targets(kind: StreamKind, ident: str, message: dict[str, Any]) -> list[str]:
    """The local streams a message received on ``kind:ident``'s channel goes to.

    A document event is published on its document channel and, if it has a batch, on the batch channel too;
    its case stream is fed from its *primary* channel only (document channel for document events, batch
    channel for batch-level events), so each stream gets each event once.
    """
    streams = [f"{kind}:{ident}"]
    primary = kind == "document" or not message.get("document_id")
    case_id = message.get("case_id")
    if primary and case_id and isinstance(message.get("ids"), dict) and f"case:{case_id}" in message["ids"]:
        streams.append(f"case:{case_id}")
    return streams


def from_outside_worker(document_id: str, message: dict[str, Any], latest: StoredEvent | None) -> IngestedEvent:
    """Translate ``{"document_id", "status", "step", "progress", "message", "timestamp", "error"?}``.

    ``completed`` (or progress 100) ends the stream with ``complete``, ``failed`` with ``error``. An event
    after a terminal one starts a new run, as a retry does, so a late joiner replays only the current run.
    """
    status = message.get("status")
    if not isinstance(status, str):
        raise ForeignEventError("outside-worker event without a string 'status'")
    status = status.strip().lower()
    if status not in ("processing", "completed", "failed"):
        raise ForeignEventError(f"unknown status {status!r}")
    try:
        progress = float(message.get("progress") or 0)
    except (TypeError, ValueError):
        raise ForeignEventError(f"progress must be a number, got {message.get('progress')!r}") from None
    progress = min(100.0, max(0.0, progress))
    if status == "processing" and progress >= 100:
        status = "completed"
    step = message.get("step")
    step = step if isinstance(step, str) and step else status
    error = None
    if status == "failed":
        raw = message.get("error")
        error = EventError("worker_failed", raw if isinstance(raw, str) else str(message.get("message") or "failed"))
    terminal = status != "processing"
    run = 0
    if latest is not None:
        run = latest.run + (1 if latest.terminal else 0)
    timestamp = message.get("timestamp")
    event = ProgressEvent(
        document_id=document_id,
        case_id=None,
        status=status,
        stage=stage_for(step, status),
        step=step,  # the worker's own step name, for clients of the original design
        progress=round(progress, 2),
        stage_progress=100.0 if terminal else 0.0,
        message=str(message.get("message") or ""),
        eta_seconds=0.0 if status == "completed" else None,
        timestamp=timestamp if isinstance(timestamp, str) and timestamp else utc_now_iso(),
        error=error,
        run=run,
    )
    body = event_fields(event)
    stream = f"document:{document_id}"
    return IngestedEvent(stream, None, run, _event_name("document", body, terminal), stream, body)


_BATCH_DONE = ("completed", "complete", "done", "finished")
_BATCH_FAILED = ("failed", "error")


def _number(message: dict[str, Any], key: str) -> float:
    value = message.get(key)
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ForeignEventError(f"{key} must be a number, got {value!r}")
    return float(value)


def from_outside_batch(batch_id: str, message: dict[str, Any], latest: StoredEvent | None) -> IngestedEvent:
    """Translate the original batch worker's ``BatchProgressEvent`` (``stage, message, progress_percentage,
    sheets_total, sheets_processed, elapsed_seconds, timestamp, error_details``: no ids inside).

    Its ``progress_percentage`` is progress within the stage: it becomes ``stage_progress`` (and is sent back as
    ``progress_percentage``); the overall ``progress`` is kept non-decreasing. A stage named completed/done ends
    the stream with ``complete``; ``failed``/``error`` or ``error_details`` with ``error``.
    """
    stage_name = message.get("stage")
    if not isinstance(stage_name, str) or not stage_name:
        raise ForeignEventError("outside batch event without a string 'stage'")
    lowered = stage_name.strip().lower()
    details = message.get("error_details")
    status = "processing"
    if lowered in _BATCH_FAILED or (isinstance(details, str) and details):
        status = "failed"
    elif lowered in _BATCH_DONE:
        status = "completed"
    percentage = min(100.0, max(0.0, _number(message, "progress_percentage")))
    before = 0.0
    if latest is not None and not latest.terminal:
        before = float(_previous_progress(latest))
    terminal = status != "processing"
    timestamp = message.get("timestamp")
    event = ProgressEvent(
        batch_id=batch_id,
        case_id=None,
        status=status,
        stage=stage_for(stage_name, status),
        step=stage_name,
        progress=100.0 if status == "completed" else max(before, percentage),
        stage_progress=round(percentage, 2),
        items_total=int(_number(message, "sheets_total")),
        items_done=int(_number(message, "sheets_processed")),
        message=str(message.get("message") or ""),
        elapsed_seconds=_number(message, "elapsed_seconds"),
        timestamp=timestamp if isinstance(timestamp, str) and timestamp else utc_now_iso(),
        error=EventError("worker_failed", details if isinstance(details, str) and details else "failed")
        if status == "failed" else None,
    )
    body = event_fields(event)
    stream = f"batch:{batch_id}"
    return IngestedEvent(stream, None, 0, _event_name("batch", body, terminal), stream, body)


def _previous_progress(latest: StoredEvent) -> float:
    try:
        value = json.loads(latest.data).get("progress", 0)
    except (ValueError, AttributeError):
        return 0.0
    return float(value) if isinstance(value, int | float) else 0.0
