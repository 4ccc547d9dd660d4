"""Full-text search over passages (SQLite FTS5, bm25), with the page each hit is on."""

from __future__ import annotations

import html
import re
import sqlite3
from typing import Any

from litestar import get
from litestar.params import Parameter

from lexintel.auth.access import readable_filter, require_case
from lexintel.auth.users import User
from lexintel.errors import BadRequest
from lexintel.services import Svc

__all__ = ["fts_query", "search"]

_TERMS = re.compile(r'"([^"]+)"|(\w+)', re.UNICODE)
_OPEN, _CLOSE = "\x02", "\x03"


def fts_query(q: str) -> str:
    """User text -> a safe FTS5 query: every word (or "quoted phrase") must match; no operator injection."""
    parts = []
    for phrase, word in _TERMS.findall(q):
        text = phrase or word
        words = re.findall(r"\w+", text, re.UNICODE)
        if words:
            parts.append('"' + " ".join(words) + '"')
    if not parts:
        raise BadRequest("empty_query", "Type at least one word to search for.")
    return " ".join(parts)


@get("/search", tags=["search"])
async def search(
    svc: Svc,
    caller: User,
    q: str = Parameter(description="Words to find; quote a phrase"),
    case_id: str | None = Parameter(default=None, description="Limit to one case"),
    limit: int = Parameter(default=20, ge=1, le=100),
) -> dict[str, Any]:
    """Hits ranked by bm25 (``score`` is -bm25: higher is better), each with document, page and snippet."""
    match = fts_query(q)
    if case_id is not None:
        require_case(svc.db, caller, case_id)  # a case the caller can't read is 404, like a missing one
    readable, readable_params = readable_filter(caller, "c.case_id")
    sql = (
        "SELECT c.document_id, d.filename, c.page, c.case_id,"
        f" snippet(chunks_fts, 0, '{_OPEN}', '{_CLOSE}', '…', 24) AS snip, bm25(chunks_fts) AS rank"
        " FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id"
        " WHERE chunks_fts MATCH ?" + (" AND c.case_id = ?" if case_id else "")
        + f" AND {readable} ORDER BY rank LIMIT ?"
    )
    params: tuple[Any, ...] = (match, case_id) if case_id else (match,)
    params += (*readable_params, limit)

    def run(conn: sqlite3.Connection) -> list[sqlite3.Row]:
        return conn.execute(sql, params).fetchall()

    rows = await svc.db.read(run)
    hits = []
    for row in rows:
        snip = row["snip"]
        hits.append({
            "document_id": row["document_id"],
            "filename": row["filename"],
            "case_id": row["case_id"],
            "page": row["page"],
            "snippet": snip.replace(_OPEN, "").replace(_CLOSE, ""),
            "snippet_html": html.escape(snip).replace(_OPEN, "<mark>").replace(_CLOSE, "</mark>"),
            "score": round(-row["rank"], 4),
        })
    return {"query": q, "case_id": case_id, "hits": hits}
