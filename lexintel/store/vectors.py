"""Passage vectors and the models that made them (tables of migration 3).

A vector is stored as its float32 bytes (little-endian, unit length) in one BLOB per (passage, model): 1 KiB
for 256 dimensions, about the size of the passage's text. Writes are small (one embedding step) and run on the
writer connection inside the event's transaction; reads for search run on reader connections.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lexintel.clock import utc_now_iso
from lexintel.store.access import readable_condition
from lexintel.store.db import Database

__all__ = ["cases_with_vectors", "deletes", "documents_to_embed", "drop_other_models", "find_model",
           "indexed_run", "mark_document", "missing_passages", "model_id", "other_models", "rows_after",
           "set_state", "state", "store", "summary"]

assert sys.byteorder == "little"  # BLOBs are float32 in this machine's order; every supported CPU is little-endian


def model_id(conn: sqlite3.Connection, name: str, dim: int) -> int:
    """The id of model ``name`` with ``dim`` dimensions, recorded now if it is new."""
    conn.execute("INSERT OR IGNORE INTO embedding_models (name, dim, created_at) VALUES (?, ?, ?)",
                 (name, dim, utc_now_iso()))
    row = conn.execute("SELECT id FROM embedding_models WHERE name = ? AND dim = ?", (name, dim)).fetchone()
    return int(row[0])


def find_model(conn: sqlite3.Connection | Database, name: str) -> tuple[int, int] | None:
    """(id, dim) of the latest model recorded under ``name``, or None if it never wrote a vector."""
    sql = "SELECT id, dim FROM embedding_models WHERE name = ? ORDER BY id DESC LIMIT 1"
    row = conn.query_one(sql, (name,)) if isinstance(conn, Database) else conn.execute(sql, (name,)).fetchone()
    return None if row is None else (int(row[0]), int(row[1]))


def missing_passages(db: Database, document_id: str, model: int | None) -> list[tuple[int, str]]:
    """(chunk id, text) of the document's passages that have no vector from ``model`` yet, in order."""
    return [(int(r[0]), str(r[1])) for r in db.query(
        "SELECT c.id, c.text FROM chunks c WHERE c.document_id = ? AND NOT EXISTS"
        " (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model_id = ?) ORDER BY c.seq",
        (document_id, -1 if model is None else model))]


def store(conn: sqlite3.Connection, model: int, case_id: str, document_id: str, chunk_ids: Sequence[int],
          vectors: npt.NDArray[np.float32]) -> None:
    """One step's vectors (a passage already embedded by this model keeps its vector)."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    conn.executemany(
        "INSERT OR IGNORE INTO chunk_vectors (chunk_id, model_id, case_id, document_id, vector)"
        " VALUES (?, ?, ?, ?, ?)",
        [(chunk_id, model, case_id, document_id, matrix[i].tobytes()) for i, chunk_id in enumerate(chunk_ids)],
    )


def drop_other_models(conn: sqlite3.Connection, document_id: str, model: int) -> None:
    """A document fully embedded by ``model`` no longer needs its older models' vectors."""
    conn.execute("DELETE FROM chunk_vectors WHERE document_id = ? AND model_id != ?", (document_id, model))


def set_state(conn: sqlite3.Connection, document_id: str, model: int | None, status: str, passages: int,
              error: str | None = None) -> None:
    """The document's embedding state: ``done``, or ``failed`` with the reason (attempts counted)."""
    conn.execute(
        "INSERT INTO document_embeddings (document_id, model_id, status, passages, error_message, attempts,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (document_id) DO UPDATE SET"
        " model_id = excluded.model_id, status = excluded.status, passages = excluded.passages,"
        " error_message = excluded.error_message, updated_at = excluded.updated_at,"
        " attempts = CASE WHEN excluded.status = 'failed' THEN attempts + 1 ELSE 0 END",
        (document_id, model, status, passages, error, 1 if status == "failed" else 0, utc_now_iso()),
    )


def state(db: Database, document_id: str) -> sqlite3.Row | None:
    """The document's embedding state row (status, passages, error_message, attempts, model), if any."""
    return db.query_one(
        "SELECT e.status, e.passages, e.error_message, e.attempts, m.name AS model, m.dim"
        " FROM document_embeddings e LEFT JOIN embedding_models m ON m.id = e.model_id WHERE e.document_id = ?",
        (document_id,))


def documents_to_embed(db: Database, model: int | None) -> list[sqlite3.Row]:
    """Indexed documents with a passage lacking a vector from ``model`` (the model changed, an earlier attempt
    failed, or the database predates embeddings): never-tried ones first, then by fewest failed attempts."""
    return db.query(
        "SELECT d.id, d.case_id, d.batch_id, d.filename, d.run, d.pages_total, d.chunks,"
        " COALESCE(e.attempts, 0) AS attempts FROM documents d"
        " LEFT JOIN document_embeddings e ON e.document_id = d.id"
        " WHERE d.status = 'indexed' AND EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id AND NOT EXISTS"
        " (SELECT 1 FROM chunk_vectors v WHERE v.chunk_id = c.id AND v.model_id = ?))"
        " ORDER BY COALESCE(e.attempts, 0), d.created_at",
        (-1 if model is None else model,))


def summary(db: Database, model: int | None) -> dict[str, int]:
    """Passages, passages with a vector from ``model``, documents whose last embedding failed."""
    row = db.query_one(
        "SELECT (SELECT COUNT(*) FROM chunks) AS passages,"
        " (SELECT COUNT(*) FROM chunk_vectors WHERE model_id = ?) AS embedded,"
        " (SELECT COUNT(*) FROM document_embeddings WHERE status = 'failed') AS failed",
        (-1 if model is None else model,))
    assert row is not None
    return {"passages": int(row[0]), "embedded": int(row[1]), "failed_documents": int(row[2])}


def cases_with_vectors(conn: sqlite3.Connection, model: int, case_id: str | None,
                       reader_id: str | None) -> list[str]:
    """The cases ``reader_id`` may read (only ``case_id`` if given) that hold vectors from ``model``: access
    is decided here, before any vector is looked at."""
    readable, params = readable_condition("c.id", reader_id)
    sql = ("SELECT c.id FROM cases c WHERE " + readable + (" AND c.id = ?" if case_id else "")
           + " AND EXISTS (SELECT 1 FROM chunk_vectors v WHERE v.case_id = c.id AND v.model_id = ?)")
    args: tuple[Any, ...] = (*params, *((case_id,) if case_id else ()), model)
    return [str(r[0]) for r in conn.execute(sql, args)]


def deletes(conn: sqlite3.Connection, case_id: str, model: int) -> int:
    """How many of the case's vectors from ``model`` were ever deleted (a cached matrix with another count is
    stale)."""
    row = conn.execute("SELECT deletes FROM vector_changes WHERE case_id = ? AND model_id = ?",
                       (case_id, model)).fetchone()
    return 0 if row is None else int(row[0])


def rows_after(conn: sqlite3.Connection, case_id: str, model: int, seq: int) -> list[tuple[int, int, bytes]]:
    """(seq, chunk id, vector bytes) of the case's vectors from ``model`` added after ``seq``, in order."""
    return conn.execute(
        "SELECT seq, chunk_id, vector FROM chunk_vectors WHERE case_id = ? AND model_id = ? AND seq > ?"
        " ORDER BY seq", (case_id, model, seq)).fetchall()


def other_models(db: Database, name: str) -> list[str]:
    """Names of the models other than ``name`` that still have vectors (a change of model, seen at start)."""
    return [str(r[0]) for r in db.query(
        "SELECT name FROM embedding_models WHERE name != ? AND id IN (SELECT DISTINCT model_id FROM chunk_vectors)",
        (name,))]


def indexed_run(conn: sqlite3.Connection, document_id: str) -> int | None:
    """The document's run while it is ``indexed`` (None: gone, or failed/pending/processing)."""
    row = conn.execute("SELECT status, run FROM documents WHERE id = ?", (document_id,)).fetchone()
    return None if row is None or row[0] != "indexed" else int(row[1])


def mark_document(conn: sqlite3.Connection, document_id: str, stage: str, message: str, *,
                  run: int | None = None) -> None:
    """An indexed document's stage and message while it is embedded again (its status stays ``indexed``);
    ``run``: the new run this re-embedding opens on its stream."""
    if run is None:
        conn.execute("UPDATE documents SET stage = ?, message = ? WHERE id = ?", (stage, message, document_id))
    else:
        conn.execute("UPDATE documents SET stage = ?, message = ?, run = ? WHERE id = ?",
                     (stage, message, run, document_id))
