"""One page of a case's documents, sorted and filtered in SQL (the web page's table, ``GET /cases/{id}/documents``).

A case of thousands of documents is shown a page at a time: the browser never holds or draws all of them, and
the database does the sorting, so a page costs the same for 50 documents or 50,000. Sort keys and filters are
named by the caller from fixed sets (:data:`SORTS`, the statuses); values are always bound parameters.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from lexintel.store.db import Database
from lexintel.store.records import DOCUMENT_COLUMNS

__all__ = ["SORTS", "DocumentFilter", "documents_page", "duplicate_of"]

SORTS = {
    "created_at": "created_at",
    "filename": "filename COLLATE NOCASE",
    "kind": "kind",
    "status": "status",
    "pages": "pages_total",
    "size": "size_bytes",
}
"""Sort key (as the API names it) -> SQL expression."""


@dataclass(frozen=True, slots=True)
class DocumentFilter:
    """Which documents of a case to list; ``None``/empty means "any"."""

    statuses: tuple[str, ...] = ()
    kind: str | None = None
    name: str | None = None
    """A part of the file name, any case."""
    since: str | None = None
    """ISO date or time: added at or after it."""
    until: str | None = None
    """ISO date or time: added before it."""
    min_pages: int | None = None
    max_pages: int | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(case_id: str, flt: DocumentFilter) -> tuple[str, list[Any]]:
    clauses = ["case_id = ?"]
    params: list[Any] = [case_id]
    if flt.statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in flt.statuses)})")
        params.extend(flt.statuses)
    if flt.kind:
        clauses.append("kind = ?")
        params.append(flt.kind)
    if flt.name:
        clauses.append("filename LIKE ? ESCAPE '\\'")
        params.append(f"%{_escape_like(flt.name)}%")
    if flt.since:
        clauses.append("created_at >= ?")
        params.append(flt.since)
    if flt.until:
        clauses.append("created_at < ?")
        params.append(flt.until)
    if flt.min_pages is not None:
        clauses.append("COALESCE(pages_total, 0) >= ?")
        params.append(flt.min_pages)
    if flt.max_pages is not None:
        clauses.append("COALESCE(pages_total, 0) <= ?")
        params.append(flt.max_pages)
    return " AND ".join(clauses), params


def documents_page(db: Database, case_id: str, flt: DocumentFilter, *, sort: str = "created_at",
                   descending: bool = False, limit: int | None = None,
                   offset: int = 0) -> tuple[list[sqlite3.Row], int]:
    """The matching documents (one page when ``limit`` is given) and how many match in all."""
    where, params = _where(case_id, flt)
    direction = "DESC" if descending else "ASC"
    order = f"{SORTS[sort]} {direction}, created_at {direction}, rowid {direction}"
    sql = f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {where} ORDER BY {order}"
    page_params = list(params)
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        page_params += [limit, offset]
    rows = db.query(sql, tuple(page_params))
    if limit is None and offset == 0:
        return rows, len(rows)
    total = db.query_one(f"SELECT COUNT(*) FROM documents WHERE {where}", tuple(params))
    return rows, int(total[0]) if total else 0


def duplicate_of(db: Database, case_id: str, sha256: str) -> sqlite3.Row | None:
    """The oldest document of the case with these exact bytes and its file kept (one refused at upload has no
    file: sending it again is no duplicate, it is refused again)."""
    return db.query_one(
        f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE case_id = ? AND sha256 = ? AND storage_path != ''"
        " ORDER BY created_at, rowid LIMIT 1",
        (case_id, sha256),
    )
