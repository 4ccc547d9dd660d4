"""Keyword retrieval a lawyer expects: any word matches, ranked by bm25 and then by how well the passage fits.

One search, on one reader connection (:func:`search`):

1. **Scope first.** Only the rowid ranges of the cases the caller may read (:func:`lexintel.store.search.scope`).
2. **Words that cost too much.** In a large scope, a word found in many passages ("agreement" in a contract
   case) would make FTS5 score most of the case for little gain (its idf is near zero). Words are counted in
   the scope (capped, and kept per case for 30 s: the same words come back search after search), and the
   rarest are searched until :data:`MATCH_BUDGET` passages; the others still rank the candidates below (a
   bm25 term computed here), they just don't make a passage a hit on their own. In a scope under the budget
   nothing is left out: every passage holding any word is a hit.
3. **Candidates** by FTS5 bm25 (the stemmed index), plus the passages of the documents whose *name* (or
   case name) the query mentions, found by any of the query's words, common ones included: people name the
   document they mean (a document named by the query but holding none of its words is a hit too, by its
   first passage). An expression that still matches more than the budget (the rarest word is everywhere, a
   common phrase, an AND query, a prefix) is not ranked by FTS5 at all: its candidates are read unranked from
   stretches spread over the case (:func:`lexintel.store.search.spread`) and every word is scored below.
4. **Re-rank** in Python on the candidates' own words: tier 2 = every item present and all within
   :data:`NEAR_WINDOW` words (or the whole query as a phrase), tier 1 = every item present, then score =
   bm25 + the common words' bm25 + a bonus per query word pair found side by side + the name bonus.
5. **One hit per page**: a page's best passage stands for it; ``total`` counts pages (estimated past
   :data:`EXACT_TOTAL` matching passages). A page longer than :data:`LONG_PAGE` characters is not a page a
   reader turns (a text file or an email without page breaks is one "page" of any length: a 60-page contract
   exported as text): there each passage is a hit of its own, cited by its character range (a page counts as
   long when one of the candidates ends past :data:`LONG_PAGE`: no page text is read). Two hits never
   overlap (a passage overlapping a better one is dropped).
"""

from __future__ import annotations

import itertools
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from lexintel.search.query import Item, Query, quote
from lexintel.search.terms import (
    Matcher,
    Tokens,
    expression,
    expressions_for_prefixes,
    min_window,
    name_expression,
    tokens_many,
)
from lexintel.store import search as store

__all__ = ["LONG_PAGE", "MATCH_BUDGET", "NEAR_WINDOW", "Hit", "Ranked", "long_pages", "search", "unit"]

MATCH_BUDGET = 2_500
"""Passages FTS5 may score per search before common words are left to the re-ranking (see module doc). FTS5's
bm25 costs ~3 microseconds a match (it reads each match's length), so this is most of a large search's time;
2,500 ranks the benchmark's questions in a 100,000-passage case as well as 5,000 did
(``python -m scripts.bench_keyword --quality``)."""
NEAR_WINDOW = 12
LONG_PAGE = store.LONG_PAGE
NAME_WEIGHT = 1.0
PAIR_BONUS = 1.5
MIN_CANDIDATES = 60
MAX_CANDIDATES = 3000
EXACT_TOTAL = 2000
NAMED_PASSAGES = 50
"""Passages of each document the query names that join the candidates."""
_K1, _B = 1.2, 0.75


@dataclass
class Hit:
    """A passage that matched, with its rank key."""

    chunk: store.Chunk
    tier: int
    score: float
    tokens: Tokens


@dataclass
class Ranked:
    """Best first, one passage per page; ``total`` pages matched; ``matcher`` marks snippets."""

    hits: list[Hit]
    total: int
    matcher: Matcher


def _common_words(conn: sqlite3.Connection, query: Query, where: store.Scope,
                  budget: int) -> tuple[frozenset[Item], dict[Item, int]]:
    """The plain words to leave out of the FTS5 expression, and each counted word's passages (capped)."""
    if not query.plain or where.passages <= budget:
        return frozenset(), {}
    # words and phrases ("non-disclosure"), each once: a word typed twice ("between Khronos and Khronos") must not
    # be counted twice against the budget (it was, and then left out, leaving nothing to search)
    words = list(dict.fromkeys(g[0] for g in query.groups if not g[0].prefix))
    found = store.word_counts(conn, [quote(" ".join(item.words)) for item in words], where, budget + 1)
    counts = dict(zip(words, found, strict=True))
    spent, common = 0, set()
    for item in sorted(words, key=lambda i: counts[i]):
        if spent and spent + counts[item] > budget:
            common.add(item)
        else:
            spent += counts[item]
    return frozenset(common), counts


def _bm25(tf: int, length: int, avg: float, df: int, n: int) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / max(avg, 1.0)))


def search(conn: sqlite3.Connection, query: Query, where: store.Scope, want: int,
           budget: int = MATCH_BUDGET) -> Ranked:
    """The pages matching ``query`` in ``where``, best first, at least ``want`` of them when there are.
    ``budget``: :data:`MATCH_BUDGET` (a parameter so that tests can show its effects on a small case)."""
    matcher = Matcher(query.terms)
    if where.case_ids is not None and not where.ranges:
        return Ranked([], 0, matcher)
    expansions = expressions_for_prefixes(conn, query)
    common, counts = _common_words(conn, query, where, budget)
    expr = expression(query, expansions, common)
    if expr is None:
        return Ranked([], 0, matcher)
    limit = min(MAX_CANDIDATES, max(MIN_CANDIDATES, 3 * want))
    if where.passages <= 2 * MIN_CANDIDATES:
        limit = max(limit, where.passages + 1)  # a small scope is ranked whole: exact total, no count query
    matches: tuple[int, bool] | None = None
    scored = common
    searched = sum(n for item, n in counts.items() if item not in common)
    if where.passages > budget and (not query.plain or searched > budget or any(i.prefix for i in query.terms)):
        # maybe more matches than the budget (one word or phrase found nearly everywhere, an AND query, a
        # prefix): counted (up to a cap, then estimated), and past the budget too many for FTS5 to rank
        matches = store.estimate_matches(conn, expr, where, max(budget, EXACT_TOTAL) + 1)
    spread = matches is not None and matches[0] > budget
    if spread:  # candidates spread over the case, every word scored by the re-ranking (see store.spread)
        found = dict.fromkeys(store.spread(conn, expr, where, limit), 0.0)
        scored = frozenset(query.terms)
        exhaustive = False
    else:
        found = dict(store.ranked(conn, expr, where, limit))
        exhaustive = len(found) < limit
    names: dict[str, float] = {}
    name_expr = name_expression(query)
    if name_expr is not None:
        names = store.name_scores(conn, name_expr, where)
        if names:
            best = max(names.values())
            top = sorted((d for d, s in names.items() if s >= 0.5 * best), key=lambda d: -names[d])[:3]
            whole = expression(query, expansions) if common else None
            for _document, span in store.document_spans(conn, top).items():
                if spread:  # no bm25 in FTS5 for an expression that matches too much (see store.spread)
                    inside = [(c, 0.0) for c in store.matching(conn, expr, span, NAMED_PASSAGES)]
                else:
                    inside = store.ranked(conn, expr, where, NAMED_PASSAGES, rowids=span)
                for chunk_id, score in inside:
                    found.setdefault(chunk_id, score)
                if whole is not None:  # a document's passages are few: the common words (left out of the
                    # case-wide expression) pick them too; scored by the re-ranking alone (bm25 in FTS5 would
                    # first count each common word's passages in the whole index: ~10 ms a word at 100,000)
                    more = store.matching(conn, whole, span, NAMED_PASSAGES)
                    for chunk_id in more:
                        found.setdefault(chunk_id, 0.0)
                    inside = inside or [(c, 0.0) for c in more]
                if not inside and query.plain and not query.excluded:  # named, though no passage has the
                    # words (with AND or exclusions the text must satisfy them): its first passage stands for it
                    found.setdefault(span[0] & ((1 << store.CHUNK_BITS) - 1), 0.0)
    rows = store.chunks(conn, found)
    hits = _rerank(query, matcher, rows, found, names, scored, counts, where.passages)
    pages: dict[tuple[str, int, int], Hit] = {}
    taken: dict[tuple[str, int], list[tuple[int, int]]] = {}
    long = long_pages(rows.values())
    for hit in hits:
        key = unit(hit.chunk, long)
        if key in pages:
            continue
        span = (hit.chunk.char_start or 0, hit.chunk.char_end or 0)
        ranges = taken.setdefault(key[:2], [])
        if any(a < span[1] and span[0] < b for a, b in ranges):
            continue
        ranges.append(span)
        pages[key] = hit
    total = len(pages) if exhaustive else _total(conn, expr, where, len(pages), len(found), matches)
    return Ranked(list(pages.values()), total, matcher)


def _total(conn: sqlite3.Connection, expr: str, where: store.Scope, units: int, candidates: int,
           counted: tuple[int, bool] | None) -> int:
    """Hits matching in all: exact (pages counted) up to :data:`EXACT_TOTAL` matching passages; past that the
    passages counted (or estimated, :func:`~lexintel.store.search.estimate_matches`) times the hits per passage
    seen among the candidates (counting pages would read a row per match). ``counted``: the search's own
    estimate, when it made one."""
    matches, _exact = counted or store.estimate_matches(conn, expr, where, EXACT_TOTAL + 1)
    if matches <= EXACT_TOTAL:
        return max(units, store.matching_pages(conn, expr, where))
    return max(units, round(matches * units / max(candidates, 1)))


def long_pages(chunks: Iterable[store.Chunk]) -> set[tuple[str, int]]:
    """The pages longer than :data:`LONG_PAGE` characters, as far as these passages show (one ending past it)."""
    return {(c.document_id, c.page) for c in chunks if (c.char_end or 0) > LONG_PAGE}


def unit(chunk: store.Chunk, long: set[tuple[str, int]]) -> tuple[str, int, int]:
    """What one hit stands for: a page, or one passage of a long page (``long``: :func:`long_pages`)."""
    return chunk.document_id, chunk.page, chunk.id if (chunk.document_id, chunk.page) in long else 0


def _rerank(query: Query, matcher: Matcher, rows: dict[int, store.Chunk], found: dict[int, float],
            names: dict[str, float], common: frozenset[Item], counts: dict[Item, int], n: int) -> list[Hit]:
    toks = dict(zip(rows, tokens_many([chunk.text for chunk in rows.values()]), strict=True))
    avg = sum(len(t.lower) for t in toks.values()) / max(len(toks), 1)
    items = matcher.items
    pairs = [(i, i + 1) for i, (a, b) in enumerate(itertools.pairwise(items)) if not a.is_phrase and not b.is_phrase]
    pruned = [i for i, item in enumerate(items) if item in common]
    pruned_df = {i: counts.get(items[i], n // 2) for i in pruned}
    hits = []
    for cid, chunk in rows.items():
        t = toks[cid]
        where = matcher.positions(t)
        score = found[cid] + NAME_WEIGHT * names.get(chunk.document_id, 0.0)
        for i in pruned:
            if where[i]:
                score += _bm25(len(where[i]), len(t.lower), avg, pruned_df[i], n)
        present = {i for i, p in enumerate(where) if p}
        for ia, ib in pairs:
            if ia in present and ib in present and set(where[ib]) & {p + 1 for p in where[ia]}:
                score += PAIR_BONUS
        tier = 0
        if len(items) > 1 and len(present) == len(items):
            window = min_window(where)
            span = sum(len(item.words) for item in items)
            tier = 2 if window is not None and window <= max(NEAR_WINDOW, span) else 1
        hits.append(Hit(chunk, tier, score, t))
    hits.sort(key=lambda h: (-h.tier, -h.score, h.chunk.id))
    return hits
