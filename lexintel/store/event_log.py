"""The SQL of the durable per-stream event log (the ``events`` table, keyed by ``(stream, id)``).

Plain functions over the writer connection: reads go through :class:`Database` (small, indexed, and they must
see the writer's own latest commits), writes take the caller's transaction, because an event is always
appended in the same commit as the state change it reports. Ids, their cache and what a row means live in
:mod:`lexintel.events.log`.
"""

from __future__ import annotations

import sqlite3

from lexintel.store.db import Database

__all__ = [
    "append",
    "append_new",
    "delete_stream",
    "events_after",
    "first_id",
    "last_id",
    "latest_event",
    "run_first_id",
]

# (id, run, name, data) of one event; the stream is the caller's argument.
_COLUMNS = "id, run, name, data"


def _int_or_zero(row: sqlite3.Row | None) -> int:
    return int(row[0]) if row is not None and row[0] is not None else 0


def last_id(db: Database, stream: str) -> int:
    """The newest id of ``stream`` (0 when empty)."""
    return _int_or_zero(db.query_one("SELECT MAX(id) FROM events WHERE stream = ?", (stream,)))


def first_id(db: Database, stream: str) -> int:
    """The oldest retained id of ``stream`` (0 when empty)."""
    return _int_or_zero(db.query_one("SELECT MIN(id) FROM events WHERE stream = ?", (stream,)))


def run_first_id(db: Database, stream: str, run: int) -> int:
    """The id of the first event of ``run`` in ``stream`` (0 when the run has none)."""
    return _int_or_zero(db.query_one("SELECT MIN(id) FROM events WHERE stream = ? AND run = ?", (stream, run)))


def events_after(db: Database, stream: str, after_id: int, limit: int) -> list[sqlite3.Row]:
    """``(id, run, name, data)`` rows of ``stream`` with id > ``after_id``, oldest first, at most ``limit``."""
    return db.query(
        f"SELECT {_COLUMNS} FROM events WHERE stream = ? AND id > ? ORDER BY id LIMIT ?",
        (stream, after_id, limit),
    )


def latest_event(db: Database, stream: str) -> sqlite3.Row | None:
    """The ``(id, run, name, data)`` row of the newest event of ``stream``."""
    return db.query_one(f"SELECT {_COLUMNS} FROM events WHERE stream = ? ORDER BY id DESC LIMIT 1", (stream,))


def append(conn: sqlite3.Connection, stream: str, event_id: int, run: int, name: str, data: str) -> None:
    """Insert one event inside the caller's transaction (a duplicate ``(stream, id)`` is an error: a bug)."""
    conn.execute(
        "INSERT INTO events (stream, id, run, name, data) VALUES (?, ?, ?, ?, ?)",
        (stream, event_id, run, name, data),
    )


def append_new(conn: sqlite3.Connection, stream: str, event_id: int, run: int, name: str, data: str) -> bool:
    """Insert one event unless ``(stream, id)`` is already logged; True if it was inserted.

    For events from elsewhere (another instance, Redis backfill): the same event may arrive twice.
    """
    cursor = conn.execute(
        "INSERT OR IGNORE INTO events (stream, id, run, name, data) VALUES (?, ?, ?, ?, ?)",
        (stream, event_id, run, name, data),
    )
    return cursor.rowcount > 0


def delete_stream(conn: sqlite3.Connection, stream: str) -> None:
    """Delete every event of ``stream`` inside the caller's transaction."""
    conn.execute("DELETE FROM events WHERE stream = ?", (stream,))
