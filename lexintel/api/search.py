"""``GET /search``: keyword, semantic or hybrid search over the passages the caller may read."""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import get
from litestar.params import Parameter

from lexintel.api.errors import error_responses
from lexintel.api.models.search import SearchResults
from lexintel.auth.access import reader_id, require_case
from lexintel.auth.users import User
from lexintel.search import service
from lexintel.services import Svc

__all__ = ["search"]


@get("/search", tags=["search"], responses=error_responses(404, 409))
async def search(
    svc: Svc,
    caller: User,
    q: str = Parameter(description='Words (any may match), "quoted phrases", prefix*, -excluded, AND, OR'),
    case_id: str | None = Parameter(default=None, description="Limit to one case"),
    mode: Literal["keyword", "semantic", "hybrid"] | None = Parameter(
        default=None, description="Default: hybrid when the passages have embeddings, else keyword"),
    limit: int = Parameter(default=20, ge=1, le=100),
    offset: int = Parameter(default=0, ge=0, le=10_000, description="Hits to skip (paging)"),
) -> SearchResults:
    """One hit per document page (its best passage), best first, with the page citation, the passage's range
    in the page text, a snippet with the matched words marked, and ``total`` pages matched."""
    if case_id is not None:
        require_case(svc.db, caller, case_id)  # a case the caller can't read is 404, like a missing one
    page = await service.run(svc, svc.db, q, case_id=case_id, reader_id=reader_id(caller), mode=mode,
                             limit=limit, offset=offset)
    return msgspec.convert({"query": page.query, "case_id": page.case_id, "mode": page.mode, "total": page.total,
                            "offset": page.offset, "limit": page.limit, "hits": page.hits}, SearchResults)
