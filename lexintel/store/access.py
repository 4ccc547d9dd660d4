"""Which case owns a thing, and which cases a user may read: the SQL behind :mod:`lexintel.auth.access`.

A *reader* is a user id, or None for a reader of every case (an admin). A user reads the cases they own and
the ones shared with them (``case_shares``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from lexintel.store.db import Database

__all__ = ["OWNING_CASE", "can_read_case", "case_exists", "case_of", "readable_cases", "readable_condition",
           "share_case"]

OWNING_CASE: dict[str, str] = {
    "case_id": "SELECT id FROM cases WHERE id = ?",
    "document_id": "SELECT case_id FROM documents WHERE id = ?",
    "batch_id": "SELECT case_id FROM batches WHERE id = ?",
    "upload_id": "SELECT case_id FROM upload_sessions WHERE id = ?",
}
"""Path parameter naming a thing -> the query giving the id of the case it belongs to."""


def case_of(db: Database, param: str, ident: str) -> str | None:
    """The id of the case owning the thing ``param=ident`` names (a key of :data:`OWNING_CASE`), or None."""
    row = db.query_one(OWNING_CASE[param], (ident,))
    return None if row is None or row[0] is None else str(row[0])


def case_exists(db: Database, case_id: str) -> bool:
    return db.query_one("SELECT 1 FROM cases WHERE id = ?", (case_id,)) is not None


def can_read_case(db: Database, case_id: str, reader_id: str | None) -> bool:
    """True if the case exists and ``reader_id`` owns it or has it shared (None: any existing case)."""
    if reader_id is None:
        return case_exists(db, case_id)
    row = db.query_one(
        "SELECT 1 FROM cases c WHERE c.id = ? AND (c.owner_id = ? OR EXISTS"
        " (SELECT 1 FROM case_shares s WHERE s.case_id = c.id AND s.user_id = ?))",
        (case_id, reader_id, reader_id),
    )
    return row is not None


def readable_condition(column: str, reader_id: str | None) -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on ``column`` (a case id column) keeping only the cases ``reader_id`` may read."""
    if reader_id is None:
        return "1", ()
    return (f"{column} IN (SELECT id FROM cases WHERE owner_id = ?"
            " UNION SELECT case_id FROM case_shares WHERE user_id = ?)", (reader_id, reader_id))


def readable_cases(db: Database, reader_id: str | None) -> list[sqlite3.Row]:
    """The cases ``reader_id`` may read, newest first."""
    condition, params = readable_condition("id", reader_id)
    return db.query(f"SELECT * FROM cases WHERE {condition} ORDER BY created_at DESC", params)


def share_case(db: Database, case_id: str, user_id: str, created_at: str) -> None:
    """Let ``user_id`` read the case (sharing twice is a no-op)."""
    with db.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO case_shares (case_id, user_id, created_at) VALUES (?, ?, ?)",
                     (case_id, user_id, created_at))
