"""Pipeline step and failure log lines, written by an emitter listener.

Every state change already goes through the emitter, so listening there logs each step without touching the
pipeline: one line when a document enters a stage (per-page progress is not logged: the events and metrics
carry it), one WARNING line with the document id, error code and our own error detail when it fails.
The event's ``message`` is not logged: it names the file, and file names can be as sensitive as content.
"""

from __future__ import annotations

import logging
from typing import Any

from lexintel.events.emitter import EmittedEvent
from lexintel.observability.logging import log_event

__all__ = ["PipelineLogger"]

log = logging.getLogger("lexintel.pipeline")
MAX_TRACKED = 10_000  # bound on remembered "last stage" entries (documents in flight)


class PipelineLogger:
    """Emitter listener: ``pipeline.step`` on stage changes, ``pipeline.failed`` on failures."""

    def __init__(self) -> None:
        self._last_stage: dict[str, str] = {}

    def __call__(self, event: EmittedEvent) -> None:
        ev = event.event
        document_id = ev.document_id
        stage = ev.stage
        if document_id is None:  # a batch-level event
            if event.terminal:
                log_event(log, "batch.finished", batch_id=ev.batch_id, status=ev.status)
            return
        key = str(document_id)
        if self._last_stage.get(key) == stage and not event.terminal:
            return
        fields: dict[str, Any] = {"document_id": key, "stage": stage, "run": ev.run,
                                     "progress": ev.progress}
        if ev.batch_id:
            fields["batch_id"] = ev.batch_id
        if stage in ("completed", "failed"):
            fields["elapsed_s"] = ev.elapsed_seconds
        error = ev.error
        if ev.status == "failed" and error is not None:
            log_event(log, "pipeline.failed", logging.WARNING, **fields, code=error.code,
                      detail=error.detail)
        else:
            log_event(log, "pipeline.step", **fields)
        if event.terminal:
            self._last_stage.pop(key, None)
        else:
            if len(self._last_stage) >= MAX_TRACKED:
                self._last_stage.clear()
            self._last_stage[key] = stage
