"""Apply numbered migrations in order, each in its own transaction together with its ``user_version`` bump.

``PRAGMA user_version`` (a number in the database file's header) is the version of the last migration applied:
0 for a new file, 1 for a database written before migrations existed (migration 1 is that schema, verbatim).
Opening a database runs the missing migrations one after another. Each runs between ``BEGIN IMMEDIATE`` and
``COMMIT`` with the version bump as its last statement, so a crash, a full disk or a failing statement leaves
the database exactly at the previous version and the next start tries again. This holds because SQLite's DDL is
transactional (tables, indexes, FTS5 virtual tables and triggers roll back like rows) and so is the header.

Why scripts are run statement by statement instead of with ``executescript``: Python's ``executescript``
commits any open transaction before it starts, which would make every migration non-atomic.

Not possible inside a migration's transaction, by SQLite's design: ``VACUUM`` and ``PRAGMA foreign_keys`` (a
no-op there). Adding tables, columns, indexes or triggers and re-filling an index need neither. Rebuilding a table
that others reference (SQLite's "other kinds of table schema changes" recipe) needs foreign keys off, because
``DROP TABLE`` would otherwise cascade: give :class:`Migration` a flag for it when the first such migration comes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Migration", "MigrationFailed", "MigrationStep", "SchemaTooNew", "migrate", "run_script",
           "schema_version", "statements"]

log = logging.getLogger("lexintel.store.migrations")

MigrationStep = Callable[[sqlite3.Connection], None]
"""A migration written in Python: it gets the connection inside the open transaction and must not end it."""


@dataclass(frozen=True)
class Migration:
    """One schema step: ``version`` is its place in the sequence (1, 2, 3, … with no gaps)."""

    version: int
    name: str
    step: str | MigrationStep  # an SQL script, or a function of the connection

    def apply(self, conn: sqlite3.Connection) -> None:
        """Run the step on ``conn``, whose transaction the runner opened and will commit."""
        if isinstance(self.step, str):
            run_script(conn, self.step)
        else:
            self.step(conn)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer LexIntel: opening it here could corrupt what that version wrote."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"the database {path} has schema version {found}, but this LexIntel knows versions up to {supported}: "
            f"it was upgraded by a newer LexIntel. Run that newer version on this data directory (or restore a "
            f"backup taken before the upgrade); this version will not open it."
        )
        self.path, self.found, self.supported = path, found, supported


class MigrationFailed(RuntimeError):
    """A migration raised; its transaction was rolled back and the database is still at the previous version."""

    def __init__(self, path: str, migration: Migration, cause: BaseException) -> None:
        previous = migration.version - 1
        if isinstance(cause, _EndedTransaction):
            outcome = (f"Part of it may be committed although the database still says version {previous}: restore "
                       "a backup and fix the migration (conn.execute() or run_script(), never executescript() or "
                       "commit()).")
        else:
            outcome = f"Nothing was changed: the database is still at version {previous}."
        super().__init__(f"upgrading the database {path} from version {previous} to {migration.version} "
                         f"({migration.name}) failed: {cause}. {outcome}")
        self.path, self.migration = path, migration


class _EndedTransaction(RuntimeError):
    """A Python step committed or rolled back on its own, so the runner cannot make it atomic."""


def statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (a trigger's ``BEGIN … END;`` body stays whole)."""
    found: list[str] = []
    start = 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            found.append(script[start : end + 1].strip())
            start = end + 1
    tail = [line for line in script[start:].splitlines() if line.strip() and not line.strip().startswith("--")]
    if tail:
        raise ValueError(f"SQL script ends inside a statement (missing ';'?): {' '.join(tail)[:120]!r}")
    return found


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run every statement of ``script`` inside the current transaction (unlike ``executescript``)."""
    for statement in statements(script):
        conn.execute(statement)


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's ``user_version``: the last migration applied."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def _database_file(conn: sqlite3.Connection) -> str:
    for row in conn.execute("PRAGMA database_list").fetchall():
        if row[1] == "main":
            return str(row[2]) or ":memory:"
    return "?"


def _check_sequence(migrations: Sequence[Migration]) -> None:
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3, … in order, got {numbers}")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> int:
    """Bring the database on ``conn`` (autocommit mode) up to the last of ``migrations``; return its version.

    Raises :class:`SchemaTooNew` for a database newer than the list and :class:`MigrationFailed` (after rolling
    back) when a step raises. The version is re-read under the write lock before each step, so a second process
    opening the same file at the same time skips what the first one applied.
    """
    _check_sequence(migrations)
    latest = len(migrations)
    if conn.in_transaction:
        raise RuntimeError("migrate() needs a connection with no open transaction")
    while True:
        conn.execute("BEGIN IMMEDIATE")
        migration: Migration | None = None
        try:
            version = schema_version(conn)
            if version > latest:
                raise SchemaTooNew(_database_file(conn), version, latest)
            if version == latest:
                conn.execute("ROLLBACK")  # nothing written: just end the read
                return version
            migration = migrations[version]
            migration.apply(conn)
            if not conn.in_transaction:
                raise _EndedTransaction("the step ended the transaction itself")
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")  # inside the try: a commit that fails (disk full) is rolled back and reported
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if migration is not None and isinstance(exc, Exception):
                raise MigrationFailed(_database_file(conn), migration, exc) from exc
            raise
        log.info("database upgraded from version %d to %d (%s)", version, migration.version, migration.name)
