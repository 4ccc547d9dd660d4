"""The query of ``GET /cases/{case_id}/documents``: paging, sorting and filtering for the web page's table.

Without parameters the endpoint answers as it always did (every document, oldest first), so existing clients
(the CLI's ``docs``) see no change. The parameters are a dependency of their own, so they are documented in
the OpenAPI schema and checked (a 400 naming the parameter) before the case handler runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import msgspec
from litestar.di import Provide
from litestar.params import Parameter
from litestar.response import Response

from lexintel.api.models.documents import Document
from lexintel.errors import BadRequest
from lexintel.services import Services
from lexintel.store.document_list import SORTS, DocumentFilter, documents_page
from lexintel.store.records import document_json

__all__ = ["DOCUMENT_QUERY", "STATUSES", "DocumentQuery", "document_query", "list_documents_page"]

STATUSES = frozenset({"pending", "processing", "indexed", "failed", "needs_ocr"})
MAX_PAGE = 500
BIG = 1_000_000_000  # past any real case; keeps numbers inside what SQLite binds (64-bit)


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """A parsed, checked listing request."""

    filter: DocumentFilter
    sort: str
    descending: bool
    limit: int | None
    offset: int


def _when(value: str | None, name: str, *, end: bool) -> str | None:
    """An ISO date (a whole day: ``until`` includes it) or date-time, as the stored ``created_at`` compares."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + (timedelta(days=1) if end else timedelta())
            return f"{day.isoformat()}T00:00:00"
        return datetime.fromisoformat(value).isoformat()
    except (ValueError, OverflowError):
        raise BadRequest("bad_date", f"{name} must be a date like 2026-03-31 (or an ISO date and time), "
                         f"got {value!r}.") from None


def document_query(
    limit: int | None = Parameter(default=None, ge=1, le=MAX_PAGE,
                                  description="At most this many documents (one page); absent: all of them"),
    offset: int = Parameter(default=0, ge=0, le=BIG, description="Skip this many (with limit: the page's start)"),
    sort: str = Parameter(default="created_at", description=f"One of {', '.join(SORTS)}"),
    order: str = Parameter(default="asc", description="asc or desc"),
    status: str | None = Parameter(default=None, description="Comma-separated statuses, e.g. failed,needs_ocr"),
    kind: str | None = Parameter(default=None, description="Only this type (pdf, text, docx, ...)"),
    name: str | None = Parameter(default=None, max_length=200, description="A part of the file name, any case"),
    since: str | None = Parameter(default=None, description="Added on or after this date (YYYY-MM-DD)"),
    until: str | None = Parameter(default=None, description="Added on or before this date (YYYY-MM-DD)"),
    min_pages: int | None = Parameter(default=None, ge=0, le=BIG, description="At least this many pages"),
    max_pages: int | None = Parameter(default=None, ge=0, le=BIG, description="At most this many pages"),
) -> DocumentQuery:
    """Check the listing parameters; every problem is a 400 that names the parameter."""
    if sort not in SORTS:
        raise BadRequest("bad_sort", f"sort must be one of {', '.join(SORTS)}; got {sort!r}.")
    if order not in ("asc", "desc"):
        raise BadRequest("bad_order", f"order must be asc or desc; got {order!r}.")
    statuses = tuple(sorted({s.strip() for s in (status or "").split(",") if s.strip()}))
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise BadRequest("bad_status", f"status must be among {', '.join(sorted(STATUSES))}; got {unknown[0]!r}.")
    flt = DocumentFilter(statuses=statuses, kind=kind or None, name=(name or "").strip() or None,
                         since=_when(since, "since", end=False), until=_when(until, "until", end=True),
                         min_pages=min_pages, max_pages=max_pages)
    return DocumentQuery(flt, sort, order == "desc", limit, offset)


DOCUMENT_QUERY = {"listing": Provide(document_query, sync_to_thread=False)}


def list_documents_page(svc: Services, case_id: str, query: DocumentQuery) -> Response[list[Document]]:
    """The page of documents and ``X-Total-Count`` (how many match, for the page's "1-50 of 5,000")."""
    rows, total = documents_page(svc.db, case_id, query.filter, sort=query.sort, descending=query.descending,
                                 limit=query.limit, offset=query.offset)
    body = [msgspec.convert(document_json(row), Document) for row in rows]
    return Response(body, headers={"X-Total-Count": str(total)})
