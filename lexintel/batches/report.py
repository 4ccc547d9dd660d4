"""What ``GET /batches/{id}`` and its polling fallback say about a batch: its row, where it came from, counts,
elapsed time and ETA (from its documents, :mod:`lexintel.batches.progress`) and its log."""

from __future__ import annotations

import time
from typing import Any

from lexintel.batches.progress import FIRST_DOCUMENT_RANK, summarize, unix
from lexintel.pipeline.stages import batch_stage_ranks, stage_kind
from lexintel.store import batches as rows
from lexintel.store.db import Database
from lexintel.store.records import Records

__all__ = ["describe"]


def describe(db: Database, records: Records, batch_id: str) -> dict[str, Any]:
    """The batch row, where it came from, counts, elapsed/ETA and its log (404 if there is no such batch)."""
    row = records.batch(batch_id)
    source = rows.source(db, batch_id)
    s = summarize(rows.summary(db, batch_id, batch_stage_ranks(), FIRST_DOCUMENT_RANK))
    end = unix(row["finished_at"]) if row["finished_at"] else time.time()
    eta = 0.0 if row["status"] == "completed" else (None if row["status"] == "failed" else s.eta_seconds)
    if stage_kind(row["stage"]) == "batch":  # the documents' ETA says nothing about an upload or an unpacking
        eta = None
    return {
        "id": row["id"], "batch_id": row["id"], "case_id": row["case_id"],
        "kind": source["kind"] if source else "files", "filename": source["filename"] if source else "",
        "status": row["status"], "stage": row["stage"], "step": row["stage"], "progress": row["progress"],
        "message": row["message"], "error_code": row["error_code"], "error_message": row["error_message"],
        "bytes_total": row["bytes_total"], "created_at": row["created_at"], "finished_at": row["finished_at"],
        "elapsed_seconds": round(max(end - unix(row["created_at"]), 0.0), 3),
        "eta_seconds": None if eta is None else round(eta, 1),
        "counts": {"total": s.n, "pending": s.pending, "processing": s.processing, "indexed": s.indexed,
                   "needs_ocr": s.needs_ocr, "failed": s.failed, "skipped": source["skipped"] if source else 0},
        "items_total": s.n, "items_done": s.finished,
        "pages_done": s.pages_done,
        "log": rows.log_entries(db, batch_id),
    }
