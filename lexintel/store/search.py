"""Full-text search over passages: SQLite FTS5 ranked by bm25, with the page each passage is on.

:func:`fts_query` turns what a person typed into an FTS5 query that cannot inject operators; :func:`passages`
runs it in a reader thread (a search can touch many rows) and returns the best passages with a snippet whose
matches are marked with :data:`MARK_OPEN`/:data:`MARK_CLOSE` (control characters no extracted text keeps), so
the caller can render them as plain text or HTML without re-parsing.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from lexintel.errors import InvalidInput
from lexintel.store.access import readable_condition
from lexintel.store.db import Database

__all__ = ["MARK_CLOSE", "MARK_OPEN", "Passage", "fts_query", "passages"]

MARK_OPEN, MARK_CLOSE = "\x02", "\x03"
_TERMS = re.compile(r'"([^"]+)"|(\w+)', re.UNICODE)


@dataclass(frozen=True)
class Passage:
    """One hit: where it is, the snippet around the match (marked), and its bm25 rank (lower is better)."""

    document_id: str
    filename: str
    case_id: str
    page: int
    snippet: str
    rank: float


def fts_query(q: str) -> str:
    """User text -> a safe FTS5 query: every word (or "quoted phrase") must match; no operator injection."""
    parts = []
    for phrase, word in _TERMS.findall(q):
        text = phrase or word
        words = re.findall(r"\w+", text, re.UNICODE)
        if words:
            parts.append('"' + " ".join(words) + '"')
    if not parts:
        raise InvalidInput("empty_query", "Type at least one word to search for.")
    return " ".join(parts)


async def passages(db: Database, match: str, *, case_id: str | None, reader_id: str | None,
                   limit: int) -> list[Passage]:
    """The ``limit`` best passages for the FTS5 query ``match``, in cases ``reader_id`` may read (None: all),
    in one case if ``case_id`` is given."""
    readable, readable_params = readable_condition("c.case_id", reader_id)
    sql = (
        "SELECT c.document_id, d.filename, c.page, c.case_id,"
        f" snippet(chunks_fts, 0, '{MARK_OPEN}', '{MARK_CLOSE}', '…', 24) AS snip, bm25(chunks_fts) AS rank"
        " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id"
        " WHERE chunks_fts MATCH ?" + (" AND c.case_id = ?" if case_id else "")
        + f" AND {readable} ORDER BY rank LIMIT ?"
    )
    params: tuple[Any, ...] = (match, case_id) if case_id else (match,)
    params += (*readable_params, limit)

    def run(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return conn.execute(sql, params).fetchall()

    rows = await db.read(run)
    return [Passage(r["document_id"], r["filename"], r["case_id"], r["page"], r["snip"], r["rank"]) for r in rows]
