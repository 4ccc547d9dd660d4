"""Embedding one document's passages, step by step: shared by the pipeline stage and the background retry.

Only passages without a vector from the current model are embedded (a retry continues where a failure
stopped). Each step's vectors are handed to ``on_step`` as a write, so the caller commits them in the same
transaction as the progress event that reports them. The model is recorded (name and dimension) with the
first vectors it writes; the last step also records the document as ``done`` and drops its vectors from
older models.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import anyio

from lexintel.embeddings.base import EmbeddingUnavailable
from lexintel.embeddings.embedder import Embedder
from lexintel.store import vectors
from lexintel.store.db import Database

__all__ = ["OnStep", "embed_document"]

OnStep = Callable[[int, int, Callable[[sqlite3.Connection], None]], None]
"""``on_step(done, total, write)``: report progress and run ``write`` in the event's transaction."""


async def embed_document(db: Database, embedder: Embedder, *, document_id: str, case_id: str,
                         limiter: anyio.CapacityLimiter, step_timeout: float, on_step: OnStep) -> int:
    """Embed the document's passages that lack a vector; returns how many there were.

    Raises :class:`EmbeddingUnavailable` (after recording it in the embedder's health) when the embedder
    fails; the vectors of the steps before stay stored.
    """
    known = vectors.find_model(db, embedder.name)
    todo = vectors.missing_passages(db, document_id, known[0] if known else None)
    total = len(todo)
    model: list[int] = []  # the model's id, once its first vectors are written

    for offset in range(0, total, embedder.step):
        part = todo[offset : offset + embedder.step]
        try:
            with anyio.fail_after(step_timeout):
                matrix = await embedder.passages([text for _, text in part], limiter)
        except TimeoutError:
            reason = f"embedding {len(part)} passages took longer than {step_timeout:g} s"
            embedder.health.failed(reason)
            raise EmbeddingUnavailable(reason) from None
        except EmbeddingUnavailable as exc:
            embedder.health.failed(str(exc))
            raise
        embedder.health.succeeded()
        done, last = offset + len(part), offset + len(part) >= total
        ids = [chunk_id for chunk_id, _ in part]

        def write(conn: sqlite3.Connection, ids: list[int] = ids, matrix: object = matrix, last: bool = last) -> None:
            if not model:
                model.append(vectors.model_id(conn, embedder.name, int(matrix.shape[1])))  # type: ignore[attr-defined]
            vectors.store(conn, model[0], case_id, document_id, ids, matrix)  # type: ignore[arg-type]
            if last:
                vectors.set_state(conn, document_id, model[0], "done", total)
                vectors.drop_other_models(conn, document_id, model[0])

        on_step(done, total, write)
    return total
