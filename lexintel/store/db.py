"""SQLite in WAL mode: one writer connection owned by the event loop, short-lived readers in threads.

Why writes run synchronously on the loop: every write LexIntel makes is small and bounded (one event, one
page of text, a few hundred chunks), and a single writer connection never waits on SQLite's write lock. It
also lets the emitter append an event and hand it to the broadcaster in one step with no ``await`` between,
which is what makes replay-then-live gap-free. Reads that can be large (search, a document's text) run in a
worker thread on their own connection; WAL lets them proceed while the writer commits.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from lexintel.store.migrations import MIGRATIONS, migrate
from lexintel.store.private import FILE_MODE, private_dir, private_file

__all__ = ["Database"]

T = TypeVar("T")

log = logging.getLogger(__name__)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class Database:
    """The embedded database. ``write``/``query`` run on the caller's thread; ``read`` in a worker thread.

    Opening it brings the schema up to date (:mod:`lexintel.store.migrations`) or raises
    :class:`~lexintel.store.migrations.SchemaTooNew` for a file written by a newer LexIntel.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.parent.exists():
            private_dir(path.parent)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))  # SQLite would create it 0644; -wal/-shm
        private_file(path)  # copy the database file's mode, so 0600 here makes all three 0600
        self._conn = _connect(path)
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"SQLite refused WAL mode for {path} (got {mode})")
        for suffix in ("-wal", "-shm"):  # left by an older version with wider modes
            private_file(path.with_name(path.name + suffix))
        try:
            migrate(self._conn, MIGRATIONS)  # each missing migration in its own transaction; refuses a newer file
        except BaseException:
            self._conn.close()
            raise

    @property
    def conn(self) -> sqlite3.Connection:
        """The writer connection (event-loop thread only)."""
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the writer connection; commits on success, rolls back on error.

        SQLite rolls a transaction back by itself on some errors ("database or disk is full", I/O errors), and a
        failed ``COMMIT`` can leave it open; the rollback here runs only if one is still active, and never
        replaces the error that caused it, so callers can classify the real one (``disk_full``)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if not self._conn.in_transaction:
            return  # SQLite already rolled it back (SQLITE_FULL, SQLITE_IOERR, ...)
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            log.warning("rollback failed after an error; the original error is raised", exc_info=True)

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """A small, indexed read on the writer connection (sees its own latest writes)."""
        return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """Like :meth:`query`, first row or None."""
        row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
        return row

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run a potentially large read in a worker thread on a fresh reader connection."""

        def run() -> T:
            conn = _connect(self.path)
            try:
                return fn(conn)
            finally:
                conn.close()

        return await anyio.to_thread.run_sync(run)

    def writable(self) -> bool:
        """True if a write transaction can be opened now (readiness probe)."""
        try:
            with self.transaction() as conn:
                conn.execute("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        """Checkpoint and close the writer connection."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            self._conn.close()
