"""Embedding outside the pipeline (``Services.embeddings``): the start-up model check, re-embedding after a
change of model, and the retry of documents the pipeline could not embed.

At start the configured model is compared with the vectors stored: indexed documents with passages lacking
a vector of the current model (the model changed, an earlier attempt failed, the database predates
embeddings) are embedded again in the background, one at a time on one worker process, so new uploads keep
the rest of the pool. Every ``LEXINTEL_EMBEDDINGS_RETRY_INTERVAL`` seconds the same query finds documents the
pipeline could not embed (their endpoint was down). Before a round, one probe request checks the embedder:
while it is down nothing is announced, so a long outage does not flood the streams.

Each document embedded here gets a new *run* on its stream: ``embedding`` events with passages done/total and
an ETA, then a terminal ``completed`` event, on the document and case streams (its batch stream has ended). The
document stays ``indexed`` and keyword-searchable throughout; semantic search uses a document's new vectors as
soon as they are stored and its old model's vectors are dropped when it is done.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

import anyio
from anyio.abc import TaskStatus

from lexintel.embeddings import Embedder, EmbeddingUnavailable, embedder_for, serve
from lexintel.embeddings.job import embed_document
from lexintel.events.emitter import Emitter
from lexintel.events.model import ProgressEvent
from lexintel.settings import Settings
from lexintel.store import vectors
from lexintel.store.db import Database

__all__ = ["Embeddings"]

log = logging.getLogger(__name__)


class _Gone(Exception):
    """The document changed under the job (deleted, retried): stop embedding it."""


class Embeddings:
    """The background side of embeddings for one instance (``Services.embeddings``)."""

    def __init__(self, settings: Settings, db: Database, emitter: Emitter) -> None:
        self.settings = settings
        self.db = db
        self.embedder: Embedder | None = embedder_for(settings)
        self._emitter = emitter
        self._limiter = anyio.CapacityLimiter(1)  # one worker process: background work leaves the pool to uploads
        self._wake = anyio.Event()
        self.reembedded = 0
        serve(db, settings)

    def status(self) -> dict[str, Any]:
        """The model, the counts, and why the embedder is paused (for ``/ready``-style reports and tests)."""
        if self.embedder is None:
            return {"mode": "off"}
        known = vectors.find_model(self.db, self.embedder.name)
        return {"mode": self.settings.embeddings, "model": self.embedder.name, "dim": known[1] if known else None,
                **vectors.summary(self.db, known[0] if known else None), "available": self.embedder.health.ready(),
                "reason": self.embedder.health.reason or None}

    def wake(self) -> None:
        """Start a round now instead of at the next interval."""
        self._wake.set()

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """The start-up check, then rounds until cancelled."""
        if self.embedder is None:
            log.info("embeddings are off (LEXINTEL_EMBEDDINGS=off): keyword search only")
            task_status.started()
            return
        self._startup_check(self.embedder)
        task_status.started()
        while True:
            try:
                await self._round(self.embedder)
            except sqlite3.Error:
                log.warning("embedding round failed; will try again", exc_info=True)
            with anyio.move_on_after(self.settings.embeddings_retry_interval):
                await self._wake.wait()
            self._wake = anyio.Event()

    def _startup_check(self, embedder: Embedder) -> None:
        known = vectors.find_model(self.db, embedder.name)
        todo = vectors.documents_to_embed(self.db, known[0] if known else None)
        others = vectors.other_models(self.db, embedder.name)
        if others and todo:
            log.info("embedding model is now %s (was %s): %d documents will be embedded again, with progress",
                     embedder.name, ", ".join(others), len(todo))
        elif todo:
            log.info("embedding model %s: %d indexed documents are not embedded yet; embedding them",
                     embedder.name, len(todo))
        else:
            log.info("embedding model %s", embedder.name)

    async def _round(self, embedder: Embedder) -> None:
        """Embed every document that needs it, unless a probe says the embedder is down."""
        known = vectors.find_model(self.db, embedder.name)
        todo = vectors.documents_to_embed(self.db, known[0] if known else None)
        if not todo or not embedder.health.ready():
            return
        try:
            await embedder.query("probe")
        except EmbeddingUnavailable as exc:
            embedder.health.failed(str(exc))
            log.warning("embeddings unavailable (%s); %d documents wait for semantic search", exc, len(todo))
            return
        for row in todo:
            if not embedder.health.ready():
                return
            await self.embed_again(embedder, row)

    async def embed_again(self, embedder: Embedder, row: sqlite3.Row) -> None:
        """One document's missing vectors, as a new run of its stream."""
        document_id, case_id, filename = str(row["id"]), str(row["case_id"]), str(row["filename"])
        run = int(row["run"]) + 1
        began = time.monotonic()

        def event(status: str, stage: str, progress: float, message: str, done: int, total: int,
                  eta: float | None) -> ProgressEvent:
            return ProgressEvent(case_id=case_id, document_id=document_id, batch_id=row["batch_id"], run=run,
                                 status=status, stage=stage, progress=progress, stage_progress=progress,
                                 items_total=total, items_done=done, message=message, filename=filename,
                                 elapsed_seconds=time.monotonic() - began, eta_seconds=eta)

        def still_indexed(conn: sqlite3.Connection, first: bool) -> None:
            if vectors.indexed_run(conn, document_id) != (run - 1 if first else run):
                raise _Gone

        def begin(conn: sqlite3.Connection) -> None:
            still_indexed(conn, True)
            vectors.mark_document(conn, document_id, "embedding", f"Embedding {filename} for semantic search",
                                  run=run)

        total = int(row["chunks"] or 0)
        try:
            self._emitter.emit(event("processing", "embedding", 0.0, f"Embedding the passages of {filename} for "
                                     f"semantic search ({embedder.name})", 0, total, None), write=begin)
            done = [0]

            def on_step(count: int, todo: int, write: Any) -> None:
                done[0] = count
                rate = count / max(time.monotonic() - began, 1e-6)

                def change(conn: sqlite3.Connection) -> None:
                    still_indexed(conn, False)
                    write(conn)

                self._emitter.emit(event("processing", "embedding", 100.0 * count / todo,
                                         f"Embedding passage {count}/{todo} of {filename}", count, todo,
                                         (todo - count) / rate), write=change)

            embedded = await embed_document(self.db, embedder, document_id=document_id, case_id=case_id,
                                            limiter=self._limiter, step_timeout=self.settings.document_timeout,
                                            on_step=on_step)
            message = f"{filename} is searchable by meaning again: {embedded} passages embedded ({embedder.name})"
            failure: str | None = None
        except _Gone:
            return  # deleted or retried meanwhile: its own events say what happened
        except EmbeddingUnavailable as exc:
            failure = str(exc)
            message = (f"{filename} is still searchable by keyword, but not yet by meaning: {failure}. "
                       f"It will be embedded again automatically")
        except sqlite3.IntegrityError:
            return  # its passages went away between two steps (the document was deleted or re-run)

        def finish(conn: sqlite3.Connection) -> None:
            still_indexed(conn, False)
            if failure is not None:
                vectors.set_state(conn, document_id, None, "failed", total, failure)
            vectors.mark_document(conn, document_id, "completed", message)

        try:
            self._emitter.emit(event("completed", "completed", 100.0, message, total, total, 0.0), terminal=True,
                               write=finish)
        except _Gone:
            return
        if failure is None:
            self.reembedded += 1
