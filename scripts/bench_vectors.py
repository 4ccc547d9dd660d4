"""Benchmark: how to search 100,000 passage vectors of one case (issue 14): numpy brute force vs usearch HNSW.

Vectors are the default model's (wordllama 256-d): ``--real`` passages of the search benchmark's NDAs (random
windows of their sentences, so they are all different) are embedded, and the rest of the 100,000 are mixtures
of two of them (weights 0.5-1, unit length again): as dense as a large case, with no exact ties. Queries are
the benchmark's 194 questions, embedded by the same model. Measured, each on the same vectors and queries:

- **float32 brute force** (what LexIntel does): ``matrix @ q`` + ``argpartition`` for the top 10.
- **int8 brute force**: vectors scaled to int8 (4x smaller on disk and in memory), scored as int8 @ int8 in
  int32 by numpy, and as float32 after converting per query; recall@10 against float32's exact top 10.
- **usearch HNSW** (f32 and i8 storage, default connectivity): build time, query latency, recall@10.
- **SQLite load**: reading the 100,000 BLOBs of a case into one matrix (what the cache does once), f32 and i8.

    python -m scripts.bench_vectors                 # 100,000 vectors
    python -m scripts.bench_vectors --vectors 20000 --real 2000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from lexintel.embeddings import local
from scripts._benchlib import load_line, percentile
from scripts.bench_embeddings import CORPORA

K = 10


def corpus_and_queries() -> tuple[list[str], list[str]]:
    root = next((path for path in CORPORA if path.is_dir()), CORPORA[0])
    texts = [path.read_text() for path in sorted(root.glob("*.txt"))]
    queries = [t["query"] for t in json.loads((root.parent / "queries.json").read_text())["tests"]]
    return texts, queries


def synthetic_vectors(n: int, real: int, texts: list[str], model: local.LocalModel) -> npt.NDArray[np.float32]:
    rng = random.Random(14)
    sentences = [s for text in texts for s in re.split(r"(?<=[.;])\s+", text) if len(s) > 30]
    windows = []
    for _ in range(real):
        start = rng.randrange(len(sentences))
        windows.append(" ".join(sentences[start : start + rng.randint(3, 9)])[:1200])
    base = model.embed(windows)
    # mixtures of two passages (a continuum, not clusters of near-copies whose top 10 would be a coin toss)
    gen = np.random.default_rng(14)
    a, b = gen.integers(0, real, n), gen.integers(0, real, n)
    w = gen.uniform(0.5, 1.0, (n, 1)).astype(np.float32)
    out = w * base[a] + (1 - w) * base[b]
    out[:real] = base  # the embedded passages themselves are in the set
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return np.ascontiguousarray(out, dtype=np.float32)


def timed(fn: object, queries: npt.NDArray[np.float32]) -> tuple[list[float], list[npt.NDArray[np.int64]]]:
    times, results = [], []
    for q in queries:
        began = time.perf_counter()
        results.append(fn(q))  # type: ignore[operator]
        times.append((time.perf_counter() - began) * 1000)
    return times, results


def top(scores: npt.NDArray[np.floating], k: int = K) -> npt.NDArray[np.int64]:
    part = np.argpartition(-scores, k)[:k]
    return part[np.argsort(-scores[part])]


def recall(found: list[npt.NDArray[np.int64]], exact: list[npt.NDArray[np.int64]]) -> float:
    return float(np.mean([len(set(f.tolist()) & set(e.tolist())) / K for f, e in zip(found, exact, strict=True)]))


def line(name: str, times: list[float], extra: str = "") -> None:
    print(f"  {name:<34} p50 {percentile(times, 50):7.2f} ms   p95 {percentile(times, 95):7.2f} ms   {extra}")


def sqlite_load(matrix: npt.NDArray[np.generic]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "v.db")
        conn.execute("CREATE TABLE v (seq INTEGER PRIMARY KEY, case_id TEXT, chunk_id INTEGER, vector BLOB)")
        conn.execute("CREATE INDEX v_case ON v(case_id, seq)")
        conn.executemany("INSERT INTO v (case_id, chunk_id, vector) VALUES ('c', ?, ?)",
                         [(i, row.tobytes()) for i, row in enumerate(matrix)])
        conn.commit()
        conn.close()
        conn = sqlite3.connect(Path(tmp) / "v.db")
        began = time.perf_counter()
        rows = conn.execute("SELECT seq, chunk_id, vector FROM v WHERE case_id = 'c' AND seq > 0"
                            " ORDER BY seq").fetchall()
        loaded = np.frombuffer(b"".join(r[2] for r in rows), dtype=matrix.dtype).reshape(matrix.shape)
        elapsed = time.perf_counter() - began
        conn.close()
        assert loaded.shape == matrix.shape
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", type=int, default=100_000)
    parser.add_argument("--real", type=int, default=5_000)
    parser.add_argument("--hnsw", nargs="*", default=["f32", "i8"], help="usearch storage types to build (none: skip)")
    args = parser.parse_args()
    model = local.load()
    texts, questions = corpus_and_queries()
    matrix = synthetic_vectors(args.vectors, args.real, texts, model)
    queries = model.embed(questions)
    n, dim = matrix.shape
    print(f"vector search benchmark: {n:,} vectors x {dim} ({args.real:,} embedded passages + noise), "
          f"{len(queries)} queries, top {K}; {load_line()}")

    times, exact = timed(lambda q: top(matrix @ q), queries)
    line("numpy float32 brute force", times, f"exact; {matrix.nbytes / 2**20:.0f} MiB")

    scale = 127.0 / np.abs(matrix).max()
    m8 = np.round(matrix * scale).astype(np.int8)
    t8, r8 = timed(lambda q: top(m8.astype(np.float32) @ q), queries)
    line("numpy int8 -> float32 per query", t8, f"recall@10 {recall(r8, exact):.3f}; {m8.nbytes / 2**20:.0f} MiB")
    q8s = [np.round(q * 127 / np.abs(q).max()).astype(np.int8) for q in queries]
    it = iter(q8s)
    t88, r88 = timed(lambda q: top(m8.astype(np.int32) @ next(it).astype(np.int32)), queries)
    line("numpy int8 x int8 (int32)", t88, f"recall@10 {recall(r88, exact):.3f}")

    try:
        from usearch.index import Index
    except ImportError:
        print("  usearch not installed (pip install usearch): HNSW not measured")
    else:
        for dtype in args.hnsw:
            index = Index(ndim=dim, metric="cos", dtype=dtype)
            began = time.perf_counter()
            index.add(np.arange(n), matrix, threads=2)
            build = time.perf_counter() - began
            tu, ru = timed(lambda q, index=index: np.asarray(index.search(q, K).keys, dtype=np.int64), queries)
            line(f"usearch HNSW {dtype} (2-thread build)", tu,
                 f"recall@10 {recall(ru, exact):.3f}; build {build:.1f} s; {index.memory_usage / 2**20:.0f} MiB")

    print(f"  SQLite load of the case's BLOBs into one matrix (once per case, then kept): "
          f"float32 {sqlite_load(matrix):.2f} s, int8 {sqlite_load(m8):.2f} s")
    print(f"  {load_line()}")


if __name__ == "__main__":
    main()
