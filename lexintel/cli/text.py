"""``lexintel text DOC [--page N]``: a document's extracted text, all pages or one, as plain text on stdout.

Pages appear as extraction proceeds, so the text of a document still processing is what is there so far (said
on stderr). With ``--page`` only that page's text is printed, with nothing added, for scripts.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from lexintel.cli.api import CliError, NotFoundError, check, segment
from lexintel.cli.session import Session

__all__ = ["run_text"]


async def run_text(session: Session, doc_id: str, page: int | None = None, *, out: TextIO | None = None,
                   err: TextIO | None = None) -> int:
    """0 with text printed; 1 when the document failed or has no text (yet); 2 for an unknown id or page."""
    out = out or sys.stdout
    err = err or sys.stderr
    async with session.connect() as conn:
        try:
            body: dict[str, Any] = check(await conn.request("GET", f"/documents/{segment(doc_id)}/text"))
        except NotFoundError:
            raise NotFoundError(f"No document with id {doc_id!r} (`lexintel docs CASE` lists them)") from None
    pages: list[dict[str, Any]] = body["pages"]
    name, status = body["filename"], body["status"]
    if status != "indexed":
        state = "failed" if status == "failed" else f"is {status}"
        print(f"{name} {state}: {len(pages)} page{'s' if len(pages) != 1 else ''} of text so far", file=err)
    if page is not None:
        match = next((p for p in pages if p["page"] == page), None)
        if match is None:
            have = f"pages 1-{pages[-1]['page']}" if pages else "no pages"
            raise CliError(f"{name} has no page {page} ({have} of text)")
        out.write(match["text"].rstrip("\n") + "\n")
        return 0
    if not pages:
        return 1
    for item in pages:
        out.write(f"── page {item['page']} · {name} ──\n")
        out.write(item["text"].rstrip("\n") + "\n\n")
    return 0 if status != "failed" else 1
