"""The single door every progress event goes through.

``emit`` builds a ProgressEvent, and in one SQLite transaction applies the caller's state change (e.g. the
document row's new stage) and appends the event to each stream it belongs to (its document, its batch, its
case), each with that stream's next id. Only after the commit is the event offered to the broadcaster and to
listeners (Redis mirror, metrics). So the status endpoints, the log and the live streams always agree, and a
subscriber never sees an event the log does not have.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lexintel.clock import utc_now_iso
from lexintel.events.broadcaster import Broadcaster
from lexintel.events.log import EventLog
from lexintel.events.schema import Frame, encode_frame, encode_json, stream_key, with_id
from lexintel.store.db import Database

__all__ = ["EmittedEvent", "Emitter", "IngestedEvent"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """What listeners receive: the event body (without ``id``) and the id it got in each stream."""

    body: dict[str, Any]
    ids: dict[str, int]
    terminal: bool


Listener = Callable[[EmittedEvent], None]


@dataclass(frozen=True, slots=True)
class IngestedEvent:
    """An event that happened elsewhere (another instance, an outside worker), for :meth:`Emitter.ingest`.

    ``id`` is the origin's per-stream id (kept, so Last-Event-ID means the same event on every instance), or
    None to take this stream's next local id. ``body`` is the ProgressEvent without ``id``.
    """

    stream: str
    id: int | None
    run: int
    name: str
    subject: str
    body: dict[str, Any]


class Emitter:
    """Append-then-broadcast for every ProgressEvent."""

    def __init__(self, db: Database, log: EventLog, broadcaster: Broadcaster) -> None:
        self._db = db
        self._log = log
        self._broadcaster = broadcaster
        self.listeners: list[Listener] = []
        self._closed_batches: dict[str, bool] = {}

    def _batch_closed(self, batch_id: str) -> bool:
        """True once a batch stream has its terminal event: a finished batch's stream is closed history, so a
        later retry of one of its documents is told on the document and case streams only."""
        closed = self._closed_batches.get(batch_id)
        if closed is None:
            latest = self._log.latest(stream_key("batch", batch_id))
            closed = self._closed_batches[batch_id] = latest is not None and latest.terminal
        return closed

    def emit(
        self,
        *,
        case_id: str,
        status: str,
        stage: str,
        progress: float,
        message: str,
        document_id: str | None = None,
        batch_id: str | None = None,
        run: int = 0,
        stage_progress: float = 0.0,
        items_total: int = 0,
        items_done: int = 0,
        elapsed_seconds: float = 0.0,
        eta_seconds: float | None = None,
        error: dict[str, str] | None = None,
        filename: str | None = None,
        terminal: bool = False,
        write: Callable[[sqlite3.Connection], None] | None = None,
    ) -> EmittedEvent:
        """Record and publish one event; ``write`` runs in the same transaction (state change)."""
        body: dict[str, Any] = {
            "document_id": document_id,
            "batch_id": batch_id,
            "case_id": case_id,
            "status": status,
            "stage": stage,
            "step": stage,
            "progress": round(progress, 2),
            "stage_progress": round(stage_progress, 2),
            "items_total": items_total,
            "items_done": items_done,
            "message": message,
            "elapsed_seconds": round(elapsed_seconds, 3),
            "eta_seconds": None if eta_seconds is None else round(eta_seconds, 1),
            "timestamp": utc_now_iso(),
            "error": error,
            "filename": filename,
            "run": run,
        }
        terminal_name = "error" if status == "failed" else "complete"
        subject = stream_key("document", document_id) if document_id else stream_key("batch", batch_id or "")
        targets: list[tuple[str, int, str]] = []  # (stream, run, event name)
        if document_id:
            targets.append((subject, run, terminal_name if terminal else "progress"))
        if batch_id and not (document_id and self._batch_closed(batch_id)):
            batch_terminal = terminal and document_id is None
            targets.append((stream_key("batch", batch_id), 0, terminal_name if batch_terminal else "progress"))
            if batch_terminal:
                self._closed_batches[batch_id] = True
        targets.append((stream_key("case", case_id), 0, "progress"))

        ids: dict[str, int] = {}
        frames: list[tuple[str, Frame]] = []
        body_json = encode_json(body)  # once: the streams' copies differ only by id
        with self._db.transaction() as conn:
            if write is not None:
                write(conn)
            for stream, stream_run, name in targets:
                event_id = self._log.reserve(stream)
                data_json = with_id(event_id, body_json)
                self._log.append(conn, stream, event_id, stream_run, name, data_json)
                payload = encode_frame(event_id, name, data_json)
                ids[stream] = event_id
                frames.append((stream, Frame(event_id, name, subject, payload)))
        self._log.commit_ids(ids)

        for stream, frame in frames:
            self._broadcaster.publish(stream, frame)
        emitted = EmittedEvent(body, ids, terminal)
        for listener in self.listeners:
            try:
                listener(emitted)
            except Exception:  # a listener must never break the pipeline
                log.exception("event listener failed")
        return emitted

    def ingest(self, events: Sequence[IngestedEvent], *, broadcast: bool = True) -> list[IngestedEvent]:
        """Append foreign events to the log in one transaction, then broadcast them; listeners are NOT called.

        Used by the Redis mirror: an event received from Redis must reach local subscribers and the local log
        (so replay and resume work here) but must not be published back to Redis. An event whose (stream, id)
        is already logged is skipped (pub/sub and Redis-log backfill may both deliver it). Returns the events
        appended, with their ids.
        """
        appended: list[IngestedEvent] = []
        frames: list[tuple[str, Frame]] = []
        last: dict[str, int] = {}
        with self._db.transaction() as conn:
            for event in events:
                known = last.get(event.stream)
                if known is None:
                    known = self._log.last_id(event.stream)
                event_id = event.id if event.id is not None else known + 1
                data_json = encode_json({"id": event_id, **event.body})
                inserted = self._log.append_new(conn, event.stream, event_id, event.run, event.name, data_json)
                last[event.stream] = max(known, event_id)
                if inserted:
                    appended.append(IngestedEvent(event.stream, event_id, event.run, event.name, event.subject,
                                                  event.body))
                    frames.append((event.stream, Frame(event_id, event.name, event.subject,
                                                       encode_frame(event_id, event.name, data_json))))
        self._log.commit_ids(last)
        if broadcast:
            for stream, frame in frames:
                self._broadcaster.publish(stream, frame)
        return appended
