"""Migration 5 (keyword search, issue 14): a stemmed full-text index partitioned by case, a document-name index,
and each passage's character range in its page.

Why these shapes:

* ``search_stem`` is a *contentless* FTS5 table (the text lives once, in ``chunks``) with the Porter stemmer over
  ``unicode61`` (so "indemnities" finds "indemnity", and an exact form always finds itself: both sides are
  stemmed alike). Its rowid is ``(case number << 36) + chunk id``: every case's passages form one contiguous
  rowid range, so a search restricts FTS5 to ``rowid BETWEEN lo AND hi`` *before* anything is ranked. FTS5 seeks
  each term's doclist to the range, so another member's passages are neither matched nor scored (filter first,
  then rank). ``search_cases`` gives each case its number; rows are never deleted (a deleted case's number is
  simply unused), so a chunk's delete trigger always finds the number its insert used.
* ``chunks_fts`` (migration 1, unstemmed) stays: it keeps the exact vocabulary, which ``chunks_vocab`` exposes
  for prefix queries ("indemnit*" is expanded to the words that begin so, then searched stemmed).
* ``search_names`` holds each document's file name and its case's name, so a query naming the document it means
  ranks that document's passages first. Unstemmed: names are matched by prefix ("Excelerate" finds
  ``ExcelerateStandardNDAFormat.txt``), which also covers plurals. Triggers follow uploads, deletions and case
  renames.
* ``chunks.char_start``/``char_end``: the passage's half-open range in the page's stored text (passages are
  normalised, so their text is not a substring of the page). New passages get it from the chunker; existing
  ones are located here (NULL where a passage cannot be found, and the API then cites the whole page).

Re-indexing an existing database runs here, at start, in batches of :data:`BATCH` passages with a log line
(counts and rate) at most every 2 seconds and one at the end: the server is not serving yet, so the log is the
progress display (about 20,000 passages a second on the 2-core test machine).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time

from lexintel.store.migrations.runner import run_script

__all__ = ["BATCH", "SQL", "apply"]

log = logging.getLogger("lexintel.store.migrations")

BATCH = 5000

SQL = """
ALTER TABLE chunks ADD COLUMN char_start INTEGER;
ALTER TABLE chunks ADD COLUMN char_end INTEGER;

CREATE TABLE search_cases (
    n       INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE search_stem USING fts5(
    text, content='', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT OR IGNORE INTO search_cases (case_id) VALUES (new.case_id);
    INSERT INTO search_stem (rowid, text)
        VALUES (((SELECT n FROM search_cases WHERE case_id = new.case_id) << 36) + new.id, new.text);
END;
CREATE TRIGGER search_chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO search_stem (search_stem, rowid, text)
        VALUES ('delete', ((SELECT n FROM search_cases WHERE case_id = old.case_id) << 36) + old.id, old.text);
END;
CREATE TRIGGER search_chunks_au AFTER UPDATE OF text, case_id ON chunks BEGIN
    INSERT INTO search_stem (search_stem, rowid, text)
        VALUES ('delete', ((SELECT n FROM search_cases WHERE case_id = old.case_id) << 36) + old.id, old.text);
    INSERT OR IGNORE INTO search_cases (case_id) VALUES (new.case_id);
    INSERT INTO search_stem (rowid, text)
        VALUES (((SELECT n FROM search_cases WHERE case_id = new.case_id) << 36) + new.id, new.text);
END;
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');

CREATE VIRTUAL TABLE search_names USING fts5(
    name, case_name, document_id UNINDEXED, case_id UNINDEXED, tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER search_documents_ai AFTER INSERT ON documents BEGIN
    INSERT INTO search_names (name, case_name, document_id, case_id)
        VALUES (replace(new.filename, '%20', ' '), (SELECT name FROM cases WHERE id = new.case_id), new.id,
                new.case_id);
END;
CREATE TRIGGER search_documents_ad AFTER DELETE ON documents BEGIN
    DELETE FROM search_names WHERE document_id = old.id;
END;
CREATE TRIGGER search_documents_au AFTER UPDATE OF filename, case_id ON documents BEGIN
    UPDATE search_names SET name = replace(new.filename, '%20', ' '), case_id = new.case_id,
        case_name = (SELECT name FROM cases WHERE id = new.case_id) WHERE document_id = old.id;
END;
CREATE TRIGGER search_cases_au AFTER UPDATE OF name ON cases BEGIN
    UPDATE search_names SET case_name = new.name WHERE case_id = new.id;
END;
"""


class _Progress:
    """A log line with counts and rate at most every 2 s, and always at the end."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.started = self.last = time.monotonic()

    def add(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= 2.0 or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-6)
            log.info("search migration: %s %d/%d (%.0f/s)", self.what, self.done, self.total, rate)


def _backfill_index(conn: sqlite3.Connection) -> None:
    total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    conn.execute("INSERT OR IGNORE INTO search_cases (case_id) SELECT DISTINCT case_id FROM chunks ORDER BY case_id")
    progress = _Progress("re-indexed passages", total)
    last = -1
    while True:
        ids = [row[0] for row in conn.execute("SELECT id FROM chunks WHERE id > ? ORDER BY id LIMIT ?",
                                              (last, BATCH))]
        if not ids:
            break
        conn.execute(
            "INSERT INTO search_stem (rowid, text) SELECT (s.n << 36) + c.id, c.text FROM chunks c"
            " JOIN search_cases s ON s.case_id = c.case_id WHERE c.id BETWEEN ? AND ?", (ids[0], ids[-1]))
        last = ids[-1]
        progress.add(len(ids))
    if total == 0:
        progress.add(0)


def _words_pattern(words: list[str]) -> re.Pattern[str]:
    return re.compile(r"\s+".join(map(re.escape, words)))


def _locate(page: str, passage: str, start: int) -> tuple[int, int] | None:
    """Where the normalised ``passage`` is in the page's stored text, from ``start`` on. The chunker only
    collapsed whitespace, so the passage's words separated by any whitespace find it: its first words find
    where it begins, its last words (searched past where they can first be) where it ends, and the whole is
    checked (one long pattern searched across a page is orders of magnitude slower)."""
    words = passage.split()
    if not words:
        return None
    head = _words_pattern(words[:8]).search(page, start)
    while head is not None:
        tail_words = words[-8:]
        tail_from = head.start() + len(passage) - len(" ".join(tail_words))
        tail = _words_pattern(tail_words).search(page, max(head.start(), tail_from))
        if tail is None:
            return None
        if page[head.start():tail.end()].split() == words:
            return head.start(), tail.end()
        head = _words_pattern(words[:8]).search(page, head.start() + 1)
    return None


def _backfill_offsets(conn: sqlite3.Connection) -> None:
    docs = [row[0] for row in conn.execute("SELECT DISTINCT document_id FROM chunks ORDER BY document_id")]
    progress = _Progress("located passages in their pages, documents", len(docs))
    for document_id in docs:
        pages = dict(conn.execute("SELECT page, text FROM pages WHERE document_id = ?", (document_id,)).fetchall())
        cursor: dict[int, int] = {}
        spans: list[tuple[int, int, int]] = []
        for chunk_id, page, text in conn.execute(
                "SELECT id, page, text FROM chunks WHERE document_id = ? ORDER BY seq", (document_id,)).fetchall():
            where = _locate(pages.get(page, ""), text, cursor.get(page, 0))
            if where is not None:
                cursor[page] = where[0] + 1
                spans.append((where[0], where[1], chunk_id))
        conn.executemany("UPDATE chunks SET char_start = ?, char_end = ? WHERE id = ?", spans)
        progress.add(1)


def apply(conn: sqlite3.Connection) -> None:
    """Create the search tables and fill them from the passages already indexed (inside the runner's
    transaction: a crash leaves the database at version 2 and the next start does it again)."""
    run_script(conn, SQL)
    _backfill_index(conn)
    conn.execute("INSERT INTO search_names (name, case_name, document_id, case_id)"
                 " SELECT replace(d.filename, '%20', ' '), c.name, d.id, d.case_id FROM documents d"
                 " JOIN cases c ON c.id = d.case_id")
    _backfill_offsets(conn)
