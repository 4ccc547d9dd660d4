"""``lexintel search QUERY [--case NAME] --server URL``: print hits with file, page and snippet."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexintel.cli.api import CliError, check, make_client, request

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


async def run_search(server: str, query: str, case_name: str | None = None, *, limit: int = 20,
                     out: Console | None = None) -> int:
    """The whole command: 0 with hits, 1 with none, 2 on errors."""
    out = out or Console()
    async with make_client(server) as client:
        params: dict[str, Any] = {"q": query, "limit": limit}
        if case_name is not None:
            cases = check(await request(client, "GET", "/cases"))
            match = next((c for c in cases if c["name"] == case_name), None)
            if match is None:
                raise CliError(f"no case named {case_name!r}")
            params["case_id"] = match["id"]
        body = check(await request(client, "GET", "/search", params=params))
    hits = body["hits"]
    if not hits:
        out.print(f"No hits for {query!r}.")
        return 1
    table = Table(title=f"{len(hits)} hit{'s' if len(hits) != 1 else ''} for {query!r}", title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Page", justify="right")
    table.add_column("Snippet", overflow="fold")
    for hit in hits:
        table.add_row(hit["filename"], str(hit["page"]), snippet_text(hit))
    out.print(table)
    return 0
