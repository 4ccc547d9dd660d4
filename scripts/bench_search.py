"""Search quality and latency (issue 14) on ../shared/search-bench (ContractNLI part of LegalBench-RAG).

    python -m scripts.bench_search                      # quality, every mode the server offers, + reference BM25
    python -m scripts.bench_search --latency 100000     # also: search latency in a case of 100,000 passages
    python -m scripts.bench_search --latency 20000 --other 20000   # ... with another member's case beside it
    python -m scripts.bench_search --migration 100000   # time migration 3 on a v1 database of 100,000 passages

Quality: the 18 NDAs are uploaded as plain-text documents into one case of a real server (``python -m lexintel
serve``: the real pipeline, extraction, chunking and indexing), every question goes through ``GET /search``
(``limit=10``) in each mode, and a returned passage is relevant when it overlaps a judged span of its question
(same file, character ranges intersect: the hit's ``char_start``/``char_end`` are in the page text, which for
these single-page files is the file's text after NFKC normalisation; offsets are mapped back to the file).
Reported: recall@1/5/10, MRR@10, nDCG@10 (binary gain; ideal = one relevant hit per judged span, at most 10)
and the share of questions with no hit at all.

Reference: BM25 (``bm25s``, Lucene's variant, k1=1.5, b=0.75, English stop words, no stemming) over the same
passages, cut by LexIntel's own chunker (``lexintel.pipeline.chunk.chunk_page_spans`` with the server's
defaults), computed in this process: no part of LexIntel's search is involved.

Latency: a second case filled through the same upload API with generated documents (the corpus's paragraphs
shuffled, with invented party names and numbers so the vocabulary grows like a real case's), then every
question timed over HTTP (one client, sequential), p50/p95 per mode. ``--other N`` first fills another
member's... (an admin's, auth being off) case with N passages of the same kind, to show that one case's search
time does not grow with another case's data.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import time
import unicodedata
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from lexintel.pipeline.chunk import chunk_page_spans
from scripts._benchlib import Server, load_line, percentile

_ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("LEXINTEL_SEARCH_BENCH") or next(
    (p for p in (_ROOT.parent / "shared" / "search-bench", _ROOT.parents[1] / "shared" / "search-bench")
     if p.exists()), _ROOT.parent / "shared" / "search-bench"))
"""``../shared/search-bench`` next to the checkout (or one level up, from a worktree); LEXINTEL_SEARCH_BENCH."""
CHUNK_SIZE, CHUNK_OVERLAP = 1200, 200
K = 10


def file_name(path: Path) -> str:
    """The name a person would have given the file: URL escapes undone (``%20`` is a space)."""
    return urllib.parse.unquote(path.name)


def nfkc_map(text: str) -> tuple[str, list[int]]:
    """NFKC of ``text`` and, per output character, the index of the input character it came from."""
    out: list[str] = []
    where: list[int] = []
    for i, char in enumerate(text):
        norm = unicodedata.normalize("NFKC", char)
        out.append(norm)
        where.extend([i] * len(norm))
    return "".join(out), where


def upload(http: httpx.Client, case_id: str, files: list[tuple[str, bytes]], wait: float = 1800) -> list[str]:
    """Upload ``files`` in requests of 100 and wait until every document is indexed."""
    ids: list[str] = []
    for start in range(0, len(files), 100):
        part = files[start : start + 100]
        resp = http.post(f"/cases/{case_id}/documents",
                         files=[("files", (name, data, "text/plain")) for name, data in part])
        resp.raise_for_status()
        ids += [d["id"] for d in resp.json()["documents"]]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        docs = http.get(f"/cases/{case_id}/documents").json()
        docs = docs["documents"] if isinstance(docs, dict) else docs
        states = [d["status"] for d in docs]
        if all(s in ("indexed", "failed") for s in states) and len(states) >= len(ids):
            failed = [d["filename"] for d in docs if d["status"] == "failed"]
            if failed:
                raise SystemExit(f"documents failed: {failed[:5]}")
            return ids
        time.sleep(0.5)
    raise SystemExit("documents not indexed in time")


def metrics(runs: list[list[bool]], ideal: list[int]) -> dict[str, float]:
    """recall@1/5/10, MRR@10, nDCG@10, no-hit share from per-question relevance lists."""
    n = len(runs)
    out = {f"recall@{k}": sum(any(r[:k]) for r in runs) / n for k in (1, 5, 10)}
    out["MRR@10"] = sum(next((1 / (i + 1) for i, rel in enumerate(r[:K]) if rel), 0.0) for r in runs) / n
    ndcg = 0.0
    for r, m in zip(runs, ideal, strict=True):
        dcg = sum(1 / math.log2(i + 2) for i, rel in enumerate(r[:K]) if rel)
        idcg = sum(1 / math.log2(i + 2) for i in range(min(m, K)))
        ndcg += dcg / idcg if idcg else 0.0
    out["nDCG@10"] = ndcg / n
    out["no hit"] = sum(not r for r in runs) / n
    return out


def overlaps(spans: list[tuple[str, int, int]], name: str, start: int, end: int) -> bool:
    return any(f == name and s < end and start < e for f, s, e in spans)


def reference_bm25(texts: dict[str, str], tests: list[dict[str, Any]]) -> list[list[bool]]:
    import bm25s

    passages = [(name, s, e, p) for name, text in texts.items()
                for s, e, p in chunk_page_spans(text, CHUNK_SIZE, CHUNK_OVERLAP)]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([p for *_, p in passages], stopwords="en", show_progress=False),
                    show_progress=False)
    runs = []
    for test in tests:
        tokens = bm25s.tokenize([test["query"]], stopwords="en", show_progress=False)
        found, scores = retriever.retrieve(tokens, k=K, show_progress=False)
        runs.append([overlaps(test["spans"], passages[int(i)][0], passages[int(i)][1], passages[int(i)][2])
                     for i, sc in zip(found[0], scores[0], strict=True) if sc > 0])
    return runs


def quality(http: httpx.Client, modes: list[str]) -> dict[str, dict[str, float]]:
    raw = {file_name(p): p.read_text(encoding="utf-8") for p in sorted((BENCH / "corpus").glob("*.txt"))}
    tests = []
    for t in json.loads((BENCH / "queries.json").read_text())["tests"]:
        spans = [(urllib.parse.unquote(s["file_path"].split("/", 1)[1]), s["span"][0], s["span"][1])
                 for s in t["snippets"]]
        tests.append({"query": t["query"], "spans": spans})
    case_id = http.post("/cases", json={"name": "ContractNLI"}).json()["id"]
    t0 = time.monotonic()
    ids = upload(http, case_id, [(name, text.encode()) for name, text in raw.items()])
    print(f"uploaded and indexed {len(ids)} documents in {time.monotonic() - t0:.1f} s")
    # page text (NFKC) -> file offsets
    maps: dict[str, list[int]] = {}
    for doc_id in ids:
        doc = http.get(f"/documents/{doc_id}").json()
        page = http.get(f"/documents/{doc_id}/text").json()["pages"][0]["text"]
        norm, where = nfkc_map(raw[doc["filename"]])
        if norm != page:
            raise SystemExit(f"page text of {doc['filename']} is not the file's NFKC text")
        maps[doc["filename"]] = [*where, len(raw[doc["filename"]])]
    ideal = [len(t["spans"]) for t in tests]
    results = {"reference BM25 (bm25s)": metrics(reference_bm25(raw, tests), ideal)}
    for mode in modes:
        probe = http.get("/search", params={"q": tests[0]["query"], "case_id": case_id, "mode": mode})
        if probe.status_code == 409:
            print(f"mode {mode}: {probe.json()['detail']}")
            continue
        runs = []
        for t in tests:
            resp = http.get("/search", params={"q": t["query"], "case_id": case_id, "mode": mode, "limit": K})
            resp.raise_for_status()
            rels = []
            for h in resp.json()["hits"]:
                where = maps[h["filename"]]
                rels.append(overlaps(t["spans"], h["filename"], where[h["char_start"]], where[h["char_end"] - 1] + 1))
            runs.append(rels)
        results[f"LexIntel {mode}"] = metrics(runs, ideal)
    return results


def generated_documents(passages: int, seed: int, tag: str) -> list[tuple[str, bytes]]:
    """Text documents holding about ``passages`` passages in all, made from the corpus's paragraphs."""
    rng = random.Random(seed)
    paras = [p.strip() for path in sorted((BENCH / "corpus").glob("*.txt"))
             for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if len(p.strip()) > 80]
    syllables = ["ka", "lo", "mer", "vin", "dor", "sa", "tel", "ru", "pex", "an", "qui", "zo", "bel", "tor"]
    names = ["".join(rng.choice(syllables) for _ in range(3)).capitalize() for _ in range(400)]
    docs, made, n = [], 0, 0
    while made < passages:
        first, second = rng.sample(names, 2)
        body, size = [], 0
        while size < 90_000:
            para = rng.choice(paras).replace("Company", first).replace("Recipient", second)
            para = re.sub(r"\b\d+\b", lambda _: str(rng.randint(1, 9999)), para)
            body.append(para)
            size += len(para) + 2
        text = f"Agreement between {first} and {second} ({tag} {n})\n\n" + "\n\n".join(body)
        docs.append((f"{tag}-{first}-{second}-{n}.txt", text.encode()))
        made += len(chunk_page_spans(text, CHUNK_SIZE, CHUNK_OVERLAP))
        n += 1
    return docs


def latency(http: httpx.Client, passages: int, other: int, modes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if other:
        other_case = http.post("/cases", json={"name": "Another member's matter"}).json()["id"]
        t0 = time.monotonic()
        upload(http, other_case, generated_documents(other, 2, "other"))
        out["other case passages"] = other
        print(f"other case: {other} passages indexed in {time.monotonic() - t0:.0f} s")
    case_id = http.post("/cases", json={"name": "Large matter"}).json()["id"]
    docs = generated_documents(passages, 1, "large")
    t0 = time.monotonic()
    upload(http, case_id, docs)
    took = time.monotonic() - t0
    print(f"large case: {passages} passages in {len(docs)} documents indexed in {took:.0f} s "
          f"({passages / took:.0f} passages/s through upload+pipeline)")
    queries = [t["query"] for t in json.loads((BENCH / "queries.json").read_text())["tests"]]
    queries += ["indemnification", '"confidential information"', "indemnit*", "witness OR deposition",
                "return -destroy", "arbitration AND governing law"]
    for mode in modes:
        if http.get("/search", params={"q": "warm up", "case_id": case_id, "mode": mode}).status_code == 409:
            continue
        times = []
        for q in queries:
            t1 = time.perf_counter()
            resp = http.get("/search", params={"q": q, "case_id": case_id, "mode": mode, "limit": 10})
            times.append((time.perf_counter() - t1) * 1000)
            resp.raise_for_status()
        out[mode] = {"p50 ms": percentile(times, 50), "p95 ms": percentile(times, 95), "max ms": max(times),
                     "queries": len(times)}
    return out


def migration(passages: int) -> dict[str, Any]:
    """Time migration 3 on a database as today's main (v1) wrote it, holding ``passages`` passages."""
    import logging
    import sqlite3
    import tempfile

    from lexintel.store.migrations import MIGRATIONS, migrate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = Path(tempfile.mkdtemp(prefix="lexintel-bench-")) / "v1.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0].step if isinstance(MIGRATIONS[0].step, str) else "")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO cases VALUES ('c1', 'Large matter', '', NULL, '2026-01-01')")
    conn.execute("BEGIN")
    made = 0
    for n, (name, data) in enumerate(generated_documents(passages, 3, "migrate")):
        text = data.decode()
        doc = f"d{n}"
        conn.execute("INSERT INTO documents (id, case_id, filename, kind, size_bytes, sha256, storage_path, status,"
                     " stage, created_at) VALUES (?, 'c1', ?, 'text', ?, '', '', 'indexed', 'completed', '')",
                     (doc, name, len(data)))
        conn.execute("INSERT INTO pages VALUES (?, 1, ?)", (doc, text))
        pieces = chunk_page_spans(text, CHUNK_SIZE, CHUNK_OVERLAP)
        conn.executemany("INSERT INTO chunks (document_id, case_id, seq, page, text) VALUES (?, 'c1', ?, 1, ?)",
                         [(doc, i, p) for i, (_, _, p) in enumerate(pieces)])
        made += len(pieces)
    conn.execute("COMMIT")
    t0 = time.monotonic()
    version = migrate(conn, MIGRATIONS)
    took = time.monotonic() - t0
    located = conn.execute("SELECT count(*) FROM chunks WHERE char_start IS NOT NULL").fetchone()[0]
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.rmdir()
    return {"passages": made, "version": version, "seconds": round(took, 1),
            "passages/s": round(made / took), "located": located}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=int, default=0, help="passages in the large case (0: skip)")
    parser.add_argument("--other", type=int, default=0, help="passages in another case beside it")
    parser.add_argument("--modes", default="", help="comma-separated; default: every mode the server offers")
    parser.add_argument("--migration", type=int, default=0,
                        help="only time the search migration on a v1 database of this many passages")
    args = parser.parse_args()
    print(load_line())
    if args.migration:
        print(json.dumps(migration(args.migration)))
        return
    server = Server({"LEXINTEL_EXTRACTION_WORKERS": "2"}).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            modes = args.modes.split(",") if args.modes else offered_modes(http)
            print(f"modes: {', '.join(modes)}")
            for name, row in quality(http, modes).items():
                print(f"{name:26s} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
            if args.latency:
                print(json.dumps(latency(http, args.latency, args.other, modes), indent=1))
    finally:
        server.stop()
    print(load_line())


def offered_modes(http: httpx.Client) -> list[str]:
    """The modes ``GET /search`` documents (keyword, semantic, hybrid), from the server's OpenAPI schema."""
    schema = http.get("/schema/openapi.json").json()
    for param in schema["paths"]["/search"]["get"]["parameters"]:
        if param["name"] == "mode":
            found = json.dumps(param["schema"])
            return [m for m in ("keyword", "semantic", "hybrid") if f'"{m}"' in found]
    return ["keyword"]


if __name__ == "__main__":
    main()
