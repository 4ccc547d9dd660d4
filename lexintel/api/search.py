"""Full-text search over passages (SQLite FTS5, bm25), with the page each hit is on."""

from __future__ import annotations

import html

from litestar import get
from litestar.params import Parameter

from lexintel.api.errors import error_responses
from lexintel.api.models.search import SearchHit, SearchResults
from lexintel.auth.access import reader_id, require_case
from lexintel.auth.users import User
from lexintel.services import Svc
from lexintel.store.search import MARK_CLOSE, MARK_OPEN, Passage, fts_query, passages

__all__ = ["fts_query", "search"]


def _hit(passage: Passage) -> SearchHit:
    snip = passage.snippet
    return SearchHit(
        document_id=passage.document_id,
        filename=passage.filename,
        case_id=passage.case_id,
        page=passage.page,
        snippet=snip.replace(MARK_OPEN, "").replace(MARK_CLOSE, ""),
        snippet_html=html.escape(snip).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>"),
        score=round(-passage.rank, 4),
    )


@get("/search", tags=["search"], responses=error_responses(404))
async def search(
    svc: Svc,
    caller: User,
    q: str = Parameter(description="Words to find; quote a phrase"),
    case_id: str | None = Parameter(default=None, description="Limit to one case"),
    limit: int = Parameter(default=20, ge=1, le=100),
) -> SearchResults:
    """Hits ranked by bm25 (``score`` is -bm25: higher is better), each with document, page and snippet."""
    match = fts_query(q)
    if case_id is not None:
        require_case(svc.db, caller, case_id)  # a case the caller can't read is 404, like a missing one
    found = await passages(svc.db, match, case_id=case_id, reader_id=reader_id(caller), limit=limit)
    return SearchResults(query=q, case_id=case_id, hits=[_hit(p) for p in found])
