"""A full disk while indexing ends a document as ``disk_full``, not ``internal_error`` (issue 13 item 11).

SQLite rolls the transaction back by itself when the database cannot grow; the old ``ROLLBACK`` then failed
with "cannot rollback - no transaction is active", which replaced "database or disk is full" and so hid the
cause from the pipeline's classifier (``is_disk_full``). The limit is real: SQLite's ``max_page_count`` on a
real database file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from lexintel.errors import is_disk_full
from lexintel.store.db import Database


def test_a_transaction_that_fills_the_database_raises_the_full_error(tmp_path: Path) -> None:
    db = Database(tmp_path / "full.db")
    db.conn.execute("CREATE TABLE blobs (b BLOB)")
    pages = db.conn.execute("PRAGMA page_count").fetchone()[0]
    db.conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    def fill() -> None:
        with db.transaction() as conn:
            for _ in range(50):
                conn.execute("INSERT INTO blobs VALUES (?)", (os.urandom(20_000),))

    with pytest.raises(sqlite3.OperationalError) as caught:
        fill()
    assert "database or disk is full" in str(caught.value)
    assert is_disk_full(caught.value)
    assert not db.conn.in_transaction
    with db.transaction() as conn:  # the connection is usable again
        conn.execute("INSERT INTO blobs VALUES (x'00')")
    assert db.query_one("SELECT count(*) AS n FROM blobs")["n"] == 1  # type: ignore[index]
    db.close()
