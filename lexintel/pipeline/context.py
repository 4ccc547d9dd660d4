"""What a stage works with: one attempt at one document, and the door its progress goes out by.

A stage's ``run`` (see :mod:`lexintel.pipeline.stages`) receives a :class:`StageContext`: the attempt's state
(:class:`DocumentRun`: ids, file, pages and passages so far, overall progress), the settings, the database for
the stage's own rows, and :meth:`StageContext.begin` / :meth:`StageContext.report` to say where it is. Reports
become ProgressEvents through the document lifecycle, which this package reaches through the
:class:`Lifecycle` protocol only: the lifecycle emits events, and ``events`` reads the stage registry, so the
pipeline must not import them back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from lexintel.settings import Settings
from lexintel.store.db import Database

__all__ = ["DocumentFailed", "DocumentRun", "Lifecycle", "PipelineStats", "StageContext", "Write"]

Write = Callable[[sqlite3.Connection], None]
"""Rows a stage writes in the same transaction as the event that reports them."""


class DocumentFailed(Exception):
    """A document cannot be processed; ``detail`` is shown to the user."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


LAST_STEP_PROGRESS = 99.0
"""The most a stage's own event reports: the last stage's last step must not look finished before ``completed``."""


@dataclass
class PipelineStats:
    """Counters for /metrics and benchmarks."""

    pages_extracted: int = 0
    documents_indexed: int = 0
    documents_failed: int = 0
    worker_restarts: int = 0
    observers: list[Callable[[str, float], None]] = field(default_factory=list)  # e.g. the metrics histogram

    def observe(self, stage: str, seconds: float) -> None:
        """Hand one stage duration to the observers (the metrics histogram); nothing is kept here."""
        for observer in self.observers:
            observer(stage, seconds)


@dataclass
class DocumentRun:
    """One attempt at one document: what its stages produce and what its events say about it."""

    id: str
    case_id: str
    batch_id: str | None
    filename: str
    kind: str
    storage_path: str
    run: int
    started: float = field(default_factory=time.monotonic)
    pages_total: int = 0
    pages_done: int = 0
    pages_resumed: int = 0  # pages an interrupted earlier attempt of this run stored (not extracted again)
    paced_since: float = 0.0  # when the pacing stage (extraction) began: the ETA's clock
    progress: float = 0.0
    last_emit: float = 0.0
    pages: list[tuple[int, str]] = field(default_factory=list)  # (page number, text), from extraction
    chunks: list[tuple[int, str]] = field(default_factory=list)  # (page number, passage), from chunking
    ocr_pages: list[int] = field(default_factory=list)  # pages without a usable text layer, for the OCR stage
    ocr_problem: str | None = None  # why those pages could not be read here: the document ends ``needs_ocr``
    ocr_notes: list[str] = field(default_factory=list)  # pages OCR could not read (timeout, too large), as said

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | sqlite3.Row, pages: list[tuple[int, str]] | None = None) -> DocumentRun:
        """The attempt a freshly claimed document row starts; with the ``pages`` an interrupted attempt of the
        same run stored, it resumes: extraction continues after them and progress starts where it was."""
        stored = list(pages or [])
        return cls(id=str(row["id"]), case_id=str(row["case_id"]), batch_id=row["batch_id"],
                   filename=str(row["filename"]), kind=str(row["kind"]), storage_path=str(row["storage_path"]),
                   run=int(row["run"]), pages_total=int(row["pages_total"] or 0) if stored else 0,
                   pages_done=len(stored), pages_resumed=len(stored), pages=stored,
                   progress=float(row["progress"] or 0.0) if stored else 0.0)

    @property
    def next_page(self) -> int:
        """0-based index of the first page not extracted yet (pages are numbered from 1 and stored in order)."""
        return self.pages[-1][0] if self.pages else 0

    def advance(self, value: float) -> float:
        """Progress never decreases within a run."""
        self.progress = max(self.progress, min(value, 100.0))
        return self.progress

    @property
    def elapsed(self) -> float:
        """Seconds since the document was claimed."""
        return time.monotonic() - self.started


class Lifecycle(Protocol):
    """The document lifecycle as the pipeline uses it (implemented by :class:`lexintel.documents.Documents`)."""

    def claim(self, document_id: str) -> DocumentRun | None:
        """``pending`` -> ``processing``; None if the document is gone or already claimed."""
        ...

    def advance(self, doc: DocumentRun, stage: str, message: str, *, stage_progress: float = 0.0,
                items_total: int = 0, items_done: int = 0, write: Write | None = None,
                counts: Mapping[str, int] | None = None, announce: bool = True,
                eta: float | None = None) -> None:
        """Record where ``doc`` is (and ``write``'s rows); with ``announce``, as an event too (``eta``: the
        stage's own estimate, else the document's pages paced by extraction)."""
        ...

    async def add_attachments(self, doc: DocumentRun, attachments: list[tuple[str, str]]) -> list[str]:
        """Files ``doc`` carries (an email's attachments: name, path on disk) become documents of their own in
        its case and batch, linked to it; returns their ids."""
        ...

    def complete(self, doc: DocumentRun, message: str) -> None:
        """``doc`` went through every stage: ``indexed``."""
        ...

    def fail(self, doc: DocumentRun, code: str, detail: str) -> None:
        """``doc`` cannot be processed: ``failed`` with a human reason."""
        ...

    def requeue_interrupted(self, doc: DocumentRun) -> None:
        """Shutdown stopped ``doc``: back to ``pending`` in the same run, resumed at its next page."""
        ...

    def requeue_stuck(self, document_id: str) -> None:
        """A crash left the document ``processing``: back to ``pending`` in the same run, resumed likewise."""
        ...


class StageContext:
    """What a stage's ``run`` gets: the document, the settings, and how to report progress.

    The executor sets :attr:`stage` and the stage's share of the document's progress before each run, so a
    stage reports a fraction of its own work and never computes overall progress itself.
    """

    def __init__(self, doc: DocumentRun, *, settings: Settings, db: Database, lifecycle: Lifecycle,
                 stats: PipelineStats, limiter: anyio.CapacityLimiter) -> None:
        self.doc = doc
        self.settings = settings
        self.db = db
        self.stats = stats
        self.limiter = limiter  # bounds the worker processes all documents share
        self._lifecycle = lifecycle
        self.stage = ""
        self._start = 0.0
        self._weight = 0.0

    def enter(self, stage: str, start: float, weight: float) -> None:
        """Called by the executor: the stage about to run and its share (from ``start``) of the progress."""
        self.stage, self._start, self._weight = stage, start, weight

    def begin(self, message: str, *, items_total: int = 0, items_done: int = 0) -> None:
        """The stage's first event (always sent)."""
        self._lifecycle.advance(self.doc, self.stage, message, items_total=items_total, items_done=items_done)

    def report(self, fraction: float, message: str, *, items_total: int, items_done: int, final: bool = False,
               write: Write | None = None, counts: Mapping[str, int] | None = None,
               eta: float | None = None) -> None:
        """``fraction`` (0-1) of this stage is done. An event goes out at most every ``progress_interval``
        (always when ``final``); in between, ``write`` and ``counts`` are still stored with the progress."""
        doc = self.doc
        # 100 % is the terminal event's alone: the original design's clients close their stream at 100
        doc.advance(min(self._start + self._weight * fraction, LAST_STEP_PROGRESS))
        due = final or time.monotonic() - doc.last_emit >= self.settings.progress_interval
        if not due and write is None and counts is None:
            return
        self._lifecycle.advance(doc, self.stage, message, stage_progress=100 * fraction, items_total=items_total,
                                items_done=items_done, write=write, counts=counts, announce=due, eta=eta)

    async def add_attachments(self, attachments: list[tuple[str, str]]) -> list[str]:
        """The files this document carries become documents of their own (see :class:`Lifecycle`)."""
        return await self._lifecycle.add_attachments(self.doc, attachments)
