"""Migration 1, the baseline: the schema of LexIntel before migrations existed, verbatim.

Databases written by that version carry ``user_version = 1`` and every object below, so they start at version
1 and receive only later migrations. ``IF NOT EXISTS`` is kept (it is part of the verbatim text) and is what
lets a file that crashed between creating the tables and recording version 1 finish the job. Shipped: never
edit this text (``tests/fixtures/schema_v1.sql`` holds a copy and a test compares them); change the schema in a
new migration.
"""

from __future__ import annotations

SQL = """
CREATE TABLE IF NOT EXISTS cases (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    owner_id    TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS batches (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    stage        TEXT NOT NULL,
    progress     REAL NOT NULL DEFAULT 0,
    items_total  INTEGER NOT NULL DEFAULT 0,
    bytes_total  INTEGER NOT NULL DEFAULT 0,
    message      TEXT NOT NULL DEFAULT '',
    error_code   TEXT,
    error_message TEXT,
    created_at   TEXT NOT NULL,
    finished_at  TEXT
);

CREATE TABLE IF NOT EXISTS documents (
    id            TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    batch_id      TEXT REFERENCES batches(id) ON DELETE SET NULL,
    filename      TEXT NOT NULL,
    kind          TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    storage_path  TEXT NOT NULL,
    status        TEXT NOT NULL,
    stage         TEXT NOT NULL,
    progress      REAL NOT NULL DEFAULT 0,
    pages_total   INTEGER,
    pages_done    INTEGER NOT NULL DEFAULT 0,
    chunks        INTEGER NOT NULL DEFAULT 0,
    message       TEXT NOT NULL DEFAULT '',
    error_code    TEXT,
    error_message TEXT,
    run           INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT
);
CREATE INDEX IF NOT EXISTS documents_case ON documents(case_id, created_at);
CREATE INDEX IF NOT EXISTS documents_batch ON documents(batch_id);
CREATE INDEX IF NOT EXISTS documents_status ON documents(status);

CREATE TABLE IF NOT EXISTS pages (
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    page        INTEGER NOT NULL,
    text        TEXT NOT NULL,
    PRIMARY KEY (document_id, page)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS chunks (
    id          INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    case_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    page        INTEGER NOT NULL,
    text        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id, seq);
CREATE INDEX IF NOT EXISTS chunks_case ON chunks(case_id);

-- Full-text index over chunks (external content: the text is stored once, in chunks).
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    text, content='chunks', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;

-- Batches (issue 4): where a batch came from, its log of skipped entries and refusals, and chunked uploads.
CREATE TABLE IF NOT EXISTS batch_sources (
    batch_id   TEXT PRIMARY KEY REFERENCES batches(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,              -- 'files' | 'zip' | 'chunked'
    filename   TEXT NOT NULL DEFAULT '',
    skipped    INTEGER NOT NULL DEFAULT 0,
    ready      INTEGER NOT NULL DEFAULT 0  -- 1 once every document of the batch exists
);
CREATE TABLE IF NOT EXISTS batch_log (
    seq        INTEGER PRIMARY KEY,
    batch_id   TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    level      TEXT NOT NULL,              -- 'skipped' | 'refused' | 'info'
    code       TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    message    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_log_batch ON batch_log(batch_id, seq);
CREATE TABLE IF NOT EXISTS upload_sessions (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    batch_id    TEXT NOT NULL,
    filename    TEXT NOT NULL,
    total_size  INTEGER NOT NULL,
    chunk_size  INTEGER NOT NULL,
    sha256      TEXT,
    status      TEXT NOT NULL,              -- 'open' | 'assembling' | 'completed' | 'expired' | 'cancelled'
    result      TEXT,                       -- the finish response, so a repeated finish gets the same answer
    created_at  TEXT NOT NULL,
    expires_at  REAL NOT NULL               -- unix time; pushed forward by every chunk
);
CREATE INDEX IF NOT EXISTS upload_sessions_status ON upload_sessions(status, expires_at);

-- The durable per-stream event log. One row per (stream, id); `stream` is 'document:<id>', 'batch:<id>'
-- or 'case:<id>'. `run` is the document's attempt number (0 for batch and case streams).
CREATE TABLE IF NOT EXISTS events (
    stream   TEXT NOT NULL,
    id       INTEGER NOT NULL,
    run      INTEGER NOT NULL,
    name     TEXT NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (stream, id)
) WITHOUT ROWID;

-- Accounts and access (issue 6): users, hashed API tokens, server-side login sessions, case shares.
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    token_hash   TEXT NOT NULL UNIQUE,     -- sha256 of the secret; the secret itself is shown once
    created_at   TEXT NOT NULL,
    expires_at   REAL NOT NULL,            -- unix time
    last_used_at REAL
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens(user_id);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,           -- sha256 of the cookie value
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions(expires_at);
CREATE TABLE IF NOT EXISTS case_shares (
    case_id    TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (case_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS case_shares_user ON case_shares(user_id);
CREATE INDEX IF NOT EXISTS cases_owner ON cases(owner_id);
"""
