"""The chunking stage: a document's pages into passages (in a thread: it is pure Python over all the text)."""

from __future__ import annotations

import anyio.to_thread

from lexintel.pipeline.chunk import chunk_pages
from lexintel.pipeline.context import StageContext

__all__ = ["run"]


async def run(ctx: StageContext) -> None:
    """Split ``ctx.doc.pages`` into ``ctx.doc.chunks`` (page-aware: a passage never crosses a page)."""
    doc = ctx.doc
    ctx.begin(f"Splitting {doc.filename} into passages", items_total=doc.pages_total, items_done=0)
    size, overlap = ctx.settings.chunk_size, ctx.settings.chunk_overlap
    doc.chunks = await anyio.to_thread.run_sync(chunk_pages, doc.pages, size, overlap)
