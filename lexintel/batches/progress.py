"""A batch's state computed from its documents' rows: counts, pages, ETA, stage and overall progress.

Pure functions over the summary row (:func:`lexintel.store.batches.summary`), so the tracker (live events)
and the report (``GET /batches/{id}``) agree. Shares and stage order come from the stage registry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lexintel.pipeline.stages import BATCH_DOCUMENTS_SHARE, active_batch_stage, batch_rank, document_stages

__all__ = ["FIRST_DOCUMENT_RANK", "BatchSummary", "batch_stage", "mb", "summarize", "unix"]

FIRST_DOCUMENT_RANK = batch_rank(document_stages()[0].name)
"""What a batch whose documents are all waiting ranks as (the summary's rank for any other stage)."""


def unix(iso: str) -> float:
    """Unix seconds of a stored ISO timestamp."""
    return datetime.fromisoformat(iso).timestamp()


def mb(n: int) -> str:
    """Bytes as the MB figure messages show."""
    return f"{n / 1_048_576:.1f}"


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a batch's documents add up to now."""

    n: int
    indexed: int
    failed: int
    processing: int
    pending: int
    progress_sum: float  # of every document's progress (terminal ones count 100)
    pages_done: int
    active_rank: int | None  # lowest stage rank among unfinished documents (None: all finished)
    pages_per_second: float | None  # observed across the batch (None until a page is done)
    eta_seconds: float | None

    @property
    def finished(self) -> int:
        """Documents indexed or failed."""
        return self.indexed + self.failed

    @property
    def documents_share(self) -> float:
        """0-1: how far the documents are, together."""
        return self.progress_sum / (100.0 * self.n) if self.n else 0.0

    @property
    def progress(self) -> float:
        """The batch's overall progress while its documents run (after its own stages' shares)."""
        start, weight = BATCH_DOCUMENTS_SHARE
        return start + weight * self.documents_share

    def counts_text(self, skipped: int) -> str:
        """``3 indexed, 1 failed, 2 skipped`` as messages say it."""
        return f"{self.indexed} indexed, {self.failed} failed" + (f", {skipped} skipped" if skipped else "")


def summarize(row: Mapping[str, Any], now: float | None = None) -> BatchSummary:
    """The summary of a batch from its summary row; the ETA extrapolates pages/s to the pages left, and
    estimates pages for documents not yet opened from the bytes per page seen so far."""
    now = time.time() if now is None else now
    rate = eta = None
    if row["first_started"] and row["pages_done"] > 0:
        seconds = max(now - unix(row["first_started"]), 1e-3)
        rate = row["pages_done"] / seconds
        if row["bytes_unknown"] == 0 or row["bytes_known"] > 0:
            per_byte = row["pages_known"] / row["bytes_known"] if row["bytes_known"] else 0.0
            eta = (row["pages_left"] + row["bytes_unknown"] * per_byte) / rate
    return BatchSummary(
        n=row["n"], indexed=row["indexed"], failed=row["failed"], processing=row["processing"],
        pending=row["pending"], progress_sum=row["progress_sum"], pages_done=row["pages_done"],
        active_rank=row["active_rank"], pages_per_second=rate, eta_seconds=eta,
    )


def batch_stage(summary: BatchSummary, current: str) -> str:
    """The stage a batch reports while its documents run: the earliest one an unfinished document is in,
    never before the stage the batch already reported."""
    return active_batch_stage(max(summary.active_rank or FIRST_DOCUMENT_RANK, batch_rank(current),
                                  FIRST_DOCUMENT_RANK))
