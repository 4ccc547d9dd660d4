"""The ``batches``, ``batch_sources`` and ``batch_log`` tables, and the batch summary over its documents.

Functions that take a connection run inside the caller's transaction (the row change commits with the event
that reports it); those that take the database write one statement on its own. The summary's ranking of
document stages is given by the caller (the stage registry), so this module knows no stage names.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from lexintel.store.db import Database

__all__ = [
    "case_batch_ids",
    "count_skipped",
    "insert",
    "log",
    "log_entries",
    "mark_ready",
    "set_items_total",
    "set_source_kind",
    "skipped",
    "source",
    "stage",
    "summary",
    "unfinished",
    "update",
]

_SUMMARY = """
SELECT COUNT(*) AS n,
  COALESCE(SUM(status = 'indexed'), 0) AS indexed,
  COALESCE(SUM(status = 'failed'), 0) AS failed,
  COALESCE(SUM(status = 'needs_ocr'), 0) AS needs_ocr,
  COALESCE(SUM(status = 'processing'), 0) AS processing,
  COALESCE(SUM(status = 'pending'), 0) AS pending,
  COALESCE(SUM(CASE WHEN status IN ('indexed', 'needs_ocr', 'failed') THEN 100.0 ELSE progress END), 0) AS progress_sum,
  COALESCE(SUM(pages_done), 0) AS pages_done,
  COALESCE(SUM(CASE WHEN pages_total IS NOT NULL THEN MAX(pages_total, 1) ELSE 0 END), 0) AS page_weight,
  COALESCE(SUM(CASE WHEN pages_total IS NOT NULL THEN MAX(pages_total, 1)
                    * (CASE WHEN status IN ('indexed', 'needs_ocr', 'failed') THEN 100.0 ELSE progress END)
               ELSE 0 END), 0)
    AS page_weight_done,
  COALESCE(SUM(CASE WHEN pages_total IS NULL THEN size_bytes ELSE 0 END), 0) AS byte_weight,
  COALESCE(SUM(CASE WHEN pages_total IS NULL THEN size_bytes
                    * (CASE WHEN status IN ('indexed', 'needs_ocr', 'failed') THEN 100.0 ELSE progress END)
               ELSE 0 END), 0)
    AS byte_weight_done,
  COALESCE(SUM(CASE WHEN pages_total IS NOT NULL THEN pages_total ELSE 0 END), 0) AS pages_known,
  COALESCE(SUM(CASE WHEN pages_total IS NOT NULL THEN size_bytes ELSE 0 END), 0) AS bytes_known,
  COALESCE(SUM(CASE WHEN status NOT IN ('indexed', 'needs_ocr', 'failed') AND pages_total IS NOT NULL
                    THEN MAX(pages_total - pages_done, 0) ELSE 0 END), 0) AS pages_left,
  COALESCE(SUM(CASE WHEN status NOT IN ('indexed', 'needs_ocr', 'failed') AND pages_total IS NULL
                    THEN size_bytes ELSE 0 END), 0) AS bytes_unknown,
  MIN(CASE WHEN status NOT IN ('indexed', 'needs_ocr', 'failed') THEN CASE stage {ranks} ELSE ? END END) AS active_rank,
  MIN(started_at) AS first_started
FROM documents WHERE batch_id = ?
"""


def insert(conn: sqlite3.Connection, batch_id: str, case_id: str, *, kind: str, filename: str, items_total: int,
           bytes_total: int, message: str, created_at: str) -> None:
    """A new batch (stage ``uploading``) and where it came from."""
    conn.execute(
        "INSERT INTO batches (id, case_id, status, stage, progress, items_total, bytes_total, message,"
        " created_at) VALUES (?, ?, 'processing', 'uploading', 0, ?, ?, ?, ?)",
        (batch_id, case_id, items_total, bytes_total, message, created_at),
    )
    conn.execute("INSERT INTO batch_sources (batch_id, kind, filename) VALUES (?, ?, ?)",
                 (batch_id, kind, filename))


def update(conn: sqlite3.Connection, batch_id: str, values: Mapping[str, Any]) -> None:
    """Set some columns of a batch row (names from code, never from input)."""
    columns = ", ".join(f"{name} = ?" for name in values)
    conn.execute(f"UPDATE batches SET {columns} WHERE id = ?", (*values.values(), batch_id))


def stage(db: Database, batch_id: str) -> str:
    """A batch's stage as stored."""
    row = db.query_one("SELECT stage FROM batches WHERE id = ?", (batch_id,))
    return str(row[0]) if row else ""


def set_items_total(db: Database, batch_id: str, items_total: int) -> None:
    """How many documents the batch has, once known."""
    db.conn.execute("UPDATE batches SET items_total = ? WHERE id = ?", (items_total, batch_id))


def set_source_kind(db: Database, batch_id: str, kind: str) -> None:
    """A chunked upload turned out to be a ZIP."""
    db.conn.execute("UPDATE batch_sources SET kind = ? WHERE batch_id = ?", (kind, batch_id))


def mark_ready(db: Database, batch_id: str) -> None:
    """Every document of the batch exists (a restart then follows it from its documents)."""
    db.conn.execute("UPDATE batch_sources SET ready = 1 WHERE batch_id = ?", (batch_id,))


def log(conn: sqlite3.Connection, batch_id: str, *, at: str, level: str, code: str, name: str,
        message: str) -> None:
    """One line of the batch's log (a skipped entry, a refused archive)."""
    conn.execute("INSERT INTO batch_log (batch_id, at, level, code, name, message) VALUES (?, ?, ?, ?, ?, ?)",
                 (batch_id, at, level, code, name, message))


def count_skipped(conn: sqlite3.Connection, batch_id: str) -> None:
    """One more entry of the batch's source was skipped."""
    conn.execute("UPDATE batch_sources SET skipped = skipped + 1 WHERE batch_id = ?", (batch_id,))


def skipped(db: Database, batch_id: str) -> int:
    """How many entries of the batch's source were skipped."""
    row = db.query_one("SELECT skipped FROM batch_sources WHERE batch_id = ?", (batch_id,))
    return int(row[0]) if row else 0


def source(db: Database, batch_id: str) -> sqlite3.Row | None:
    """Where the batch came from (kind, file name, skipped count)."""
    return db.query_one("SELECT * FROM batch_sources WHERE batch_id = ?", (batch_id,))


def log_entries(db: Database, batch_id: str) -> list[dict[str, Any]]:
    """The batch's log, oldest first."""
    rows = db.query("SELECT at, level, code, name, message FROM batch_log WHERE batch_id = ? ORDER BY seq",
                    (batch_id,))
    return [{key: r[key] for key in r.keys()} for r in rows]  # noqa: SIM118 (sqlite3.Row)


def case_batch_ids(db: Database, case_id: str, limit: int) -> list[str]:
    """The newest ``limit`` batches of a case, newest first (the web page lists them with their outcome)."""
    rows = db.query("SELECT id FROM batches WHERE case_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
                    (case_id, limit))
    return [r[0] for r in rows]


def unfinished(db: Database) -> list[sqlite3.Row]:
    """Batches still ``processing`` (after a restart), with their source's ``ready`` and file name."""
    return db.query(
        "SELECT b.*, s.ready, s.filename AS source_name FROM batches b"
        " LEFT JOIN batch_sources s ON s.batch_id = b.id WHERE b.status = 'processing'"
    )


def summary(db: Database, batch_id: str, stage_ranks: Sequence[tuple[str, int]], other_rank: int) -> dict[str, Any]:
    """Counts, pages and bytes of a batch's documents (and their progress weighted by pages where known, by
    bytes where not: ``page_weight[_done]``, ``byte_weight[_done]``), and the lowest rank (by ``stage_ranks``; any other
    stage ranks ``other_rank``) among the unfinished ones."""
    ranks = " ".join("WHEN ? THEN ?" for _ in stage_ranks)
    params: list[Any] = [value for pair in stage_ranks for value in pair]
    row = db.query_one(_SUMMARY.format(ranks=ranks), (*params, other_rank, batch_id))
    assert row is not None
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 (sqlite3.Row)
