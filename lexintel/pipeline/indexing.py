"""The indexing stage: passages into the FTS5 index, a few hundred per transaction.

Between transactions the loop yields, so requests and streams keep running while a long document is indexed.
"""

from __future__ import annotations

import anyio.lowlevel

from lexintel.pipeline.context import StageContext
from lexintel.store import documents as rows

__all__ = ["INDEX_BATCH", "run"]

INDEX_BATCH = 256


async def run(ctx: StageContext) -> None:
    """Insert ``ctx.doc.chunks`` as the document's searchable passages."""
    doc = ctx.doc
    chunks = doc.chunks
    total = len(chunks)
    ctx.begin(f"Indexing {total} passage{'' if total == 1 else 's'} of {doc.filename}", items_total=total, items_done=0)
    for offset in range(0, total, INDEX_BATCH):
        batch = chunks[offset : offset + INDEX_BATCH]
        with ctx.db.transaction() as conn:
            rows.insert_chunks(conn, doc.id, doc.case_id, offset, batch)
        done = offset + len(batch)
        if done < total:  # the last batch is reported by the document's completion
            ctx.report(done / total, f"Indexing passage {done}/{total} of {doc.filename}", items_total=total,
                       items_done=done)
        await anyio.lowlevel.checkpoint()  # let requests and streams run between batches
