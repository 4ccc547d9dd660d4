"""Writes to the ``documents`` table and the document's ``pages`` and ``chunks``.

Functions that take a connection run inside the caller's transaction (so a row change commits with the event
that reports it); lookups that raise a 404 are in :mod:`lexintel.store.records`. Column names come from code,
never from input.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

from lexintel.store.db import Database

__all__ = [
    "children",
    "claim",
    "delete",
    "forget_pages",
    "insert",
    "insert_chunks",
    "mark_needs_ocr",
    "pages",
    "pages_needing_ocr",
    "parent",
    "status",
    "store_ocr_pages",
    "store_pages",
    "stored_pages",
    "update",
]


def insert(conn: sqlite3.Connection, values: Mapping[str, Any]) -> None:
    """A new document row."""
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO documents ({columns}) VALUES ({marks})", tuple(values.values()))


def update(conn: sqlite3.Connection, document_id: str, values: Mapping[str, Any]) -> None:
    """Set some columns of a document row."""
    columns = ", ".join(f"{name} = ?" for name in values)
    conn.execute(f"UPDATE documents SET {columns} WHERE id = ?", (*values.values(), document_id))


def status(db: Database, document_id: str) -> str | None:
    """A document's status, or None if there is no such document."""
    row = db.query_one("SELECT status FROM documents WHERE id = ?", (document_id,))
    return None if row is None else str(row["status"])


def claim(conn: sqlite3.Connection, document_id: str, started_at: str) -> None:
    """Start (or resume) an attempt: keep the pages this run already extracted, forget its passages (they are
    rebuilt from all the pages), clear its error. A new run forgets its pages when it is queued
    (:func:`forget_pages`), so the pages table only ever holds the current run's pages."""
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
    conn.execute(
        "UPDATE documents SET status = 'processing', started_at = ?, finished_at = NULL,"
        " pages_done = (SELECT COUNT(*) FROM pages WHERE document_id = ?), chunks = 0,"
        " error_code = NULL, error_message = NULL WHERE id = ?",
        (started_at, document_id, document_id),
    )


def forget_pages(conn: sqlite3.Connection, document_id: str) -> None:
    """A new run starts from page 1: drop the previous run's pages and passages."""
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
    conn.execute("DELETE FROM pages WHERE document_id = ?", (document_id,))


def stored_pages(db: Database, document_id: str) -> list[tuple[int, str]]:
    """The pages extracted so far in the current run, in order (what a resumed run starts from)."""
    rows = db.query("SELECT page, text FROM pages WHERE document_id = ? ORDER BY page", (document_id,))
    return [(int(r[0]), str(r[1])) for r in rows]


def store_pages(conn: sqlite3.Connection, document_id: str, pages: Iterable[tuple[int, str]]) -> None:
    """Extracted pages (a re-extracted page replaces its text)."""
    conn.executemany("INSERT OR REPLACE INTO pages (document_id, page, text) VALUES (?, ?, ?)",
                     [(document_id, number, text) for number, text in pages])


def mark_needs_ocr(conn: sqlite3.Connection, document_id: str, numbers: Iterable[int]) -> None:
    """Pages extraction found without a usable text layer: the OCR stage reads them (kept across a restart)."""
    conn.executemany("UPDATE pages SET needs_ocr = 1 WHERE document_id = ? AND page = ?",
                     [(document_id, number) for number in numbers])


def store_ocr_pages(conn: sqlite3.Connection, document_id: str,
                    pages: Iterable[tuple[int, str, float | None]]) -> None:
    """Pages read by OCR: their text (the picture's, with any text layer after it) and mean word confidence."""
    conn.executemany("UPDATE pages SET text = ?, ocr_confidence = ?, needs_ocr = 0 WHERE document_id = ? AND page = ?",
                     [(text, confidence, document_id, number) for number, text, confidence in pages])


def pages_needing_ocr(db: Database, document_id: str) -> list[int]:
    """Pages of the current run still waiting for OCR, in order."""
    rows = db.query("SELECT page FROM pages WHERE document_id = ? AND needs_ocr = 1 ORDER BY page", (document_id,))
    return [int(r[0]) for r in rows]


def children(db: Database, document_id: str) -> list[str]:
    """Documents made from this one (an email's attachments), oldest first."""
    rows = db.query("SELECT id FROM documents WHERE parent_id = ? ORDER BY created_at, rowid", (document_id,))
    return [str(r[0]) for r in rows]


def parent(db: Database, document_id: str) -> str | None:
    """The document this one was attached to (None: uploaded itself, or no such document)."""
    row = db.query_one("SELECT parent_id FROM documents WHERE id = ?", (document_id,))
    return None if row is None or row[0] is None else str(row[0])


def insert_chunks(conn: sqlite3.Connection, document_id: str, case_id: str, first_seq: int,
                  chunks: Iterable[tuple[int, str]]) -> None:
    """Passages numbered from ``first_seq`` (the FTS indexes follow by trigger), with their range in the page's
    text when the chunker gave one (``char_start``/``char_end`` of :class:`~lexintel.pipeline.chunk.ChunkSpan`)."""
    conn.executemany(
        "INSERT INTO chunks (document_id, case_id, seq, page, text, char_start, char_end)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(document_id, case_id, first_seq + i, chunk[0], chunk[1], getattr(chunk, "char_start", None),
          getattr(chunk, "char_end", None)) for i, chunk in enumerate(chunks)],
    )


def pages(conn: sqlite3.Connection, document_id: str) -> list[dict[str, Any]]:
    """A document's text page by page (on a reader connection: it can be large)."""
    rows = conn.execute("SELECT page, text, ocr_confidence FROM pages WHERE document_id = ? ORDER BY page",
                        (document_id,))
    return [{"page": r[0], "text": r[1], "ocr_confidence": r[2]} for r in rows]


def delete(conn: sqlite3.Connection, document_id: str) -> None:
    """A document row with its passages (its pages go by cascade)."""
    conn.execute("DELETE FROM chunks WHERE document_id = ?", (document_id,))
    conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
