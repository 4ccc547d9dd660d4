"""Which case owns a thing, and which cases a user may read: the SQL behind :mod:`lexintel.auth.access`.

A *reader* is a user id, or None for a reader of every case (an admin). A user reads the cases they own and
the ones shared with them (``case_shares``), and writes in the ones they own and those shared with ``access =
'write'`` (a ``read`` share sees everything but cannot upload, retry or delete).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from lexintel.store.db import Database

__all__ = ["OWNING_CASE", "can_read_case", "can_write_case", "case_audience", "case_exists", "case_of", "case_owner",
           "live_principals", "readable_cases", "readable_condition", "share_case", "shares_of", "unshare_case"]

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
    return _has_case(db, case_id, reader_id, "")


def _has_case(db: Database, case_id: str, reader_id: str | None, share_condition: str) -> bool:
    """The one query behind reading and writing: the owner, or a share meeting ``share_condition`` (SQL)."""
    if reader_id is None:
        return case_exists(db, case_id)
    row = db.query_one(
        "SELECT 1 FROM cases c WHERE c.id = ? AND (c.owner_id = ? OR EXISTS"
        f" (SELECT 1 FROM case_shares s WHERE s.case_id = c.id AND s.user_id = ?{share_condition}))",
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


def can_write_case(db: Database, case_id: str, reader_id: str | None) -> bool:
    """True if ``reader_id`` may change the case: it owns it, has a ``write`` share (None: any existing case)."""
    return _has_case(db, case_id, reader_id, " AND s.access = 'write'")


def case_owner(db: Database, case_id: str) -> str | None:
    """The owner's user id (None: no such case, or a case made with LEXINTEL_AUTH=off)."""
    row = db.query_one("SELECT owner_id FROM cases WHERE id = ?", (case_id,))
    return None if row is None or row[0] is None else str(row[0])


def case_audience(db: Database, case_id: str) -> set[str]:
    """Everyone whose case list holds the case: its owner, the users it is shared with, and every admin."""
    rows = db.query("SELECT owner_id FROM cases WHERE id = ? AND owner_id IS NOT NULL"
                    " UNION SELECT user_id FROM case_shares WHERE case_id = ?"
                    " UNION SELECT id FROM users WHERE role = 'admin'", (case_id, case_id))
    return {str(row[0]) for row in rows}


def share_case(db: Database, case_id: str, user_id: str, access: str, created_at: str) -> None:
    """Let ``user_id`` read (``read``) or also change (``write``) the case; sharing again sets the new access."""
    with db.transaction() as conn:
        conn.execute("INSERT INTO case_shares (case_id, user_id, created_at, access) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT (case_id, user_id) DO UPDATE SET access = excluded.access",
                     (case_id, user_id, created_at, access))


def unshare_case(db: Database, case_id: str, user_id: str) -> bool:
    """Remove a share; False if there was none."""
    with db.transaction() as conn:
        return conn.execute("DELETE FROM case_shares WHERE case_id = ? AND user_id = ?",
                            (case_id, user_id)).rowcount > 0


def shares_of(db: Database, case_id: str) -> list[sqlite3.Row]:
    """The case's shares: ``name`` (the user's), ``access``, ``created_at``, by name."""
    return db.query("SELECT u.name, s.access, s.created_at FROM case_shares s JOIN users u ON u.id = s.user_id"
                    " WHERE s.case_id = ? ORDER BY u.name", (case_id,))


_LIVE = """
WITH p AS MATERIALIZED (SELECT key AS i, json_extract(value, '$[0]') AS uid, json_extract(value, '$[1]') AS kind,
                  json_extract(value, '$[2]') AS cred, json_extract(value, '$[3]') AS case_id FROM json_each(:list))
SELECT p.i FROM p JOIN users u ON u.id = p.uid AND u.disabled = 0
WHERE (p.kind IS NULL
       OR (p.kind = 'token' AND EXISTS (SELECT 1 FROM api_tokens t
           WHERE t.id = p.cred AND t.user_id = p.uid AND t.expires_at > :now))
       OR (p.kind = 'session' AND EXISTS (SELECT 1 FROM sessions s
           WHERE s.id_hash = p.cred AND s.user_id = p.uid AND s.expires_at > :now)))
  AND (p.case_id IS NULL OR u.role = 'admin'
       OR NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = p.case_id)
       OR EXISTS (SELECT 1 FROM cases c WHERE c.id = p.case_id AND c.owner_id = p.uid)
       OR EXISTS (SELECT 1 FROM case_shares s WHERE s.case_id = p.case_id AND s.user_id = p.uid))
"""


def live_principals(db: Database, principals: Sequence[tuple[str, str | None, str | None, str | None]],
                    now: float) -> set[int]:
    """The indexes of the ``(user_id, credential kind, credential id, case_id)`` entries still allowed: an
    enabled user, a credential (``token``/``session``; None: not checked) that exists, is theirs and has not
    expired, and a case they may read (None, or a case that no longer exists: not checked). One query for all,
    so re-checking a thousand open streams is one statement, not four thousand."""
    rows = db.query(_LIVE, {"list": json.dumps(list(principals)), "now": now})
    return {int(row[0]) for row in rows}
