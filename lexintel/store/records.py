"""Rows of cases, documents and batches: small, indexed queries on the writer connection (document writes are
in :mod:`lexintel.store.documents`, batch writes in :mod:`lexintel.store.batches`)."""

from __future__ import annotations

import sqlite3
from typing import Any

from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import NotFound
from lexintel.store.db import Database

__all__ = ["Records"]

DOCUMENT_COLUMNS = (
    "id, case_id, batch_id, filename, kind, size_bytes, sha256, storage_path, status, stage, progress, "
    "pages_total, pages_done, chunks, message, error_code, error_message, run, created_at, started_at, "
    "finished_at, parent_id"
)


def document_json(row: sqlite3.Row) -> dict[str, Any]:
    """The public view of a document row (no storage path)."""
    return {
        "id": row["id"],
        "case_id": row["case_id"],
        "batch_id": row["batch_id"],
        "filename": row["filename"],
        "kind": row["kind"],
        "size_bytes": row["size_bytes"],
        "sha256": row["sha256"],
        "status": row["status"],
        "stage": row["stage"],
        "progress": row["progress"],
        "pages_total": row["pages_total"],
        "pages_done": row["pages_done"],
        "chunks": row["chunks"],
        "message": row["message"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "run": row["run"],
        "created_at": row["created_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "parent_id": row["parent_id"],  # ocr: the email an attachment came out of
    }


def case_json(row: sqlite3.Row) -> dict[str, Any]:
    """The public view of a case row."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
    }


class Records:
    """Create and look up cases, documents and batches."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # cases
    def create_case(self, name: str, description: str = "", owner_id: str | None = None) -> sqlite3.Row:
        """Insert a case and return its row."""
        case_id = new_id()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO cases (id, name, description, owner_id, created_at) VALUES (?, ?, ?, ?, ?)",
                (case_id, name, description, owner_id, utc_now_iso()),
            )
        return self.case(case_id)

    def case(self, case_id: str) -> sqlite3.Row:
        """A case row, or 404."""
        row = self.db.query_one("SELECT * FROM cases WHERE id = ?", (case_id,))
        if row is None:
            raise NotFound("case_not_found", f"No case with id {case_id!r}.")
        return row

    def case_counts(self, case_id: str) -> dict[str, int]:
        """Documents of a case by status."""
        rows = self.db.query(
            "SELECT status, COUNT(*) FROM documents WHERE case_id = ? GROUP BY status", (case_id,)
        )
        return {r[0]: r[1] for r in rows}

    # documents
    def document(self, document_id: str) -> sqlite3.Row:
        """A document row, or 404."""
        row = self.db.query_one(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE id = ?", (document_id,))
        if row is None:
            raise NotFound("document_not_found", f"No document with id {document_id!r}.")
        return row

    def documents(self, case_id: str, status: str | None = None) -> list[sqlite3.Row]:
        """A case's documents, oldest first (only those with ``status`` when given)."""
        if status is not None:
            return self.db.query(f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE case_id = ? AND status = ?"
                                 " ORDER BY created_at, rowid", (case_id, status))
        return self.db.query(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE case_id = ? ORDER BY created_at, rowid",
            (case_id,),
        )

    def batch_documents(self, batch_id: str) -> list[sqlite3.Row]:
        """A batch's documents, in upload order."""
        return self.db.query(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE batch_id = ? ORDER BY created_at, rowid",
            (batch_id,),
        )

    def scheduling_key(self, document_id: str) -> str:
        """The lane a document waits in for a worker: its case owner, or its case when the case has none."""
        row = self.db.query_one(
            "SELECT c.owner_id, c.id FROM documents d JOIN cases c ON c.id = d.case_id WHERE d.id = ?",
            (document_id,),
        )
        if row is None:
            return ""
        return f"user:{row[0]}" if row[0] else f"case:{row[1]}"

    def ids_with_status(self, status: str) -> list[str]:
        """Document ids with a status, oldest first (requeue on start)."""
        rows = self.db.query("SELECT id FROM documents WHERE status = ? ORDER BY created_at, rowid", (status,))
        return [r[0] for r in rows]

    # batches
    def batch(self, batch_id: str) -> sqlite3.Row:
        """A batch row, or 404."""
        row = self.db.query_one("SELECT * FROM batches WHERE id = ?", (batch_id,))
        if row is None:
            raise NotFound("batch_not_found", f"No batch with id {batch_id!r}.")
        return row
