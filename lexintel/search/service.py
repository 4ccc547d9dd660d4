"""``GET /search`` as a function: modes, fusion, one hit per page, paging, snippets, citations.

Modes: ``keyword`` (:mod:`.keyword`), ``semantic`` (:mod:`.semantic`, the embedding helper's vectors) and
``hybrid``: both lists, page by page, fused by weighted reciprocal rank (:mod:`.fusion`). Its semantic half
looks only inside the :data:`HYBRID_DOCUMENTS` documents keyword ranks best (all of them when keyword finds
nothing): the words, and the document's name, pick the documents; meaning then re-orders and adds passages
within them. Ungated, similar passages of *other* documents (18 NDAs say much the same) outvoted the named
one: equal-vote fusion scored below plain BM25 on the benchmark. Without a mode, hybrid when
the scope has vectors, else keyword. ``semantic`` where no passage has a vector is a 409 that says so (rather
than an empty list that looks like "nothing matches"); hybrid without vectors is keyword search.
"""

from __future__ import annotations

import html
import sqlite3
from dataclasses import dataclass, field
from typing import Any, Literal

from lexintel.errors import Conflict, InvalidInput
from lexintel.search import keyword, semantic
from lexintel.search.fusion import rrf
from lexintel.search.query import parse
from lexintel.search.terms import Matcher, Tokens, tokens
from lexintel.settings import Settings
from lexintel.store import search as store
from lexintel.store.db import Database

__all__ = ["MODES", "Mode", "ResultHit", "ResultPage", "run"]

Mode = Literal["keyword", "semantic", "hybrid"]
MODES: tuple[Mode, ...] = ("keyword", "semantic", "hybrid")
SNIPPET_WORDS = 36
SEMANTIC_DEPTH = 200
HYBRID_DOCUMENTS = 3
LOCAL_MODEL_WEIGHT = 0.5


@dataclass
class ResultHit:
    chunk: store.Chunk
    score: float
    matched_by: list[str]
    tokens: Tokens | None = None


@dataclass
class ResultPage:
    """What the API returns, before it becomes JSON."""

    query: str
    case_id: str | None
    mode: Mode
    total: int
    offset: int
    limit: int
    hits: list[dict[str, Any]] = field(default_factory=list)


async def run(svc: Any, db: Database, q: str, *, case_id: str | None, reader_id: str | None, mode: Mode | None,
              limit: int, offset: int) -> ResultPage:
    """One search. ``svc`` is handed to the semantic module (it may need the embedder); ``db`` reads."""
    has_vectors = mode != "keyword" and await semantic.has_vectors(db, case_id, reader_id)
    if mode is None:
        mode = "hybrid" if has_vectors else "keyword"
    want = offset + limit
    if mode == "semantic":
        if not q.strip():
            raise InvalidInput("empty_query", "Type at least one word to search for.")
        if not has_vectors:
            raise Conflict("no_vectors", "No passage in this scope has an embedding yet (the embedding stage has "
                                         "not run or is off): search with mode=keyword, or wait for it.")
        hits, total = await _semantic(svc, db, q, case_id, reader_id, want)
        try:
            matcher: Matcher | None = Matcher(parse(q).terms)
        except InvalidInput:
            matcher = None
    else:
        query = parse(q)
        fusing = mode == "hybrid" and has_vectors

        def keyword_read(conn: sqlite3.Connection) -> tuple[keyword.Ranked, dict[str, tuple[int, int]]]:
            found = keyword.search(conn, query, store.scope(conn, reader_id, case_id), want)
            if not fusing:
                return found, {}
            docs = list(dict.fromkeys(h.chunk.document_id for h in found.hits))[:HYBRID_DOCUMENTS]
            return found, store.chunk_ranges(conn, docs)  # in the same read: one thread hop

        found, within = await db.read(keyword_read)
        matcher = found.matcher
        hits = [ResultHit(h.chunk, h.score, ["keyword"], h.tokens) for h in found.hits]
        total = found.total
        if fusing:
            sem, _ = await _semantic(svc, db, q, case_id, reader_id, max(want, SEMANTIC_DEPTH), within)
            hits, total = _fuse(hits, sem, total, semantic_weight(svc.settings))
    page = hits[offset:want]
    lengths = await db.read(lambda conn: _page_lengths(conn, page))
    return ResultPage(q, case_id, mode, total, offset, limit, [_hit(h, matcher, lengths) for h in page])


async def _semantic(svc: Any, db: Database, q: str, case_id: str | None, reader_id: str | None,
                    want: int, within: dict[str, tuple[int, int]] | None = None) -> tuple[list[ResultHit], int]:
    """Semantic hits, one per page; ``within``: only these documents (id -> chunk id range), when given."""
    found = await semantic.semantic_passages(svc, q, case_id=case_id, reader_id=reader_id,
                                             limit=max(want * 2, 20), within=list((within or {}).values()))
    rows = await db.read(lambda conn: store.chunks(conn, [cid for cid, _ in found]))
    pages: dict[tuple[str, int, int], ResultHit] = {}
    long = keyword.long_pages(rows.values())
    for cid, score in found:
        chunk = rows.get(cid)
        if chunk is not None and (not within or chunk.document_id in within):
            pages.setdefault(keyword.unit(chunk, long), ResultHit(chunk, score, ["semantic"]))
    return list(pages.values()), len(pages)


def semantic_weight(settings: Settings) -> float:
    """The semantic list's vote in hybrid fusion: LEXINTEL_HYBRID_SEMANTIC_WEIGHT, else by model.

    Measured on the search benchmark (docs/benchmarks.md): the bundled wordllama model (static word vectors)
    alone reaches nDCG@10 0.156 against keyword's 0.444. Inside keyword's best documents the weight matters
    little (nDCG@10 0.447-0.455 for 0.15-1, recall@10 0.758-0.768 against keyword's 0.732); 0.5 was best. A
    remote endpoint serves a transformer model (bge, e5, nomic), which ranks about as well as bm25 on its own:
    the usual equal vote.
    """
    if settings.hybrid_semantic_weight is not None:
        return settings.hybrid_semantic_weight
    return LOCAL_MODEL_WEIGHT if settings.embeddings == "local" else 1.0


def _fuse(kw: list[ResultHit], sem: list[ResultHit], kw_total: int,
          weight: float) -> tuple[list[ResultHit], int]:
    """Page-level RRF: a page's passage is keyword's when keyword found it (its snippet marks the words)."""
    by_page: dict[tuple[str, int, int], ResultHit] = {}
    long = keyword.long_pages(h.chunk for h in kw + sem)
    for hit in kw + sem:
        key = keyword.unit(hit.chunk, long)
        if key in by_page:
            if "semantic" not in by_page[key].matched_by:
                by_page[key].matched_by.append("semantic")
        else:
            by_page[key] = ResultHit(hit.chunk, hit.score, list(hit.matched_by), hit.tokens)
    fused = rrf([[keyword.unit(h.chunk, long) for h in kw], [keyword.unit(h.chunk, long) for h in sem]],
                weights=(1.0, weight))
    hits = []
    for key, score in fused:
        hit = by_page[key]
        hit.score = score
        hits.append(hit)
    only_semantic = sum(1 for h in hits if h.matched_by == ["semantic"])
    return hits, kw_total + only_semantic


def _page_lengths(conn: sqlite3.Connection, hits: list[ResultHit]) -> dict[tuple[str, int], int]:
    """Page text lengths for hits whose passage has no stored range (cited as the whole page)."""
    missing = [(h.chunk.document_id, h.chunk.page) for h in hits if h.chunk.char_start is None]
    return store.page_lengths(conn, missing) if missing else {}


def _hit(hit: ResultHit, matcher: Matcher | None, lengths: dict[tuple[str, int], int]) -> dict[str, Any]:
    chunk = hit.chunk
    plain, marked = snippet(chunk.text, hit.tokens or tokens(chunk.text), matcher)
    start, end = chunk.char_start, chunk.char_end
    if start is None or end is None:
        start, end = 0, lengths.get((chunk.document_id, chunk.page), len(chunk.text))
    return {"document_id": chunk.document_id, "filename": chunk.filename, "case_id": chunk.case_id,
            "case_name": chunk.case_name, "page": chunk.page, "passage_id": chunk.id, "char_start": start,
            "char_end": end, "snippet": plain, "snippet_html": marked, "score": round(hit.score, 4),
            "matched_by": hit.matched_by}


def snippet(text: str, toks: Tokens, matcher: Matcher | None) -> tuple[str, str]:
    """About :data:`SNIPPET_WORDS` words around the densest run of matched words: as plain text, and as HTML
    with each matched word in ``<mark>`` (everything else escaped)."""
    marks = matcher.marked(toks) if matcher is not None else set()
    n = len(toks.spans)
    if n == 0:
        return text[:200], html.escape(text[:200])
    first = 0
    if marks:
        best = -1
        for i in sorted(marks):
            count = sum(1 for j in marks if i <= j < i + SNIPPET_WORDS)
            if count > best:
                best, first = count, max(0, i - 4)
    last = min(n, first + SNIPPET_WORDS) - 1
    begin = 0 if first == 0 else toks.spans[first][0]
    finish = len(text) if last == n - 1 else toks.spans[last][1]
    plain_parts: list[str] = ["…"] if begin > 0 else []
    html_parts: list[str] = list(plain_parts)
    cursor = begin
    for i in range(first, last + 1):
        a, b = toks.spans[i]
        if i in marks:
            plain_parts.append(text[cursor:b])
            html_parts.append(html.escape(text[cursor:a]) + "<mark>" + html.escape(text[a:b]) + "</mark>")
            cursor = b
    plain_parts.append(text[cursor:finish])
    html_parts.append(html.escape(text[cursor:finish]))
    if finish < len(text):
        plain_parts.append("…")
        html_parts.append("…")
    return "".join(plain_parts), "".join(html_parts)
