"""Who may read which case. Admins read every case; members their own and the ones shared with them.

Everything else hangs off a case: documents, batches, upload sessions and their streams are readable
exactly when their case is. Unreadable is answered as "not found", with the very body a missing id gets.
"""

from __future__ import annotations

from typing import Any

from lexintel.auth.users import User
from lexintel.errors import NotFound
from lexintel.store.db import Database

__all__ = [
    "PATH_SUBJECTS", "can_read_case", "not_found", "owner_of_new_case", "readable_cases", "readable_filter",
    "require_case", "subject_case",
]

# path parameter -> (query giving the owning case id, the 404 the handler itself raises for a missing id)
PATH_SUBJECTS: dict[str, tuple[str, str, str]] = {
    "case_id": ("SELECT id FROM cases WHERE id = ?", "case_not_found", "No case with id {!r}."),
    "document_id": ("SELECT case_id FROM documents WHERE id = ?", "document_not_found",
                    "No document with id {!r}."),
    "batch_id": ("SELECT case_id FROM batches WHERE id = ?", "batch_not_found", "No batch with id {!r}."),
    "upload_id": ("SELECT case_id FROM upload_sessions WHERE id = ?", "upload_not_found",
                  "No upload session with id {!r}."),
}


def not_found(param: str, ident: str) -> NotFound:
    """The same 404 the handler raises for a missing ``param`` (so a foreign id looks missing)."""
    _, code, detail = PATH_SUBJECTS[param]
    return NotFound(code, detail.format(ident))


def subject_case(db: Database, param: str, ident: str) -> str | None:
    """The id of the case owning the thing ``param=ident`` names, or None if it does not exist."""
    row = db.query_one(PATH_SUBJECTS[param][0], (ident,))
    return None if row is None or row[0] is None else str(row[0])


def can_read_case(db: Database, user: User, case_id: str) -> bool:
    """True if ``user`` may read (and work in) the case."""
    if user.is_admin:
        return db.query_one("SELECT 1 FROM cases WHERE id = ?", (case_id,)) is not None
    row = db.query_one(
        "SELECT 1 FROM cases c WHERE c.id = ? AND (c.owner_id = ? OR EXISTS"
        " (SELECT 1 FROM case_shares s WHERE s.case_id = c.id AND s.user_id = ?))",
        (case_id, user.id, user.id),
    )
    return row is not None


def require_case(db: Database, user: User, case_id: str) -> None:
    """404 (the missing-case body) unless ``user`` may read the case."""
    if not can_read_case(db, user, case_id):
        raise not_found("case_id", case_id)


def readable_filter(user: User, column: str) -> tuple[str, tuple[Any, ...]]:
    """An SQL condition on ``column`` (a case id column) keeping only cases ``user`` may read."""
    if user.is_admin:
        return "1", ()
    return (f"{column} IN (SELECT id FROM cases WHERE owner_id = ?"
            " UNION SELECT case_id FROM case_shares WHERE user_id = ?)", (user.id, user.id))


def readable_cases(db: Database, user: User) -> list[Any]:
    """The cases ``user`` may read, newest first (``GET /cases``)."""
    condition, params = readable_filter(user, "id")
    return db.query(f"SELECT * FROM cases WHERE {condition} ORDER BY created_at DESC", params)


def owner_of_new_case(user: User) -> str | None:
    """``owner_id`` for a case ``user`` creates (None for the implicit admin of LEXINTEL_AUTH=off)."""
    return None if user.implicit else user.id
