"""``lexintel search QUERY [--case NAME]``: print hits with file, page, snippet and document id."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexintel.cli.api import check
from lexintel.cli.cases import resolve_case
from lexintel.cli.session import Session

__all__ = ["run_search", "snippet_text"]

OPEN, CLOSE = "<mark>", "</mark>"


def snippet_text(hit: dict[str, Any]) -> Text:
    """The snippet on one line, matched words highlighted (from ``snippet_html``'s <mark> spans)."""
    import html

    text = Text()
    raw = hit.get("snippet_html") or html.escape(hit.get("snippet", ""))
    inside = False
    for part in raw.replace(CLOSE, OPEN).split(OPEN):
        text.append(re.sub(r"\s+", " ", html.unescape(part)), style="bold yellow" if inside else "")
        inside = not inside
    return text


async def run_search(session: Session, query: str, case: str | None = None, *, limit: int = 20,
                     out: Console | None = None) -> int:
    """The whole command: 0 with hits, 1 with none, 2 on errors; ``case`` is a case's name or id."""
    out = out or Console()
    async with session.connect() as conn:
        params: dict[str, Any] = {"q": query, "limit": limit}
        if case is not None:
            params["case_id"] = (await resolve_case(conn, case))["id"]
        body = check(await conn.request("GET", "/search", params=params))
    hits = body["hits"]
    if not hits:
        out.print(f"No hits for {query!r}.")
        return 1
    table = Table(title=f"{len(hits)} hit{'s' if len(hits) != 1 else ''} for {query!r}", title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Page", justify="right")
    table.add_column("Snippet", overflow="fold")
    table.add_column("Document", no_wrap=True, style="dim")
    for hit in hits:
        table.add_row(Text(hit["filename"]), str(hit["page"]), snippet_text(hit), hit.get("document_id") or "")
    out.print(table)
    return 0
