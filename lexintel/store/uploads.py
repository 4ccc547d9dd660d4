"""The ``upload_sessions`` table: resumable chunked uploads (their chunks are files, see upload/chunked.py)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from lexintel.store.db import Database

__all__ = ["get", "has_open", "insert", "live_ids", "open_usage", "reopen_assembling", "set_status", "stale",
           "stored_bytes", "touch"]


def insert(db: Database, upload_id: str, *, case_id: str, batch_id: str, filename: str, total_size: int,
           chunk_size: int, sha256: str | None, created_at: str, expires_at: float) -> None:
    """A new open session."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO upload_sessions (id, case_id, batch_id, filename, total_size, chunk_size, sha256,"
            " status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)",
            (upload_id, case_id, batch_id, filename, total_size, chunk_size, sha256, created_at, expires_at),
        )


def get(db: Database, upload_id: str) -> sqlite3.Row | None:
    """A session row, or None."""
    return db.query_one("SELECT * FROM upload_sessions WHERE id = ?", (upload_id,))


def touch(db: Database, upload_id: str, expires_at: float) -> None:
    """Push the session's expiry forward (a chunk arrived)."""
    with db.transaction() as conn:
        conn.execute("UPDATE upload_sessions SET expires_at = ? WHERE id = ?", (expires_at, upload_id))


def set_status(db: Database, upload_id: str, status: str, result: dict[str, Any] | None = None) -> None:
    """Move the session on; ``result`` is the finish response a repeated finish returns."""
    with db.transaction() as conn:
        conn.execute("UPDATE upload_sessions SET status = ?, result = ? WHERE id = ?",
                     (status, None if result is None else json.dumps(result), upload_id))


def stale(db: Database, now: float) -> list[sqlite3.Row]:
    """Open sessions whose expiry passed."""
    return db.query("SELECT id, batch_id, filename FROM upload_sessions WHERE status = 'open' AND expires_at < ?",
                    (now,))


def live_ids(db: Database) -> set[str]:
    """Ids of sessions whose chunks must be kept (open or being assembled)."""
    return {r[0] for r in db.query("SELECT id FROM upload_sessions WHERE status IN ('open', 'assembling')")}


def has_open(db: Database, batch_id: str) -> bool:
    """True if the batch is a chunked upload that can still receive chunks (resumable across restarts)."""
    return db.query_one("SELECT 1 FROM upload_sessions WHERE batch_id = ? AND status IN ('open', 'assembling')",
                        (batch_id,)) is not None


def reopen_assembling(db: Database) -> None:
    """Sessions a restart caught assembling are open again (their chunks are intact)."""
    with db.transaction() as conn:
        conn.execute("UPDATE upload_sessions SET status = 'open' WHERE status = 'assembling'")


_SAME_OWNER = ("(c.owner_id = (SELECT owner_id FROM cases WHERE id = :case) OR c.id = :case)")


def open_usage(db: Database, case_id: str) -> tuple[int, int]:
    """(sessions, declared bytes) of the open or assembling uploads into cases of ``case_id``'s owner (or into
    that case alone when it has no owner): what the per-user upload caps count."""
    row = db.query_one(
        "SELECT COUNT(*), COALESCE(SUM(u.total_size), 0) FROM upload_sessions u JOIN cases c ON c.id = u.case_id"
        f" WHERE u.status IN ('open', 'assembling') AND {_SAME_OWNER}", {"case": case_id})
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)


def stored_bytes(db: Database, case_id: str) -> int:
    """Bytes of the documents stored in cases of ``case_id``'s owner (the storage quota's usage)."""
    row = db.query_one(
        "SELECT COALESCE(SUM(d.size_bytes), 0) FROM documents d JOIN cases c ON c.id = d.case_id"
        f" WHERE {_SAME_OWNER}", {"case": case_id})
    return int(row[0]) if row is not None else 0
