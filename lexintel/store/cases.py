"""The SQL of renaming and deleting a case, and the list of clean-ups that deleting a case runs.

Deleting a case is a few write transactions rather than one, so that a case of thousands of documents does not
hold the event loop (every write runs on it) for seconds: :func:`run_cleanups` first, then the documents in
slices of rows (:func:`delete_some`: passages, whose FTS triggers are most of the cost, then pages, then the
document rows), then
:func:`delete_case` for whatever is left and the case row itself. A crash in between leaves a smaller case that
can be deleted again; nothing is ever left without its case.

Most rows would go by ``ON DELETE CASCADE`` from ``cases`` (documents, pages, batches, upload sessions, shares),
but a few tables have no foreign key to follow: ``chunks`` carries ``case_id`` without one, the event log is
keyed by stream name, and tables added later by other parts (vectors of the embedding stage, a second search
index) may have none either. Those register a :data:`CaseCleanup` in :data:`CASE_CLEANUPS`, or give their
table ``REFERENCES chunks(id)`` / ``documents(id) ON DELETE CASCADE``, which needs nothing here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from lexintel.store.db import Database

__all__ = ["CASE_CLEANUPS", "CaseCleanup", "CaseContents", "contents", "delete_case", "delete_some", "owner_name",
           "register_case_cleanup", "rename_case", "run_cleanups", "totals"]

CaseCleanup = Callable[[sqlite3.Connection, str], None]
"""``cleanup(conn, case_id)``: delete a table's rows of that case inside the caller's transaction; it runs first,
while the case's ``documents`` and ``chunks`` rows still exist (and again at the end, for late arrivals)."""


def _passages(conn: sqlite3.Connection, case_id: str) -> None:
    """Passages go explicitly (they have no foreign key to the case); the FTS triggers follow each row."""
    conn.execute("DELETE FROM chunks WHERE case_id = ?", (case_id,))


def _event_streams(conn: sqlite3.Connection, case_id: str) -> None:
    """The durable log of every stream of the case: its documents', its batches' and its own."""
    conn.execute("DELETE FROM events WHERE stream IN (SELECT 'document:' || id FROM documents WHERE case_id = ?)",
                 (case_id,))
    conn.execute("DELETE FROM events WHERE stream IN (SELECT 'batch:' || id FROM batches WHERE case_id = ?)",
                 (case_id,))
    conn.execute("DELETE FROM events WHERE stream = ?", (f"case:{case_id}",))


CASE_CLEANUPS: list[CaseCleanup] = [_event_streams]
"""Run in order by :func:`run_cleanups`; other parts add theirs with :func:`register_case_cleanup` (at import
time)."""


def register_case_cleanup(cleanup: CaseCleanup) -> CaseCleanup:
    """Add ``cleanup`` to :data:`CASE_CLEANUPS` (it runs before the built-in ones; usable as a decorator)."""
    if cleanup not in CASE_CLEANUPS:
        CASE_CLEANUPS.insert(0, cleanup)
    return cleanup


@dataclass(frozen=True)
class CaseContents:
    """What deleting a case removes: said in the confirmation, and what the delete acts on outside SQL."""

    documents: int
    passages: int
    pages: int
    size_bytes: int
    batches: int
    document_ids: list[str]
    batch_ids: list[str]
    upload_ids: list[str]
    """Chunked upload sessions of the case (their chunk directories are removed after the commit)."""
    storage_paths: list[str]


def totals(db: Database, case_id: str) -> tuple[int, int, int, int]:
    """(documents, passages, pages, bytes) of a case: aggregates only, for ``GET /cases/{id}`` (every page load)."""
    docs = db.query_one("SELECT COUNT(*), COALESCE(SUM(pages_done), 0), COALESCE(SUM(size_bytes), 0)"
                        " FROM documents WHERE case_id = ?", (case_id,))
    passages = db.query_one("SELECT COUNT(*) FROM chunks WHERE case_id = ?", (case_id,))
    if docs is None or passages is None:  # aggregates always give a row
        return 0, 0, 0, 0
    return int(docs[0]), int(passages[0]), int(docs[1]), int(docs[2])


def contents(db: Database, case_id: str) -> CaseContents:
    """Count and list what the case holds (small, indexed reads on the writer connection)."""
    docs = db.query("SELECT id, storage_path, size_bytes, chunks, pages_done FROM documents WHERE case_id = ?",
                    (case_id,))
    passages = db.query_one("SELECT COUNT(*) FROM chunks WHERE case_id = ?", (case_id,))
    batches = [r[0] for r in db.query("SELECT id FROM batches WHERE case_id = ?", (case_id,))]
    uploads = [r[0] for r in db.query("SELECT id FROM upload_sessions WHERE case_id = ?", (case_id,))]
    return CaseContents(
        documents=len(docs), passages=int(passages[0]) if passages else 0,
        pages=sum(int(r["pages_done"] or 0) for r in docs), size_bytes=sum(int(r["size_bytes"] or 0) for r in docs),
        batches=len(batches), document_ids=[r["id"] for r in docs], batch_ids=batches, upload_ids=uploads,
        storage_paths=[r["storage_path"] for r in docs if r["storage_path"]],
    )


def owner_name(db: Database, owner_id: str | None) -> str | None:
    """The user name of a case's owner (None: no owner, or the user is gone)."""
    row = db.query_one("SELECT name FROM users WHERE id = ?", (owner_id,)) if owner_id else None
    return str(row[0]) if row else None


def rename_case(conn: sqlite3.Connection, case_id: str, name: str) -> None:
    conn.execute("UPDATE cases SET name = ? WHERE id = ?", (name, case_id))


def run_cleanups(conn: sqlite3.Connection, case_id: str) -> None:
    """Every registered clean-up, inside the caller's transaction."""
    for cleanup in tuple(CASE_CLEANUPS):
        cleanup(conn, case_id)


def delete_some(conn: sqlite3.Connection, case_id: str, limit: int) -> int:
    """Up to ``limit`` of the case's passages, else of its pages, else of its documents, inside the caller's
    transaction; returns how many rows went (0: none of them is left). Bounded by rows rather than documents,
    since one 375-page deposition holds as many passages as a hundred letters."""
    for sql in (
        "DELETE FROM chunks WHERE id IN (SELECT id FROM chunks WHERE case_id = ? LIMIT ?)",
        "DELETE FROM pages WHERE (document_id, page) IN (SELECT p.document_id, p.page FROM pages p"
        " JOIN documents d ON d.id = p.document_id WHERE d.case_id = ? LIMIT ?)",
        "DELETE FROM documents WHERE id IN (SELECT id FROM documents WHERE case_id = ? LIMIT ?)",
    ):
        deleted = conn.execute(sql, (case_id, limit)).rowcount
        if deleted:
            return int(deleted)
    return 0


def delete_case(conn: sqlite3.Connection, case_id: str) -> None:
    """The rest of the case, inside the caller's transaction: the clean-ups again, documents that arrived while
    the slices went, then the case row (batches, their logs, upload sessions and shares cascade)."""
    run_cleanups(conn, case_id)
    _passages(conn, case_id)
    conn.execute("DELETE FROM documents WHERE case_id = ?", (case_id,))  # pages cascade
    conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))
