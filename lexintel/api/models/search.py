"""Bodies of ``GET /search``."""

from __future__ import annotations

from lexintel.api.models import Body

__all__ = ["SearchHit", "SearchResults"]


class SearchHit(Body):
    """One passage that matches, with the page it is on."""

    document_id: str
    filename: str
    case_id: str
    page: int
    snippet: str
    """Plain text around the match."""
    snippet_html: str
    """The same, HTML-escaped, with each match in ``<mark>``."""
    score: float
    """-bm25: higher is better."""


class SearchResults(Body):
    query: str
    case_id: str | None
    hits: list[SearchHit]
