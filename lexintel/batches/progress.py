"""A batch's state computed from its documents' rows: counts, pages, ETA, stage and overall progress.

Pure functions over the summary row (:func:`lexintel.store.batches.summary`), so the tracker (live events)
and the report (``GET /batches/{id}``) agree. Shares and stage order come from the stage registry.

Progress is by work, not by documents: a document weighs its pages once extraction has counted them, and
before that the pages its bytes are expected to hold (at the bytes per page the batch has seen so far; by its
bytes alone while no page count is known). A 375-page file among four small ones is most of the bar, so the
bar and the ETA say how much work is left, not how many files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lexintel.pipeline.stages import BATCH_DOCUMENTS_SHARE, active_batch_stage, batch_rank, document_stages

__all__ = ["FIRST_DOCUMENT_RANK", "BatchSummary", "batch_stage", "mb", "summarize", "unix", "work_share"]

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
    needs_ocr: int  # ended with pages no OCR could read here (finished, but not ready)
    processing: int
    pending: int
    progress_sum: float  # of every document's progress (terminal ones count 100)
    pages_done: int
    work_share: float  # 0-1: the documents' progress weighted by their pages (or bytes), see the module doc
    active_rank: int | None  # lowest stage rank among unfinished documents (None: all finished)
    pages_per_second: float | None  # observed across the batch (None until a page is done)
    eta_seconds: float | None

    @property
    def finished(self) -> int:
        """Documents indexed, needing OCR, or failed."""
        return self.indexed + self.needs_ocr + self.failed

    @property
    def documents_share(self) -> float:
        """0-1: how far the documents are, together, by work (pages or bytes)."""
        return self.work_share

    @property
    def progress(self) -> float:
        """The batch's overall progress while its documents run (after its own stages' shares)."""
        start, weight = BATCH_DOCUMENTS_SHARE
        return start + weight * self.documents_share

    def counts_text(self, skipped: int) -> str:
        """``3 indexed, 1 failed, 2 skipped`` as messages say it (``1 needs OCR`` when one does)."""
        ocr = f", {self.needs_ocr} {'needs' if self.needs_ocr == 1 else 'need'} OCR" if self.needs_ocr else ""
        return f"{self.indexed} indexed{ocr}, {self.failed} failed" + (f", {skipped} skipped" if skipped else "")


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
        n=row["n"], indexed=row["indexed"], failed=row["failed"], needs_ocr=row["needs_ocr"],
        processing=row["processing"],
        pending=row["pending"], progress_sum=row["progress_sum"], pages_done=row["pages_done"],
        work_share=work_share(row),
        active_rank=row["active_rank"], pages_per_second=rate, eta_seconds=eta,
    )


def work_share(row: Mapping[str, Any]) -> float:
    """0-1: the documents' progress weighted by pages (counted, or estimated from bytes); by document count
    when there is no work to weigh (empty files only)."""
    per_byte = row["pages_known"] / row["bytes_known"] if row["bytes_known"] else 0.0
    done: float
    total: float
    if row["page_weight"] > 0:
        done = row["page_weight_done"] + per_byte * row["byte_weight_done"]
        total = row["page_weight"] + per_byte * row["byte_weight"]
    else:  # no page count yet: bytes are the only measure of work
        done, total = float(row["byte_weight_done"]), float(row["byte_weight"])
    if total <= 0:
        return float(row["progress_sum"]) / (100.0 * row["n"]) if row["n"] else 0.0
    return min(done / (100.0 * total), 1.0)


def batch_stage(summary: BatchSummary, current: str) -> str:
    """The stage a batch reports while its documents run: the earliest one an unfinished document is in,
    never before the stage the batch already reported."""
    return active_batch_stage(max(summary.active_rank or FIRST_DOCUMENT_RANK, batch_rank(current),
                                  FIRST_DOCUMENT_RANK))
