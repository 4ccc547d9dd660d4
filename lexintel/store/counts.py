"""Aggregate counts for monitoring: cheap, indexed reads on the writer connection, run at each /metrics scrape."""

from __future__ import annotations

from lexintel.store.db import Database

__all__ = ["documents_by_status"]


def documents_by_status(db: Database) -> dict[str, int]:
    """How many documents each status has; statuses without documents are absent."""
    rows = db.query("SELECT status, COUNT(*) AS n FROM documents GROUP BY status")
    return {str(row["status"]): int(row["n"]) for row in rows}
