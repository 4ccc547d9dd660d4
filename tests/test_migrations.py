"""Numbered migrations: a database written before migrations existed opens, keeps its data and receives only later
migrations; migrations run in order, each atomically (a failure or a crash leaves the previous version); a
database newer than the code is refused with a message that says what to do."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from lexintel.store.db import Database
from lexintel.store.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    MigrationFailed,
    SchemaTooNew,
    migrate,
    schema_version,
    v001_baseline,
)
from lexintel.store.migrations.runner import statements
from tests.fixtures.v1_database import PASSWORD, SCHEMA_V1, V1Data, build_v1_data_dir, normalized_schema, table_rows
from tests.helpers import ServerProcess, free_port
from tests.support import read_stream, wait_for

LOGGER = "lexintel.store.migrations"
BASELINE = MIGRATIONS[:1]  # the runner's tests add their own migration 2, 3…: independent of the real later ones
FTS_HITS = ("SELECT c.document_id, c.page FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "WHERE chunks_fts MATCH ? ORDER BY c.page")


@pytest.fixture
def v1(tmp_path: Path) -> V1Data:
    return build_v1_data_dir(tmp_path / "v1")


def connect(path: Path) -> sqlite3.Connection:
    """A connection opened the way store/db.py opens its writer (autocommit, foreign keys on)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def snapshot(path: Path) -> tuple[int, list[tuple[str, str, str, str]], dict[str, list[tuple[object, ...]]]]:
    """Version, schema and every row: what must not change when a migration fails."""
    conn = connect(path)
    try:
        return schema_version(conn), normalized_schema(conn), table_rows(conn)
    finally:
        conn.close()


def upgrades(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and "upgraded" in r.getMessage()]


# --- the baseline -----------------------------------------------------------------------------------------------

def test_migration_1_is_the_pre_migration_schema_verbatim() -> None:
    assert MIGRATIONS[0].version == 1
    assert MIGRATIONS[0].step == v001_baseline.SQL == SCHEMA_V1.read_text()  # shipped: never edited


def test_a_fresh_file_gets_every_migration_and_logs_each(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    db = Database(tmp_path / "fresh.db")
    try:
        assert schema_version(db.conn) == LATEST_VERSION
        assert {"cases", "documents", "chunks", "chunks_fts", "events", "users"} <= {
            row["name"] for row in db.query("SELECT name FROM sqlite_master")}
    finally:
        db.close()
    assert upgrades(caplog) == [f"database upgraded from version {m.version - 1} to {m.version} ({m.name})"
                                for m in MIGRATIONS]
    caplog.clear()
    Database(tmp_path / "fresh.db").close()  # up to date: nothing applied, nothing logged
    assert upgrades(caplog) == []


def test_a_v1_database_opens_keeps_every_row_and_its_search(v1: V1Data, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    db = Database(v1.db_path)
    try:
        assert schema_version(db.conn) == LATEST_VERSION
        now = table_rows(db.conn)
        assert now == v1.rows  # table_rows reads the v1 columns: what v1 wrote is kept as it was
        # later migrations add columns with neutral values (ocr: pages.needs_ocr/ocr_confidence, documents.parent_id)
        assert {tuple(r) for r in db.conn.execute("SELECT needs_ocr, ocr_confidence FROM pages")} == {(0, None)}
        assert {tuple(r) for r in db.conn.execute("SELECT parent_id FROM documents")} == {(None,)}
        assert all(v1.rows[table] for table in v1.rows)  # the fixture really has rows in every table
        # FTS over the old chunks: diacritics folded as before ("zurich" finds "Zürich"), both pages indexed
        assert [tuple(r) for r in db.query(FTS_HITS, ("zurich",))] == [(v1.indexed_id, 1)]
        assert [tuple(r) for r in db.query(FTS_HITS, ("indemnify",))] == [(v1.indexed_id, 2)]
        # ... and the triggers still keep the index in step with new and deleted chunks
        with db.transaction() as conn:
            conn.execute("INSERT INTO chunks (document_id, case_id, seq, page, text) VALUES (?, ?, 2, 2, ?)",
                         (v1.indexed_id, v1.case_id, "a late arbitration clause"))
        assert [tuple(r) for r in db.query(FTS_HITS, ("arbitration",))] == [(v1.indexed_id, 1), (v1.indexed_id, 2)]
        with db.transaction() as conn:
            conn.execute("DELETE FROM documents WHERE id = ?", (v1.indexed_id,))  # cascades to chunks
        assert db.query(FTS_HITS, ("arbitration",)) == []
        upgraded = normalized_schema(db.conn)
    finally:
        db.close()
    fresh = Database(tmp_path / "fresh.db")
    try:
        assert upgraded == normalized_schema(fresh.conn)
    finally:
        fresh.close()
    assert [m for m in upgrades(caplog) if "from version 0" in m] == [
        "database upgraded from version 0 to 1 (baseline schema)"]  # the fresh file only: v1 skipped the baseline


def test_a_v1_database_receives_only_the_later_migrations(v1: V1Data, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    ran: list[int] = []

    def baseline(conn: sqlite3.Connection) -> None:
        ran.append(1)
        MIGRATIONS[0].apply(conn)

    def backfill(conn: sqlite3.Connection) -> None:  # a Python step reading what migration 2 made
        ran.append(3)
        conn.execute("INSERT INTO notes (document_id, note) SELECT id, 'was ' || status FROM documents")

    migrations = [Migration(1, "baseline", baseline),
                  Migration(2, "notes table", "CREATE TABLE notes (document_id TEXT NOT NULL REFERENCES "
                            "documents(id) ON DELETE CASCADE, note TEXT NOT NULL);"),
                  Migration(3, "backfill notes", backfill)]
    conn = connect(v1.db_path)
    try:
        assert migrate(conn, migrations) == 3
        assert ran == [3]
        assert sorted(conn.execute("SELECT note FROM notes").fetchall()) == [("was failed",), ("was indexed",)]
        assert table_rows(conn) == v1.rows
    finally:
        conn.close()
    assert upgrades(caplog) == ["database upgraded from version 1 to 2 (notes table)",
                                "database upgraded from version 2 to 3 (backfill notes)"]


# --- order and atomicity ----------------------------------------------------------------------------------------

def test_migrations_run_in_order_on_a_fresh_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    order: list[tuple[int, int]] = []

    def record(version: int) -> Migration:
        def step(conn: sqlite3.Connection) -> None:
            order.append((version, schema_version(conn)))  # sees the previous migration's version bump
            conn.execute("INSERT INTO steps VALUES (?)", (version,))
        return Migration(version, f"step {version}", step)

    migrations = [*BASELINE, Migration(2, "steps table", "CREATE TABLE steps (version INTEGER);"),
                  record(3), record(4)]
    conn = connect(tmp_path / "fresh.db")
    try:
        assert migrate(conn, migrations) == 4
        assert order == [(3, 2), (4, 3)]
        assert conn.execute("SELECT version FROM steps ORDER BY rowid").fetchall() == [(3,), (4,)]
    finally:
        conn.close()
    assert [m.split(" (")[0] for m in upgrades(caplog)] == [
        f"database upgraded from version {n} to {n + 1}" for n in range(4)]


@pytest.mark.parametrize("gaps", [[2], [1, 3], [1, 1], [2, 1]])
def test_a_misnumbered_list_is_rejected_before_anything_runs(tmp_path: Path, gaps: list[int]) -> None:
    conn = connect(tmp_path / "x.db")
    try:
        with pytest.raises(ValueError, match="numbered 1, 2, 3"):
            migrate(conn, [Migration(n, f"m{n}", "CREATE TABLE t{n} (x);") for n in gaps])
        assert schema_version(conn) == 0
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        conn.close()


def test_an_sql_migration_failing_halfway_leaves_the_previous_version(v1: V1Data) -> None:
    before = snapshot(v1.db_path)
    broken = Migration(2, "half broken", """
        CREATE TABLE embeddings (chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, v BLOB);
        INSERT INTO embeddings (chunk_id) SELECT id FROM chunks;
        UPDATE documents SET message = 'rewritten';
        INSERT INTO no_such_table VALUES (1);
    """)
    conn = connect(v1.db_path)
    try:
        with pytest.raises(MigrationFailed, match=r"from version 1 to 2 \(half broken\) failed: no such table: "
                                                  r"no_such_table\. Nothing was changed: .* still at version 1"):
            migrate(conn, [*BASELINE, broken])
        assert not conn.in_transaction
    finally:
        conn.close()
    assert snapshot(v1.db_path) == before
    fixed = Migration(2, "fixed", "CREATE TABLE embeddings (chunk_id INTEGER PRIMARY KEY, v BLOB);")
    conn = connect(v1.db_path)
    try:
        assert migrate(conn, [*BASELINE, fixed]) == 2  # the next start tries again
    finally:
        conn.close()


def test_a_python_migration_failing_halfway_rolls_back_fts_tables_triggers_and_rows(v1: V1Data) -> None:
    before = snapshot(v1.db_path)

    def reindex(conn: sqlite3.Connection) -> None:
        conn.execute("DROP TRIGGER chunks_ai")
        conn.execute("DROP TABLE chunks_fts")
        conn.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id', "
                     "tokenize='porter unicode61')")
        conn.execute("CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN "
                     "INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text); END")
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
        conn.execute("ALTER TABLE documents ADD COLUMN language TEXT")
        conn.execute("DELETE FROM events")
        raise RuntimeError("embedding model not found")

    good = Migration(2, "good", "CREATE TABLE kept (x INTEGER);")
    conn = connect(v1.db_path)
    try:
        with pytest.raises(MigrationFailed, match=r"from version 2 to 3 \(reindex\) failed: embedding model not"):
            migrate(conn, [*BASELINE, good, Migration(3, "reindex", reindex)])
        assert schema_version(conn) == 2  # migration 2 committed on its own; 3 left nothing behind
    finally:
        conn.close()
    version, schema, rows = snapshot(v1.db_path)
    assert (version, [s for s in schema if s[1] != "kept"], rows) == (2, before[1], before[2])
    conn = connect(v1.db_path)  # the v1 index and its old tokenizer are intact
    try:
        assert conn.execute(FTS_HITS, ("zurich",)).fetchall() == [(v1.indexed_id, 1)]
    finally:
        conn.close()


def test_a_full_database_mid_migration_leaves_the_previous_version(v1: V1Data) -> None:
    before = snapshot(v1.db_path)
    fill = Migration(2, "big table", "CREATE TABLE big (b BLOB); "
                     "INSERT INTO big SELECT randomblob(100000) FROM chunks, chunks, chunks, chunks;")
    conn = connect(v1.db_path)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 20}")  # SQLite's own limit: SQLITE_FULL past it
        with pytest.raises(MigrationFailed, match=r"database or disk is full\. Nothing was changed"):
            migrate(conn, [*BASELINE, fill])
        assert not conn.in_transaction
    finally:
        conn.close()
    assert snapshot(v1.db_path) == before


CRASH = """
import os, sqlite3, sys
from lexintel.store.migrations import MIGRATIONS, Migration, migrate
BASELINE = MIGRATIONS[:1]  # the baseline only: this crash is migration 2

def crash(conn):
    conn.execute("CREATE TABLE half (x)")
    conn.execute("UPDATE documents SET status = 'pending'")
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")
    os._exit(17)  # the process dies mid-migration: no rollback, no close

conn = sqlite3.connect(sys.argv[1], isolation_level=None)
migrate(conn, [*BASELINE, Migration(2, "crash", crash)])
"""


def test_a_crash_mid_migration_leaves_the_previous_version(v1: V1Data) -> None:
    before = snapshot(v1.db_path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", CRASH, str(v1.db_path)], env=env, capture_output=True, timeout=60)
    assert done.returncode == 17, done.stderr.decode()
    assert snapshot(v1.db_path) == before
    db = Database(v1.db_path)
    try:
        assert [tuple(r) for r in db.query(FTS_HITS, ("indemnify",))] == [(v1.indexed_id, 2)]
    finally:
        db.close()


def test_a_step_that_commits_by_itself_is_reported_as_such(tmp_path: Path) -> None:
    def sloppy(conn: sqlite3.Connection) -> None:
        conn.executescript("CREATE TABLE sloppy (x);")  # executescript commits the open transaction

    conn = connect(tmp_path / "x.db")
    try:
        with pytest.raises(MigrationFailed, match="Part of it may be committed although the database still says "
                                                  "version 1: restore a backup"):
            migrate(conn, [*BASELINE, Migration(2, "sloppy", sloppy)])
        assert schema_version(conn) == 1
    finally:
        conn.close()


def test_scripts_split_into_whole_statements_including_trigger_bodies() -> None:
    found = statements(v001_baseline.SQL)
    triggers = [s for s in found if s.startswith("CREATE TRIGGER")]
    assert len(triggers) == 2
    assert all(t.endswith("END;") for t in triggers)
    assert all(sqlite3.complete_statement(s) for s in found)
    assert len(found) == v001_baseline.SQL.count("CREATE ")
    assert statements("SELECT 'a;b'; -- trailing; comment\n") == ["SELECT 'a;b';"]
    with pytest.raises(ValueError, match="ends inside a statement"):
        statements("CREATE TABLE a (x); CREATE TABLE b (y)")


# --- a newer database -------------------------------------------------------------------------------------------

def test_a_database_newer_than_the_code_is_refused_and_left_alone(v1: V1Data) -> None:
    newer = LATEST_VERSION + 1
    conn = connect(v1.db_path)
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    before = snapshot(v1.db_path)
    with pytest.raises(SchemaTooNew) as refused:
        Database(v1.db_path)
    message = str(refused.value)
    assert f"schema version {newer}" in message
    assert f"knows versions up to {LATEST_VERSION}" in message
    assert str(v1.db_path) in message
    assert "Run that newer version" in message
    assert (refused.value.found, refused.value.supported) == (newer, LATEST_VERSION)
    assert snapshot(v1.db_path) == before


def test_the_server_refuses_to_start_on_a_newer_database(v1: V1Data) -> None:
    conn = connect(v1.db_path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    env = {**os.environ, "LEXINTEL_DATA_DIR": str(v1.data_dir), "LEXINTEL_HOST": "127.0.0.1",
           "LEXINTEL_PORT": str(free_port()), "LEXINTEL_AUTH": "off"}
    done = subprocess.run([sys.executable, "-m", "lexintel", "serve"], env=env, capture_output=True, timeout=60)
    log = done.stderr.decode(errors="replace")
    assert done.returncode != 0, log
    assert (f"has schema version {LATEST_VERSION + 5}, but this LexIntel knows versions up to {LATEST_VERSION}"
            in log)
    assert "Application startup failed" in log


# --- a real server on an old data directory ---------------------------------------------------------------------

def test_a_server_on_a_v1_data_dir_lists_and_searches_its_documents(v1: V1Data) -> None:
    server = ServerProcess(v1.data_dir, env={"LEXINTEL_AUTH": "on", "LEXINTEL_EXTRACTION_WORKERS": "1",
                                             "LEXINTEL_SHUTDOWN_GRACE": "0"})
    try:
        server.start()
        bearer = {"Authorization": f"Bearer {v1.admin_token}"}  # a token issued before the upgrade
        with httpx.Client(base_url=server.url, headers=bearer, timeout=30) as http:
            docs = http.get(f"/cases/{v1.case_id}/documents")
            assert docs.status_code == 200, docs.text
            by_id = {d["id"]: d for d in docs.json()}
            assert set(by_id) == {v1.indexed_id, v1.failed_id}
            assert (by_id[v1.indexed_id]["status"], by_id[v1.indexed_id]["chunks"]) == ("indexed", 2)
            assert by_id[v1.failed_id]["error_code"] == "corrupt_pdf"
            hits = http.get("/search", params={"q": "zurich arbitration", "case_id": v1.case_id}).json()["hits"]
            assert [(h["document_id"], h["page"]) for h in hits] == [(v1.indexed_id, 1)]
            assert "<mark>Zürich</mark>" in hits[0]["snippet_html"]
            text = http.get(f"/documents/{v1.indexed_id}/text").json()
            assert "indemnify the customer" in str(text)
            status = http.get(f"/documents/{v1.indexed_id}/status").json()
            # embed: the upgrade embeds the old document for semantic search, as a new run of its stream
            assert status["status"] == "indexed" and status["last_event_id"] >= 3
            wait_for(lambda: http.get(f"/documents/{v1.indexed_id}/status").json()["last_event_id"] == 6,
                     timeout=60, what="the old document embedded (begin, 2 passages, complete)")
            events = [e.data for e in read_stream(f"{server.url}/progress/documents/{v1.indexed_id}/stream"
                                                  "?events=named", headers=bearer) if isinstance(e.data, dict)]
            assert [(e["stage"], e["items_done"], e["items_total"]) for e in events] == [
                ("embedding", 0, 2), ("embedding", 2, 2), ("completed", 2, 2)]
            assert http.get(f"/documents/{v1.indexed_id}/status").json()["status"] == "indexed"
        with httpx.Client(base_url=server.url, timeout=30) as member:  # a password set before the upgrade
            login = member.post("/auth/login", json={"username": "bob", "password": PASSWORD})
            assert login.status_code == 200, login.text
            shared = member.get(f"/cases/{v1.case_id}/documents")
            assert shared.status_code == 200, shared.text
            assert {d["id"] for d in shared.json()} == {v1.indexed_id, v1.failed_id}
    finally:
        server.stop()
    applied = [line for line in server.log().splitlines() if "database upgraded" in line]
    expected = [f"database upgraded from version {m.version - 1} to {m.version}" for m in MIGRATIONS[1:]]
    assert len(applied) == len(expected) and all(e in line for e, line in zip(expected, applied, strict=True))
    conn = connect(v1.db_path)
    try:
        assert schema_version(conn) == LATEST_VERSION
        assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (2,)
    finally:
        conn.close()
