"""The indexing stage: passages into the FTS5 index, in transactions sized to a few milliseconds each.

Why the size is measured, not fixed: SQLite runs on the event-loop thread, so one transaction is a pause for
every request and stream. A fixed 256 passages (two FTS5 indexes kept by triggers) took tens of milliseconds
on this machine while extraction workers kept the other core busy, and streams' p99 under load tripled
(issue 18). Each transaction's time per passage sizes the next one to :data:`INDEX_BUDGET`; between
transactions the loop yields.
"""

from __future__ import annotations

import time

import anyio.lowlevel

from lexintel.pipeline.context import StageContext
from lexintel.store import documents as rows

__all__ = ["INDEX_BUDGET", "run"]

INDEX_BUDGET = 0.005  # seconds of the event loop per indexing transaction
FIRST_BATCH, MIN_BATCH, MAX_BATCH = 32, 8, 512


async def run(ctx: StageContext) -> None:
    """Insert ``ctx.doc.chunks`` as the document's searchable passages."""
    doc = ctx.doc
    chunks = doc.chunks
    total = len(chunks)
    ctx.begin(f"Indexing {total} passage{'' if total == 1 else 's'} of {doc.filename}", items_total=total, items_done=0)
    offset, size = 0, FIRST_BATCH
    while offset < total:
        batch = chunks[offset : offset + size]
        started = time.perf_counter()
        with ctx.db.transaction() as conn:
            rows.insert_chunks(conn, doc.id, doc.case_id, offset, batch)
        per_passage = (time.perf_counter() - started) / len(batch)
        size = max(MIN_BATCH, min(MAX_BATCH, int(INDEX_BUDGET / per_passage))) if per_passage > 0 else MAX_BATCH
        offset += len(batch)
        if offset < total:  # the last batch is reported by the document's completion
            ctx.report(offset / total, f"Indexing passage {offset}/{total} of {doc.filename}", items_total=total,
                       items_done=offset)
        await anyio.lowlevel.checkpoint()  # let requests and streams run between batches
