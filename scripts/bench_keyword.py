"""Keyword search latency in-process (issue 14: p95 <= 50 ms in a case of 100,000 passages).

    python -m scripts.bench_keyword                    # 100,000 passages, 45 queries, CPU and wall percentiles
    python -m scripts.bench_keyword --passages 20000 --other 20000   # with another member's case beside it
    python -m scripts.bench_keyword --profile 10       # cProfile of the first 10 queries (cumulative, top 25)
    python -m scripts.bench_keyword --corpus           # the 18 NDAs the questions name are in the large case too
    python -m scripts.bench_keyword --quality          # recall/MRR/nDCG of the 194 questions in that case
    python -m scripts.bench_keyword --passages 0 --quality   # ... in a case of the 18 NDAs alone

The database is built once under ``/tmp/lexintel-bench-keyword/`` (``--rebuild`` to redo it) the way the server
writes one: :class:`~lexintel.store.db.Database` (every migration), document rows, pages, and passages through
:func:`lexintel.store.documents.insert_chunks` so the migrations' triggers fill the search indexes. The
documents are :func:`scripts.bench_search.generated_documents` (the benchmark corpus's paragraphs shuffled, with
invented names and numbers), cut by the server's chunker.

Each query runs as ``GET /search`` runs it: a fresh reader connection, :func:`lexintel.store.search.scope` for
the case, :func:`lexintel.search.keyword.search` for 10 hits. Timed per query: CPU (``time.process_time``, what
the query costs, steady on a shared machine) and wall (``time.perf_counter``, what a user waits, inflated by
load). Queries: every 5th benchmark question and six operator queries (45); a few other questions run first as
a warm-up (imports, the stemmer's connection, SQLite's page cache), none of them timed.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sqlite3
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lexintel.pipeline.chunk import ChunkSpan, chunk_page_spans
from lexintel.search import keyword
from lexintel.search.query import parse
from lexintel.store import documents
from lexintel.store import search as store
from lexintel.store.db import Database
from scripts._benchlib import load_line, percentile
from scripts.bench_search import (
    BENCH,
    CHUNK_OVERLAP,
    CHUNK_SIZE,
    K,
    file_name,
    generated_documents,
    metrics,
    nfkc_map,
    overlaps,
)

DIR = Path("/tmp/lexintel-bench-keyword")
OPERATORS = ["indemnification", '"confidential information"', "indemnit*", "witness OR deposition",
             "return -destroy", "arbitration AND governing law"]


def corpus() -> list[tuple[str, bytes]]:
    """The benchmark's 18 NDAs as (file name, NFKC text as the server stores it), named as ``bench_search``
    uploads them."""
    return [(file_name(p), nfkc_map(p.read_text(encoding="utf-8"))[0].encode())
            for p in sorted((BENCH / "corpus").glob("*.txt"))]


def _fill(db: Database, case_id: str, name: str, passages: int, seed: int, tag: str,
          extra: Sequence[tuple[str, bytes]] = ()) -> int:
    """A case of about ``passages`` generated passages (and the ``extra`` files); returns how many were made."""
    made = 0
    with db.transaction() as conn:
        conn.execute("INSERT INTO cases (id, name, description, owner_id, created_at) VALUES (?, ?, '', NULL, '')",
                     (case_id, name))
    for n, (filename, data) in enumerate(list(extra) + generated_documents(passages, seed, tag)):
        text = data.decode()
        doc = f"{tag}-{n}"
        spans = [ChunkSpan(1, piece, start, end) for start, end, piece in chunk_page_spans(text, CHUNK_SIZE,
                                                                                            CHUNK_OVERLAP)]
        with db.transaction() as conn:
            documents.insert(conn, {"id": doc, "case_id": case_id, "filename": filename, "kind": "text",
                                    "size_bytes": len(data), "sha256": "", "storage_path": "",
                                    "status": "indexed", "stage": "completed", "created_at": "",
                                    "chunks": len(spans)})
            conn.execute("INSERT INTO pages (document_id, page, text) VALUES (?, 1, ?)", (doc, text))
            documents.insert_chunks(conn, doc, case_id, 0, spans)
        made += len(spans)
    return made


def build(passages: int, other: int, rebuild: bool, with_corpus: bool) -> Path:
    """The database for these sizes, built unless it exists (a ``.done`` file marks a finished build)."""
    DIR.mkdir(exist_ok=True)
    path = DIR / f"kw-{passages}-{other}{'-corpus' if with_corpus else ''}.db"
    done = path.with_suffix(".done")
    if done.exists() and path.exists() and not rebuild:
        return path
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    done.unlink(missing_ok=True)
    t0 = time.monotonic()
    db = Database(path)
    try:
        if other:
            _fill(db, "other", "Another member's matter", other, 2, "other")
        made = _fill(db, "large", "Large matter", passages, 1, "large", corpus() if with_corpus else [])
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    done.write_text(json.dumps({"passages": made, "other": other}))
    print(f"built {path}: {made} passages (+{other} in another case) in {time.monotonic() - t0:.0f} s")
    return path


def _connect(path: Path) -> sqlite3.Connection:
    """A reader connection as :meth:`Database.read` opens one."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


def one(path: Path, q: str) -> keyword.Ranked:
    """One search as the server runs it (fresh reader connection, scope, 10 hits)."""
    conn = _connect(path)
    try:
        return keyword.search(conn, parse(q), store.scope(conn, None, "large"), 10)
    finally:
        conn.close()


def queries() -> tuple[list[str], list[str]]:
    """(timed, warm-up): every 5th question plus the operator queries; three other questions to warm up."""
    tests = [t["query"] for t in json.loads((BENCH / "queries.json").read_text())["tests"]]
    return tests[::5] + OPERATORS, [tests[1], tests[2], tests[3]]


def quality(path: Path) -> dict[str, float]:
    """recall/MRR/nDCG@10 of the 194 questions, searched in the large case (100,000 generated passages around
    the 18 NDAs the questions are about): how ranking holds up at scale, next to ``bench_search``'s small case.
    A hit is relevant as in ``bench_search`` (same file, character ranges overlap a judged span)."""
    raw = {file_name(p): p.read_text(encoding="utf-8") for p in sorted((BENCH / "corpus").glob("*.txt"))}
    maps = {name: [*nfkc_map(text)[1], len(text)] for name, text in raw.items()}
    runs, ideal = [], []
    for t in json.loads((BENCH / "queries.json").read_text())["tests"]:
        spans = [(urllib.parse.unquote(s["file_path"].split("/", 1)[1]), s["span"][0], s["span"][1])
                 for s in t["snippets"]]
        rels = []
        for hit in one(path, t["query"]).hits[:K]:
            where: list[int] | None = maps.get(hit.chunk.filename)
            start, end = hit.chunk.char_start, hit.chunk.char_end
            rels.append(where is not None and start is not None and end is not None
                        and overlaps(spans, hit.chunk.filename, where[start], where[end - 1] + 1))
        runs.append(rels)
        ideal.append(len(spans))
    return metrics(runs, ideal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--other", type=int, default=0, help="passages in another case beside it")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="times each query is run (all are timed)")
    parser.add_argument("--profile", type=int, default=0, help="profile this many queries instead of timing")
    parser.add_argument("--show", action="store_true", help="print each query's time and hit count")
    parser.add_argument("--corpus", action="store_true", help="put the 18 NDAs in the large case too")
    parser.add_argument("--quality", action="store_true",
                        help="only the quality of the 194 questions in the large case (implies --corpus)")
    args = parser.parse_args()
    print(load_line())
    path = build(args.passages, args.other, args.rebuild, args.corpus or args.quality)
    if args.quality:
        row: dict[str, Any] = quality(path)
        print(f"keyword, case of {args.passages} generated passages + the 18 NDAs: "
              + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
        return
    timed, warm = queries()
    for q in warm:
        one(path, q)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for q in timed[: args.profile]:
            one(path, q)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        return
    cpu, wall = [], []
    for _ in range(args.rounds):
        for q in timed:
            c0, w0 = time.process_time(), time.perf_counter()
            found = one(path, q)
            c1, w1 = time.process_time(), time.perf_counter()
            cpu.append((c1 - c0) * 1000)
            wall.append((w1 - w0) * 1000)
            if args.show:
                print(f"{cpu[-1]:7.1f} ms cpu {wall[-1]:7.1f} ms wall {len(found.hits):3d} hits"
                      f" total {found.total:6d}  {q[:70]}")
    row = {f"{name} p{p}": round(percentile(values, p), 1) for name, values in (("cpu", cpu), ("wall", wall))
           for p in (50, 95)}
    row |= {"cpu max": round(max(cpu), 1), "wall max": round(max(wall), 1), "queries": len(cpu)}
    print(json.dumps(row))
    print(load_line())


if __name__ == "__main__":
    main()
