"""``lexintel search QUERY [--case NAME] [--mode M] [--limit N] [--offset N]``: print hits with file, page,
snippet and document id, which of how many they are, and the command that shows the next ones."""

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


async def run_search(session: Session, query: str, case: str | None = None, *, limit: int = 20, offset: int = 0,
                     mode: str | None = None, out: Console | None = None) -> int:
    """The whole command: 0 with hits, 1 with none, 2 on errors; ``case`` is a case's name or id."""
    out = out or Console()
    async with session.connect() as conn:
        params: dict[str, Any] = {"q": query, "limit": limit, "offset": offset}
        if mode is not None:
            params["mode"] = mode
        if case is not None:
            params["case_id"] = (await resolve_case(conn, case))["id"]
        body = check(await conn.request("GET", "/search", params=params))
    hits = body["hits"]
    total = int(body.get("total", len(hits)))
    if not hits:
        out.print(f"No hits for {query!r}." if offset == 0 or total == 0 else
                  f"No more hits for {query!r}: {total} in all.")
        return 1
    shown = f"{offset + 1}-{offset + len(hits)} of {total}"
    table = Table(title=f"{shown} hit{'s' if total != 1 else ''} for {query!r} ({body.get('mode', 'keyword')})",
                  title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Page", justify="right")
    table.add_column("Snippet", overflow="fold")
    table.add_column("Document", no_wrap=True, style="dim")
    for hit in hits:
        table.add_row(Text(hit["filename"]), str(hit["page"]), snippet_text(hit), hit.get("document_id") or "")
    out.print(table)
    if offset + len(hits) < total:
        out.print(Text(f"More results: add --offset {offset + len(hits)}"), style="dim")
    return 0
