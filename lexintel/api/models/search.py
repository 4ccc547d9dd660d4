"""Bodies of ``GET /search``."""

from __future__ import annotations

from typing import Literal

from lexintel.api.models import Body

__all__ = ["SearchHit", "SearchResults"]


class SearchHit(Body):
    """One page that matches, cited by its best passage."""

    document_id: str
    filename: str
    case_id: str
    case_name: str
    page: int
    passage_id: int
    char_start: int
    """Where the passage starts in the page's text as ``GET /documents/{id}/text`` returns it."""
    char_end: int
    """Where it ends (exclusive); the whole page when the passage could not be located (older data)."""
    snippet: str
    """Plain text around the matched words."""
    snippet_html: str
    """The same, HTML-escaped, with each matched word in ``<mark>``."""
    score: float
    """Higher is better. Keyword: -bm25 plus ranking bonuses; semantic: cosine; hybrid: the fused RRF score."""
    matched_by: list[Literal["keyword", "semantic"]]


class SearchResults(Body):
    query: str
    case_id: str | None
    mode: Literal["keyword", "semantic", "hybrid"]
    total: int
    """How many pages match (one hit per page); page through them with ``offset``."""
    offset: int
    limit: int
    hits: list[SearchHit]
