"""The single door every progress event goes through.

``emit`` takes a ProgressEvent, and in one SQLite transaction applies the caller's state change (e.g. the
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

import msgspec

from lexintel.clock import utc_now_iso
from lexintel.events.broadcaster import Broadcaster
from lexintel.events.log import EventLog
from lexintel.events.model import ProgressEvent, encode_event, with_stream_id
from lexintel.events.notice import Notice
from lexintel.events.schema import Frame, encode_frame, encode_json, encode_unnamed_frame, stream_key
from lexintel.events.seed import body_with_seed_fields, document_event_name, with_seed_fields
from lexintel.store.db import Database

__all__ = ["NOTICE_NAMES", "EmittedEvent", "Emitter", "IngestedEvent", "Listener", "NoticeListener", "Write"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """What listeners receive: the event as recorded (``id`` 0: it has one per stream) and its id in each
    stream."""

    event: ProgressEvent
    ids: dict[str, int]
    terminal: bool


Listener = Callable[[EmittedEvent], None]
NoticeListener = Callable[[Notice], None]
NOTICE_NAMES = frozenset({"deleted", "case_renamed", "case_deleted"})
"""Case-stream events that are notices, not ProgressEvents: their JSON gets none of the original design's fields."""
Write = Callable[[sqlite3.Connection], None]
"""A state change that must commit together with the event reporting it."""


def _on_the_wire(event: ProgressEvent) -> ProgressEvent:
    """The event as logged: stamped now (unless it carries its own time), ``step`` defaulting to ``stage``,
    numbers rounded to the precision clients get."""
    eta = event.eta_seconds
    return msgspec.structs.replace(
        event,
        step=event.step or event.stage,
        progress=round(event.progress, 2),
        stage_progress=round(event.stage_progress, 2),
        elapsed_seconds=round(event.elapsed_seconds, 3),
        eta_seconds=None if eta is None else round(eta, 1),
        timestamp=event.timestamp or utc_now_iso(),
    )


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
        self.notice_listeners: list[NoticeListener] = []
        self._closed_batches: dict[str, bool] = {}
        self.deleted_cases: set[str] = set()
        """Cases deleted in this process (:mod:`lexintel.cases`): their late events are dropped unwritten."""

    def _batch_closed(self, batch_id: str) -> bool:
        """True once a batch stream has its terminal event: a finished batch's stream is closed history, so a
        later retry of one of its documents is told on the document and case streams only."""
        closed = self._closed_batches.get(batch_id)
        if closed is None:
            latest = self._log.latest(stream_key("batch", batch_id))
            closed = self._closed_batches[batch_id] = latest is not None and latest.terminal
        return closed

    def emit(self, event: ProgressEvent, *, terminal: bool = False, write: Write | None = None) -> EmittedEvent:
        """Record and publish one event; ``write`` runs in the same transaction (the state change it reports).

        The emitter stamps the time, fills ``step`` from ``stage`` and rounds the numbers to their wire
        precision, so callers build the event from their own values. ``terminal`` ends the subject's stream.
        """
        if event.case_id is not None and event.case_id in self.deleted_cases:
            return EmittedEvent(event, {}, terminal)  # work that was in flight when its case was deleted
        event = _on_the_wire(event)
        document_id, batch_id = event.document_id, event.batch_id
        terminal_name = "error" if event.status == "failed" else "complete"
        subject = stream_key("document", document_id) if document_id else stream_key("batch", batch_id or "")
        targets: list[tuple[str, int, str]] = []  # (stream, run, event name)
        if document_id:
            targets.append((subject, event.run, terminal_name if terminal else "progress"))
        if batch_id and not (document_id and self._batch_closed(batch_id)):
            batch_terminal = terminal and document_id is None
            # A document's own events go on its batch stream under their own name (seed 004 clients draw the
            # batch bar from `progress`).
            batch_name = document_event_name() if document_id else "progress"
            targets.append((stream_key("batch", batch_id), 0, terminal_name if batch_terminal else batch_name))
            if batch_terminal:
                self._closed_batches[batch_id] = True
        targets.append((stream_key("case", event.case_id or ""), 0, "progress"))

        ids: dict[str, int] = {}
        frames: list[tuple[str, Frame]] = []
        # Once: the streams' copies differ only by id (plus the original design's field names, seed.py).
        encoded = with_seed_fields(encode_event(event), document_id, event.status, event.stage_progress,
                                   event.error)
        with self._db.transaction() as conn:
            if write is not None:
                write(conn)
            for stream, stream_run, name in targets:
                event_id = self._log.reserve(stream)
                data_json = with_stream_id(event_id, encoded)
                self._log.append(conn, stream, event_id, stream_run, name, data_json)
                payload = encode_frame(event_id, name, data_json)
                unnamed = encode_unnamed_frame(event_id, data_json) if stream == subject and document_id else b""
                ids[stream] = event_id
                frames.append((stream, Frame(event_id, name, subject, payload, unnamed=unnamed)))
        self._log.commit_ids(ids)

        for stream, frame in frames:
            self._broadcaster.publish(stream, frame)
        emitted = EmittedEvent(event, ids, terminal)
        for listener in self.listeners:
            try:
                listener(emitted)
            except Exception:  # a listener must never break the pipeline
                log.exception("event listener failed")
        return emitted

    def tell(self, notice: Notice) -> None:
        """Publish a committed case-stream notice (a rename, a deletion), end the streams it closes, then hand it to
        the notice listeners (the Redis mirror), as :meth:`emit` does for progress."""
        self._broadcaster.publish(notice.stream, notice.frame())
        for stream in notice.closes:
            self._broadcaster.close_stream(stream, "deleted")
        for listener in self.notice_listeners:
            try:
                listener(notice)
            except Exception:  # a listener must never break a rename or a delete
                log.exception("notice listener failed")

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
                if event.name not in NOTICE_NAMES:  # (a notice is stored as its origin wrote it)
                    data_json = body_with_seed_fields(data_json, event.body)
                inserted = self._log.append_new(conn, event.stream, event_id, event.run, event.name, data_json)
                last[event.stream] = max(known, event_id)
                if inserted:
                    appended.append(IngestedEvent(event.stream, event_id, event.run, event.name, event.subject,
                                                  event.body))
                    unnamed = encode_unnamed_frame(event_id, data_json) if event.stream.startswith("document:") else b""
                    frames.append((event.stream, Frame(event_id, event.name, event.subject,
                                                       encode_frame(event_id, event.name, data_json),
                                                       unnamed=unnamed)))
        self._log.commit_ids(last)
        if broadcast:
            for stream, frame in frames:
                self._broadcaster.publish(stream, frame)
        return appended
