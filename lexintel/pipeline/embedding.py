"""The embedding stage: the document's passages into vectors for semantic search, after indexing.

Passages are embedded in steps (256 per process-pool call with the local model, a few requests with a
remote endpoint), each step's vectors stored with the progress event reporting it (passages done/total and
an ETA from the passages/s so far). The document ends ``indexed`` after this stage, so the embedding events
travel on the same document, batch and case streams as the rest (the seeds' Phase 4) — but this stage never
fails a document and never makes it wait long: the passages are already in the keyword index, so when the
embedder is unavailable (an endpoint down, a timeout, the model missing) the stage reports why in its last
event, records the document as not embedded, and the background retry (:mod:`lexintel.reembedding`)
embeds it later. An embedder that just failed is skipped at once by the next documents (its health pause).
"""

from __future__ import annotations

import sqlite3
import time

from lexintel.embeddings import EmbeddingUnavailable, embedder_for
from lexintel.embeddings.job import embed_document
from lexintel.pipeline.context import StageContext, Write
from lexintel.store import vectors

__all__ = ["run"]


async def run(ctx: StageContext) -> None:
    """Embed ``ctx.doc``'s passages (stored by indexing); a failure is reported, not raised."""
    doc, settings = ctx.doc, ctx.settings
    embedder = embedder_for(settings)
    if embedder is None:
        ctx.begin(f"Semantic search is off (LEXINTEL_EMBEDDINGS=off); {doc.filename} is searchable by keyword")
        return
    total = len(doc.chunks)
    if total == 0:
        ctx.begin(f"No passages to embed in {doc.filename}")
        return
    if not embedder.health.ready():
        _not_embedded(ctx, total, 0, embedder.health.reason)
        return
    ctx.begin(f"Embedding {total} passages of {doc.filename}", items_total=total, items_done=0)
    began = time.monotonic()
    progress = [0]

    def on_step(done: int, todo: int, write: Write) -> None:
        progress[0] = done
        rate = done / max(time.monotonic() - began, 1e-6)
        ctx.report(done / todo, f"Embedding passage {done}/{todo} of {doc.filename}", items_total=todo,
                   items_done=done, final=done >= todo, write=write, eta=(todo - done) / rate)

    try:
        await embed_document(ctx.db, embedder, document_id=doc.id, case_id=doc.case_id, limiter=ctx.limiter,
                             step_timeout=settings.document_timeout, on_step=on_step)
    except EmbeddingUnavailable as exc:
        _not_embedded(ctx, total, progress[0], str(exc))


def _not_embedded(ctx: StageContext, total: int, done: int, reason: str) -> None:
    doc = ctx.doc
    document_id = doc.id

    def record(conn: sqlite3.Connection) -> None:
        vectors.set_state(conn, document_id, None, "failed", total, reason)

    interval = ctx.settings.embeddings_retry_interval
    ctx.report(1.0, f"{doc.filename} is searchable by keyword, but not yet by meaning: {reason}. It will be "
               f"embedded again automatically (tried every {interval:g} s)", items_total=total, items_done=done,
               final=True, write=record, eta=0.0)
