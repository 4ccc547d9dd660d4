"""The SQL of search (issue 14): the case-partitioned stemmed index, document names, passages, and a stemmer.

Everything here runs on a reader connection in a thread (:meth:`Database.read`); :mod:`lexintel.search` decides
what to ask. FTS5 expressions arrive already built from quoted terms only (:mod:`lexintel.search.query`), never
from raw user text.

Filter first: ``search_stem``'s rowid is ``(case number << 36) + chunk id`` (migration 5), so restricting a
query to one case is ``rowid BETWEEN lo AND hi`` and FTS5 seeks into that range of every doclist; passages of
cases outside the caller's scope are never matched, ranked nor counted.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lexintel.store.access import readable_condition

__all__ = ["CHUNK_BITS", "LONG_PAGE", "Chunk", "Scope", "chunk_ranges", "chunks", "count_matches", "document_spans",
           "estimate_matches", "matching", "matching_pages", "name_scores", "page_lengths", "ranked", "scope",
           "spread", "stem_each", "stems", "vocabulary", "word_counts"]

CHUNK_BITS = 36
LONG_PAGE = 4000
"""Passages ending past this many characters into their page are hits of their own (see
:mod:`lexintel.search.keyword`)."""
_CHUNK_MASK = (1 << CHUNK_BITS) - 1


@dataclass(frozen=True)
class Scope:
    """Where a search may look: rowid ranges of ``search_stem`` (one per readable case), or everything."""

    case_ids: tuple[str, ...] | None  # None: every case (an admin without case_id)
    ranges: tuple[tuple[int, int], ...]  # (lo, hi) per case that has passages
    passages: int  # how many passages are in scope
    bounds: tuple[tuple[int, int], ...] = ()
    """Per range, the first and last rowid holding a passage when last counted (possibly a little stale, so
    never used to restrict a query: only to estimate counts, see :func:`estimate_matches`)."""
    range_cases: tuple[str, ...] = ()
    """Per range, its case's id (what :func:`word_counts` keys its cache by)."""


@dataclass(frozen=True)
class Chunk:
    """A passage with what a hit shows."""

    id: int
    document_id: str
    filename: str
    case_id: str
    case_name: str
    page: int
    text: str
    char_start: int | None
    char_end: int | None


def scope(conn: sqlite3.Connection, reader_id: str | None, case_id: str | None) -> Scope:
    """The cases a search by ``reader_id`` (None: admin) covers, limited to ``case_id`` when given."""
    if case_id is None and reader_id is None:
        total = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return Scope(None, (), int(total))
    if case_id is not None:
        case_ids: list[str] = [case_id]
    else:
        condition, params = readable_condition("id", reader_id)
        case_ids = [r[0] for r in conn.execute(f"SELECT id FROM cases WHERE {condition} ORDER BY id", params)]
    ranges, numbers = [], []
    marks = ", ".join("?" for _ in case_ids)
    for n, cid in conn.execute(f"SELECT n, case_id FROM search_cases WHERE case_id IN ({marks}) ORDER BY n",
                               case_ids):
        lo = int(n) << CHUNK_BITS
        ranges.append((lo, lo + _CHUNK_MASK))
        numbers.append((lo, str(cid)))
    key = tuple(case_ids)
    cached = _sizes.get(key)
    if cached is not None and time.monotonic() - cached[0] < _SIZE_TTL and len(cached[2]) == len(ranges):
        total, bounds = cached[1], cached[2]
    else:
        total, found = 0, []
        for lo, cid in numbers:
            count, first, last = conn.execute("SELECT count(*), min(id), max(id) FROM chunks WHERE case_id = ?",
                                              (cid,)).fetchone()
            total += int(count)
            found.append((lo + int(first or 0), lo + int(last or 0)))
        bounds = tuple(found)
        if len(_sizes) > 10_000:
            _sizes.clear()
        _sizes[key] = (time.monotonic(), total, bounds)
    return Scope(key, tuple(ranges), total, bounds, tuple(cid for _, cid in numbers))


_sizes: dict[tuple[str, ...], tuple[float, int, tuple[tuple[int, int], ...]]] = {}
_SIZE_TTL = 30.0
"""Seconds a scope's passage count (and :attr:`Scope.bounds`) is reused: counting a large case's passages costs
more than a search, and the count only tunes ranking (which words are common), never which cases are searched.
Word counts (:func:`word_counts`) are kept as long."""


def _range_sql(where: Scope) -> list[tuple[str, tuple[int, ...]]]:
    """One SQL condition (with parameters) per range to query; a single unrestricted one for everything."""
    if where.case_ids is None:
        return [("", ())]
    return [(" AND rowid BETWEEN ? AND ?", (lo, hi)) for lo, hi in where.ranges]


def count_matches(conn: sqlite3.Connection, match: str, where: Scope, cap: int) -> int:
    """How many passages in scope match (stopping at ``cap``: used to tell rare words from common ones)."""
    found = 0
    for condition, params in _range_sql(where):
        row = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM search_stem WHERE search_stem MATCH ?{condition}"
                           " LIMIT ?)", (match, *params, cap - found)).fetchone()
        found += int(row[0])
        if found >= cap:
            break
    return found


def word_counts(conn: sqlite3.Connection, matches: Sequence[str], where: Scope, cap: int) -> list[int]:
    """For each expression, how many passages in scope match it, capped at ``cap`` (to tell rare words from
    common ones). Kept per case for :data:`_SIZE_TTL` seconds: the same words ("agreement", "party") come back
    search after search, and counting a common one reads thousands of index entries. A count is per case, so
    one member's searches never reuse counts of cases another may read and they may not."""
    now = time.monotonic()
    if len(_counts) > 50_000:
        _counts.clear()
    out = []
    cases: list[str | None] = list(where.range_cases) if where.case_ids is not None else [None]
    for match in matches:
        found = 0
        for (condition, params), case in zip(_range_sql(where), cases, strict=True):
            key = (case, match)
            cached = _counts.get(key) if case is not None else None
            if cached is not None and now - cached[0] < _SIZE_TTL and (cached[1] < cached[2] or cached[2] >= cap):
                found += min(cached[1], cap)
            else:
                row = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM search_stem WHERE search_stem MATCH ?"
                                   f"{condition} LIMIT ?)", (match, *params, cap)).fetchone()
                if case is not None:
                    _counts[key] = (now, int(row[0]), cap)
                found += int(row[0])
            if found >= cap:
                break
        out.append(min(found, cap))
    return out


_counts: dict[tuple[str | None, str], tuple[float, int, int]] = {}
"""``(case id, expression) -> (when, count, cap it was counted with)``; the unrestricted scope (an admin's
search of everything) is counted each time."""


def estimate_matches(conn: sqlite3.Connection, match: str, where: Scope, cap: int) -> tuple[int, bool]:
    """``(passages in scope matching, exact?)``: counted up to ``cap`` per case; past that, extrapolated from how
    far into the case's passages (by rowid, :attr:`Scope.bounds`) the ``cap``-th match lies. Counting every
    match of a common phrase costs more than the search itself; where this serves (a displayed total estimated
    anyway, how thinly to sample candidates) an estimate is enough. Exact for the unrestricted scope."""
    if where.case_ids is None or len(where.bounds) != len(where.ranges):
        return count_matches(conn, match, where, 1 << 62), True
    total, exact = 0, True
    for (lo, hi), (first, last) in zip(where.ranges, where.bounds, strict=True):
        count, reached = conn.execute(
            "SELECT count(*), max(rowid) FROM (SELECT rowid FROM search_stem WHERE search_stem MATCH ?"
            " AND rowid BETWEEN ? AND ? ORDER BY rowid LIMIT ?)", (match, lo, hi, cap)).fetchone()
        count = int(count)
        if count >= cap and reached is not None:
            covered = max(1, int(reached) - first + 1)
            count = round(count * max(covered, last - first + 1) / covered)
            exact = False
        total += count
    return total, exact


def ranked(conn: sqlite3.Connection, match: str, where: Scope, limit: int,
           rowids: tuple[int, int] | None = None) -> list[tuple[int, float]]:
    """``(chunk id, -bm25)`` of the ``limit`` best passages in scope (higher is better); ``rowids`` narrows
    to one rowid range inside the scope (a document's passages)."""
    found: list[tuple[int, float]] = []
    parts = [(" AND rowid BETWEEN ? AND ?", rowids)] if rowids is not None else _range_sql(where)
    for condition, params in parts:
        rows = conn.execute(f"SELECT rowid, bm25(search_stem) AS r FROM search_stem WHERE search_stem MATCH ?"
                            f"{condition} ORDER BY r LIMIT ?", (match, *params, limit)).fetchall()
        found.extend((int(r[0]) & _CHUNK_MASK, -float(r[1])) for r in rows)
    found.sort(key=lambda item: -item[1])
    return found[:limit]


def spread(conn: sqlite3.Connection, match: str, where: Scope, limit: int, windows: int = 20) -> list[int]:
    """About ``limit`` chunk ids matching ``match``, unranked, taken evenly from ``windows`` stretches of each
    case's passages (the first matches of each stretch, by rowid): candidates for an expression that matches
    too much to rank. FTS5's bm25 would cost ~3 microseconds a match, and first count each phrase's passages
    in the whole index (a common phrase: 25 ms); reading a few matches in a few rowid windows costs next to
    nothing. The last stretch runs to the end of the case's range (passages added since :attr:`Scope.bounds`
    was counted are in it)."""
    if where.case_ids is None or len(where.bounds) != len(where.ranges) or not where.ranges:
        return [cid for cid, _ in ranked(conn, match, where, limit)]
    per = max(1, math.ceil(limit / (windows * len(where.ranges))))
    out: list[int] = []
    for (lo, hi), (first, last) in zip(where.ranges, where.bounds, strict=True):
        first = max(lo, min(first, hi))
        step = max(1, (max(first, last) - first + 1) / windows)
        for j in range(windows):
            a = lo if j == 0 else first + int(j * step)
            b = hi if j == windows - 1 else first + int((j + 1) * step) - 1
            if b < a:
                continue
            out.extend(int(r[0]) & _CHUNK_MASK for r in conn.execute(
                "SELECT rowid FROM search_stem WHERE search_stem MATCH ? AND rowid BETWEEN ? AND ?"
                " ORDER BY rowid LIMIT ?", (match, a, b, per)))
    return out


def matching(conn: sqlite3.Connection, match: str, rowids: tuple[int, int], limit: int) -> list[int]:
    """The first ``limit`` chunk ids in one rowid range (a document's passages) that match, unranked."""
    rows = conn.execute("SELECT rowid FROM search_stem WHERE search_stem MATCH ? AND rowid BETWEEN ? AND ?"
                        " ORDER BY rowid LIMIT ?", (match, *rowids, limit))
    return [int(r[0]) & _CHUNK_MASK for r in rows]


def matching_pages(conn: sqlite3.Connection, match: str, where: Scope) -> int:
    """How many document pages hold a passage matching ``match`` (the ``total`` of a large result)."""
    pages = 0
    for condition, params in _range_sql(where):
        row = conn.execute(
            "SELECT count(*) FROM (SELECT DISTINCT c.document_id, c.page FROM chunks c WHERE c.id IN"
            f" (SELECT rowid & {_CHUNK_MASK} FROM search_stem WHERE search_stem MATCH ?{condition}))",
            (match, *params)).fetchone()
        pages += int(row[0])
    return pages


def chunks(conn: sqlite3.Connection, ids: Iterable[int]) -> dict[int, Chunk]:
    """The passages with these ids (and their document's and case's names)."""
    wanted = list(dict.fromkeys(ids))
    out: dict[int, Chunk] = {}
    rows: list[sqlite3.Row] = []
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        marks = ", ".join("?" for _ in part)
        for r in conn.execute(
                "SELECT c.id, c.document_id, d.filename, c.case_id, k.name, c.page, c.text, c.char_start, c.char_end"
                " FROM chunks c JOIN documents d ON d.id = c.document_id JOIN cases k ON k.id = c.case_id"
                f" WHERE c.id IN ({marks})", part):
            rows.append(r)
    for r in rows:
        out[int(r[0])] = Chunk(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), r[6], r[7], r[8])
    return out


def name_scores(conn: sqlite3.Connection, match: str, where: Scope) -> dict[str, float]:
    """``document id -> -bm25`` of the documents in scope whose file name or case name matches ``match``."""
    sql = "SELECT document_id, bm25(search_names, 1.0, 0.5) FROM search_names WHERE search_names MATCH ?"
    params: tuple[object, ...] = (match,)
    if where.case_ids is not None:
        sql += f" AND case_id IN ({', '.join('?' for _ in where.case_ids)})"
        params += where.case_ids
    return {str(r[0]): -float(r[1]) for r in conn.execute(sql, params)}


def document_spans(conn: sqlite3.Connection, document_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``document id -> (lo, hi)``: the ``search_stem`` rowid range holding the document's passages."""
    out: dict[str, tuple[int, int]] = {}
    for document_id in document_ids:
        row = conn.execute("SELECT min(c.id), max(c.id), s.n FROM chunks c JOIN search_cases s ON s.case_id ="
                           " c.case_id WHERE c.document_id = ?", (document_id,)).fetchone()
        if row is not None and row[0] is not None:
            base = int(row[2]) << CHUNK_BITS
            out[document_id] = (base + int(row[0]), base + int(row[1]))
    return out


def chunk_ranges(conn: sqlite3.Connection, document_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``document id -> (lowest, highest chunk id)``: a document's passages are written together, so this
    range holds them (and, after a re-run, possibly others: callers that need exactness check the document)."""
    return {d: (lo & _CHUNK_MASK, hi & _CHUNK_MASK) for d, (lo, hi) in document_spans(conn, document_ids).items()}


def vocabulary(conn: sqlite3.Connection, prefix: str, cap: int) -> list[str]:
    """Up to ``cap`` indexed words (unstemmed) beginning with ``prefix`` (lowercase, no diacritics)."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute("SELECT term FROM chunks_vocab WHERE term >= ? AND term < ? LIMIT ?", (prefix, upper, cap))
    return [str(r[0]) for r in rows]


class _Stemmer(threading.local):
    """SQLite's own Porter tokenizer on an in-memory table, so the words a search marks are exactly the ones
    the index matched (a second stemmer in Python could disagree with it)."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", check_same_thread=False)
        self.conn.execute("CREATE VIRTUAL TABLE w USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')")
        self.conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
        self.cache: dict[str, str] = {}


_stemmer = _Stemmer()


def stems(words: Iterable[str]) -> dict[str, str]:
    """``word -> stem`` for each word (one token each; a word the tokenizer drops maps to '')."""
    words = list(words)
    _fill(_stemmer.cache, words)
    cache = _stemmer.cache
    return {w: cache[w] for w in words}


def stem_each(words: list[str]) -> list[str]:
    """The stem of each of ``words`` (lowercase), in order: :func:`stems` for a passage's every word, without
    building a dict per passage (re-ranking stems a hundred passages per search)."""
    cache = _stemmer.cache
    try:
        return [cache[w] for w in words]
    except KeyError:
        _fill(cache, words)
        cache = _stemmer.cache
        return [cache[w] for w in words]


def _fill(cache: dict[str, str], words: list[str]) -> None:
    """Stem the words not in ``cache`` with SQLite's tokenizer (one batch). Plain ASCII numbers are their own
    stem (Porter's rules only strip letters) and skip SQLite: passages are full of numbers never seen before."""
    todo = [w for w in dict.fromkeys(words) if w not in cache]
    if not todo:
        return
    if len(cache) + len(todo) > _STEM_CACHE:
        cache.clear()  # then every word is to do again (some of them were cached)
        todo = list(dict.fromkeys(words))
    ask = []
    for word in todo:
        if word.isascii() and word.isdigit():
            cache[word] = word
        else:
            ask.append(word)
    if not ask:
        return
    conn = _stemmer.conn
    conn.executemany("INSERT INTO w (rowid, x) VALUES (?, ?)", enumerate(ask))
    found = {int(doc): str(term) for term, doc, offset in
             conn.execute("SELECT term, doc, offset FROM v WHERE col = 'x' ORDER BY doc, offset DESC")}
    conn.execute("DELETE FROM w")
    for i, word in enumerate(ask):
        cache[word] = found.get(i, "")


_STEM_CACHE = 200_000
"""Words whose stem is kept (per thread); past that the cache starts over."""


def page_lengths(conn: sqlite3.Connection, pages: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """``(document id, page) -> length`` of the page's stored text."""
    out: dict[tuple[str, int], int] = {}
    for document_id, page in dict.fromkeys(pages):
        row = conn.execute("SELECT length(text) FROM pages WHERE document_id = ? AND page = ?",
                           (document_id, page)).fetchone()
        if row is not None:
            out[(document_id, page)] = int(row[0])
    return out
