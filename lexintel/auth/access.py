"""Who may read which case. Admins read every case; members their own and the ones shared with them.
Writing (upload, retry, delete) needs the case to be one's own, a ``write`` share, or the admin role.

Everything else hangs off a case: documents, batches, upload sessions and their streams are readable
exactly when their case is. Unreadable is answered as "not found", with the very body a missing id gets.
The queries are in :mod:`lexintel.store.access`; this module decides who counts as which reader.
"""

from __future__ import annotations

from typing import Any

from lexintel.auth.users import User
from lexintel.errors import Forbidden, NotFound
from lexintel.store import access
from lexintel.store.db import Database

__all__ = [
    "PATH_SUBJECTS", "can_read_case", "can_write_case", "not_found", "owner_of_new_case", "readable_cases",
    "reader_id", "require_case", "require_writable_case", "subject_case",
]

# path parameter -> the NotFound (code, detail) the handler itself raises for a missing id
PATH_SUBJECTS: dict[str, tuple[str, str]] = {
    "case_id": ("case_not_found", "No case with id {!r}."),
    "document_id": ("document_not_found", "No document with id {!r}."),
    "batch_id": ("batch_not_found", "No batch with id {!r}."),
    "upload_id": ("upload_not_found", "No upload session with id {!r}."),
}


def reader_id(user: User) -> str | None:
    """The user as a reader of cases: their id, or None for an admin (who reads every case)."""
    return None if user.is_admin else user.id


def not_found(param: str, ident: str) -> NotFound:
    """The same NotFound the handler raises for a missing ``param`` (so a foreign id looks missing)."""
    code, detail = PATH_SUBJECTS[param]
    return NotFound(code, detail.format(ident))


def subject_case(db: Database, param: str, ident: str) -> str | None:
    """The id of the case owning the thing ``param=ident`` names, or None if it does not exist."""
    return access.case_of(db, param, ident)


def can_read_case(db: Database, user: User, case_id: str) -> bool:
    """True if ``user`` may read (and work in) the case."""
    return access.can_read_case(db, case_id, reader_id(user))


def can_write_case(db: Database, user: User, case_id: str) -> bool:
    """True if ``user`` may change the case's documents (owner, ``write`` share, admin)."""
    return access.can_write_case(db, case_id, reader_id(user))


def require_writable_case(db: Database, user: User, case_id: str) -> None:
    """Like :func:`require_case`, then Forbidden ``read_only_share`` for a read-only sharee."""
    require_case(db, user, case_id)
    if not can_write_case(db, user, case_id):
        raise Forbidden("read_only_share", "This case is shared with you read-only: you can read it, but not "
                        "upload, retry or delete (ask its owner for write access).")


def require_case(db: Database, user: User, case_id: str) -> None:
    """NotFound (the missing-case one) unless ``user`` may read the case."""
    if not can_read_case(db, user, case_id):
        raise not_found("case_id", case_id)


def readable_cases(db: Database, user: User) -> list[Any]:
    """The cases ``user`` may read, newest first (``GET /cases``)."""
    return access.readable_cases(db, reader_id(user))


def owner_of_new_case(user: User) -> str | None:
    """``owner_id`` for a case ``user`` creates (None for the implicit admin of LEXINTEL_AUTH=off)."""
    return None if user.implicit else user.id
