"""The durable per-stream event log, in the SQLite ``events`` table.

Ids are per stream, start at 1, and are never reused (a retried document's new run continues the sequence),
so a client's ``Last-Event-ID`` always means the same event. The last id of each stream is cached after
the first lookup; all appends happen on the writer connection, so the cache cannot go stale within a process.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from lexintel.events.schema import TERMINAL_NAMES
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
            row = self._db.query_one("SELECT MAX(id) FROM events WHERE stream = ?", (stream,))
            cached = int(row[0]) if row and row[0] is not None else 0
            self._last[stream] = cached
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
        conn.execute(
            "INSERT INTO events (stream, id, run, name, data) VALUES (?, ?, ?, ?, ?)",
            (stream, event_id, run, name, data),
        )

    def after(self, stream: str, after_id: int, limit: int) -> list[StoredEvent]:
        """Events of ``stream`` with id > ``after_id``, oldest first, at most ``limit``."""
        rows = self._db.query(
            "SELECT id, run, name, data FROM events WHERE stream = ? AND id > ? ORDER BY id LIMIT ?",
            (stream, after_id, limit),
        )
        return [StoredEvent(stream, r[0], r[1], r[2], r[3]) for r in rows]

    def latest(self, stream: str) -> StoredEvent | None:
        """The newest event of ``stream``."""
        row = self._db.query_one(
            "SELECT id, run, name, data FROM events WHERE stream = ? ORDER BY id DESC LIMIT 1", (stream,)
        )
        return StoredEvent(stream, row[0], row[1], row[2], row[3]) if row else None

    def run_start(self, stream: str, run: int) -> int:
        """The id just before the first event of ``run`` (what a client without a cursor replays from)."""
        row = self._db.query_one("SELECT MIN(id) FROM events WHERE stream = ? AND run = ?", (stream, run))
        return int(row[0]) - 1 if row and row[0] is not None else 0

    def first_id(self, stream: str) -> int:
        """The oldest retained id (0 when empty)."""
        row = self._db.query_one("SELECT MIN(id) FROM events WHERE stream = ?", (stream,))
        return int(row[0]) if row and row[0] is not None else 0

    def delete_stream(self, conn: sqlite3.Connection, stream: str) -> None:
        """Forget a stream (its subject was deleted). Ids are not reused: subjects have unique ids."""
        conn.execute("DELETE FROM events WHERE stream = ?", (stream,))
        self._last.pop(stream, None)
