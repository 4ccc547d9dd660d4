"""The durable per-stream event log: ids and what a logged event means (its SQL is in
:mod:`lexintel.store.event_log`).

Ids are per stream, start at 1, and are never reused (a retried document's new run continues the sequence),
so a client's ``Last-Event-ID`` always means the same event. The last id of each stream is cached after
the first lookup; all appends happen on the writer connection, so the cache cannot go stale within a process.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from lexintel.events.schema import TERMINAL_NAMES
from lexintel.store import event_log as sql
from lexintel.store.db import Database

__all__ = ["EventLog", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of the log."""

    stream: str
    id: int
    run: int
    name: str
    data: str

    @property
    def terminal(self) -> bool:
        """Terminal for this stream's subject."""
        return self.name in TERMINAL_NAMES


class EventLog:
    """Append and read per-stream events."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._last: dict[str, int] = {}

    def last_id(self, stream: str) -> int:
        """The newest id of ``stream`` (0 when empty)."""
        cached = self._last.get(stream)
        if cached is None:
            cached = self._last[stream] = sql.last_id(self._db, stream)
        return cached

    def reserve(self, stream: str) -> int:
        """The id the next append to ``stream`` will get; call :meth:`commit_ids` once the write commits."""
        return self.last_id(stream) + 1

    def commit_ids(self, ids: dict[str, int]) -> None:
        """Record ids appended in a committed transaction."""
        self._last.update(ids)

    @staticmethod
    def append(conn: sqlite3.Connection, stream: str, event_id: int, run: int, name: str, data: str) -> None:
        """Insert one event inside the caller's transaction."""
        sql.append(conn, stream, event_id, run, name, data)

    @staticmethod
    def append_new(conn: sqlite3.Connection, stream: str, event_id: int, run: int, name: str, data: str) -> bool:
        """Insert a foreign event unless its ``(stream, id)`` is already logged; True if it was inserted."""
        return sql.append_new(conn, stream, event_id, run, name, data)

    def after(self, stream: str, after_id: int, limit: int) -> list[StoredEvent]:
        """Events of ``stream`` with id > ``after_id``, oldest first, at most ``limit``."""
        rows = sql.events_after(self._db, stream, after_id, limit)
        return [StoredEvent(stream, r[0], r[1], r[2], r[3]) for r in rows]

    def latest(self, stream: str) -> StoredEvent | None:
        """The newest event of ``stream``."""
        row = sql.latest_event(self._db, stream)
        return StoredEvent(stream, row[0], row[1], row[2], row[3]) if row else None

    def run_start(self, stream: str, run: int) -> int:
        """The id just before the first event of ``run`` (what a client without a cursor replays from)."""
        first = sql.run_first_id(self._db, stream, run)
        return first - 1 if first else 0

    def first_id(self, stream: str) -> int:
        """The oldest retained id (0 when empty)."""
        return sql.first_id(self._db, stream)

    def delete_stream(self, conn: sqlite3.Connection, stream: str) -> None:
        """Forget a stream (its subject was deleted). Ids are not reused: subjects have unique ids."""
        sql.delete_stream(conn, stream)
        self._last.pop(stream, None)

    def forget_streams(self, streams: list[str]) -> None:
        """Delete the copies of streams whose subject was deleted on another instance (one transaction)."""
        with self._db.transaction() as conn:
            for stream in streams:
                sql.delete_stream(conn, stream)
        for stream in streams:
            self._last.pop(stream, None)
