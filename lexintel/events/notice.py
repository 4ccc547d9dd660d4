"""Named notices on a case stream that are not a document's progress: ``deleted`` (a document is gone), and
:class:`Notice`, what every such notice is once committed (``case_renamed`` and ``case_deleted`` too, from
:mod:`lexintel.cases`): :meth:`Emitter.tell <lexintel.events.emitter.Emitter.tell>` publishes it, ends the streams
it closes and hands it to the notice listeners (the Redis mirror sends it to the other instances).

A deleted document has no stream left to tell its end on, yet every open page of its case must drop its row.
So the deletion is appended to the case stream's durable log in the same transaction that deletes the row
(a page that reconnects with ``Last-Event-ID`` still gets it) and published after the commit, under its own
event name so ProgressEvent readers are not confused by a status they do not know.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from lexintel.clock import utc_now_iso
from lexintel.events.log import EventLog
from lexintel.events.schema import Frame, encode_frame, encode_json, stream_key

__all__ = ["CaseNotice", "Notice"]


@dataclass(frozen=True, slots=True)
class Notice:
    """A committed case-stream notice (logged, or for a terminal one only sent), for the emitter's listeners."""

    case_id: str
    id: int
    name: str
    subject: str
    data: str
    """The event's JSON, as logged and sent."""
    terminal: bool = False
    """Ends the case stream and is never logged (``case_deleted``)."""
    closes: tuple[str, ...] = field(default=())
    """Streams that end with it (reason ``deleted``): a deleted case's own, its documents' and batches'."""

    @property
    def stream(self) -> str:
        return stream_key("case", self.case_id)

    def frame(self) -> Frame:
        return Frame(self.id, self.name, self.subject, encode_frame(self.id, self.name, self.data))


@dataclass
class CaseNotice:
    """One notice for a case stream: :meth:`append` inside the transaction, :meth:`commit` after it commits."""

    case_id: str
    name: str
    subject: str
    """What it is about (``document:<id>``): a slow client's queue coalesces by subject."""
    body: dict[str, Any]
    event_id: int = 0
    data: str = ""

    @property
    def stream(self) -> str:
        return stream_key("case", self.case_id)

    def append(self, events: EventLog, conn: sqlite3.Connection) -> None:
        """Log the notice with the case stream's next id (inside the caller's transaction)."""
        self.event_id = events.reserve(self.stream)
        self.data = encode_json({"id": self.event_id, "case_id": self.case_id, **self.body,
                                 "timestamp": utc_now_iso()})
        events.append(conn, self.stream, self.event_id, 0, self.name, self.data)

    def commit(self, events: EventLog, closes: tuple[str, ...] = ()) -> Notice:
        """After the commit: record the id; the notice to hand to :meth:`Emitter.tell`."""
        events.commit_ids({self.stream: self.event_id})
        return Notice(self.case_id, self.event_id, self.name, self.subject, self.data, closes=closes)
