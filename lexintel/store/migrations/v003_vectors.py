"""Migration 4 (issue 14, embeddings): passage vectors stored with the data, and which model made them.

``embedding_models`` records every model that has written vectors (its name and dimension), so a change of
model is seen at start and the passages are embedded again. ``chunk_vectors`` holds one float32 BLOB per
(passage, model), unit length, little-endian; ``seq`` only grows, so the in-memory matrix of a case can be
extended with the rows added since it was loaded. A deleted passage takes its vectors with it (foreign key),
and the trigger counts deletions per (case, model) in ``vector_changes`` so a cached matrix knows it must be
reloaded. ``document_embeddings`` is the embedding state of a document (``done`` or ``failed`` with the
reason a person reads), which the background retry and the start-up check read.
"""

from __future__ import annotations

SQL = """
CREATE TABLE IF NOT EXISTS embedding_models (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    dim        INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (name, dim)
);
CREATE TABLE IF NOT EXISTS chunk_vectors (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id    INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    model_id    INTEGER NOT NULL REFERENCES embedding_models(id),
    case_id     TEXT NOT NULL,
    document_id TEXT NOT NULL,
    vector      BLOB NOT NULL,
    UNIQUE (chunk_id, model_id)
);
CREATE INDEX IF NOT EXISTS chunk_vectors_case ON chunk_vectors(case_id, model_id, seq);
CREATE INDEX IF NOT EXISTS chunk_vectors_document ON chunk_vectors(document_id, model_id);
CREATE TABLE IF NOT EXISTS vector_changes (
    case_id  TEXT NOT NULL,
    model_id INTEGER NOT NULL,
    deletes  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (case_id, model_id)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS chunk_vectors_ad AFTER DELETE ON chunk_vectors BEGIN
    INSERT INTO vector_changes (case_id, model_id, deletes) VALUES (old.case_id, old.model_id, 1)
        ON CONFLICT (case_id, model_id) DO UPDATE SET deletes = deletes + 1;
END;
CREATE TABLE IF NOT EXISTS document_embeddings (
    document_id   TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    model_id      INTEGER REFERENCES embedding_models(id),
    status        TEXT NOT NULL,          -- 'done' | 'failed'
    passages      INTEGER NOT NULL DEFAULT 0,
    error_message TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS document_embeddings_status ON document_embeddings(status);
"""
