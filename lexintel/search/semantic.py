"""Semantic retrieval: the passages whose vectors are closest to the query's, in the cases the reader may read.

Order of work, so access is decided before any vector is looked at: (1) the readable cases (only ``case_id``
if given) that hold vectors of the current model, in SQL; (2) each such case's matrix, from the in-memory
cache; (3) the query embedded by the same model; (4) cosine = dot product of unit vectors, numpy brute
force, best first. Brute force over float32 was chosen by measurement (scripts/bench_vectors.py,
docs/benchmarks.md): exact results and no index to build or keep in step with deletions, one ~100 MB pass per
query at 100,000 passages; an HNSW index (usearch) answers far faster but approximately (recall@10 0.91) and
took minutes to build for 100,000 vectors, so it would only pay for very large cases.

The cache holds one matrix per (case, model). It grows in place with the rows stored since it was loaded
(``seq`` only grows) and is reloaded when the case lost vectors (a deletion trigger counts them), so it
never serves a deleted passage and costs one indexed lookup per search when nothing changed.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from lexintel.embeddings import Embedder, EmbeddingUnavailable, embedder_for, settings_of
from lexintel.store import vectors
from lexintel.store.db import Database

__all__ = ["MatrixCache", "has_vectors", "semantic_passages"]


@dataclass
class _CaseMatrix:
    deletes: int = -1
    last_seq: int = 0
    size: int = 0
    ids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matrix: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def append(self, rows: list[tuple[int, int, bytes]], dim: int) -> None:
        """Add rows, doubling the buffers when full (ingestion appends often; no copy per search)."""
        need = self.size + len(rows)
        if need > len(self.ids) or self.matrix.shape[1] != dim:
            capacity = max(need, 2 * len(self.ids), 1024)
            ids = np.zeros(capacity, dtype=np.int64)
            matrix = np.zeros((capacity, dim), dtype=np.float32)
            ids[: self.size] = self.ids[: self.size]
            if self.size:
                matrix[: self.size] = self.matrix[: self.size]
            self.ids, self.matrix = ids, matrix
        block = np.frombuffer(b"".join(row[2] for row in rows), dtype=np.float32).reshape(len(rows), dim)
        self.ids[self.size : need] = [row[1] for row in rows]
        self.matrix[self.size : need] = block
        self.size = need
        self.last_seq = rows[-1][0]


CACHE_MAX_BYTES = 1 << 30
"""Matrices kept at most (1 GiB: ten cases of 100,000 passages at 256 dimensions); past it the least recently
searched cases are dropped and reloaded from SQLite when next searched (2.9 s for 100,000 vectors under load)."""


class MatrixCache:
    """Per-(case, model) matrices of one database, refreshed against the vectors table on every use, least
    recently used dropped past ``max_bytes`` (without a bound, every case ever searched stayed in memory)."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self._lock = threading.Lock()
        self._cases: dict[tuple[str, int], _CaseMatrix] = {}  # least recently used first
        self.max_bytes = max_bytes

    @property
    def nbytes(self) -> int:
        """Memory held by the cached matrices and their id arrays (capacity, not only the rows in use)."""
        return sum(e.matrix.nbytes + e.ids.nbytes for e in self._cases.values())

    def view(self, conn: sqlite3.Connection, case_id: str, model: int,
             dim: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """(chunk ids, unit vectors) of the case as the database holds them now (views: do not keep)."""
        with self._lock:
            key = (case_id, model)
            entry = self._cases.pop(key, None)
            deletes = vectors.deletes(conn, case_id, model)
            if entry is None or entry.deletes != deletes:
                entry = _CaseMatrix(deletes=deletes)
            self._cases[key] = entry  # now the most recently used
            rows = vectors.rows_after(conn, case_id, model, entry.last_seq)
            if rows:
                entry.append(rows, dim)
            while len(self._cases) > 1 and self.nbytes > self.max_bytes:
                del self._cases[next(iter(self._cases))]  # never the one being searched: it is last
            return entry.ids[: entry.size], entry.matrix[: entry.size]

    def cases(self) -> list[tuple[str, int]]:
        """The (case, model) pairs held, least recently used first."""
        with self._lock:
            return list(self._cases)

    def forget(self) -> None:
        """Drop every matrix (memory back; the next search reloads)."""
        with self._lock:
            self._cases.clear()


_caches: weakref.WeakKeyDictionary[Database, MatrixCache] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def _cache(db: Database) -> MatrixCache:
    with _guard:
        cache = _caches.get(db)
        if cache is None:
            cache = _caches[db] = MatrixCache()
        return cache


def _resolve(svc_or_db: Any) -> tuple[Database, Embedder | None]:
    """(database, embedder) from the Services or a Database (None: embeddings off or not configured)."""
    if isinstance(svc_or_db, Database):
        db = svc_or_db
        settings = settings_of(db)
    else:
        db, settings = svc_or_db.db, svc_or_db.settings
    return db, (embedder_for(settings) if settings is not None else None)


async def semantic_passages(svc_or_db: Any, query: str, *, case_id: str | None, reader_id: str | None,
                            limit: int, within: Sequence[tuple[int, int]] = ()) -> list[tuple[int, float]]:
    """(chunk id, cosine) of the ``limit`` passages closest in meaning to ``query``, best first, among the
    passages ``reader_id`` may read (None: every case) in ``case_id`` (None: all of them). ``[]`` when no
    vectors exist, embeddings are off, or the embedder is unavailable (search then falls back to keywords).
    ``within``: only chunk ids in these inclusive ranges (hybrid: the documents keyword ranked best)."""
    db, embedder = _resolve(svc_or_db)
    if embedder is None or limit <= 0 or not query.strip():
        return []
    known = vectors.find_model(db, embedder.name)
    if known is None:
        return []
    model, dim = known

    try:
        q = await embedder.query(query)
    except EmbeddingUnavailable as exc:
        embedder.health.failed(str(exc))
        return []
    if q.shape != (dim,) or not np.any(q):
        return []  # a query with no known token, or an endpoint that changed its model's dimension
    cache = _cache(db)

    def rank(conn: sqlite3.Connection) -> list[tuple[int, float]]:
        found_ids, found_scores = [], []
        # access first, in the same read as the scoring (one thread hop per search)
        for case in vectors.cases_with_vectors(conn, model, case_id, reader_id):
            ids, matrix = cache.view(conn, case, model, dim)
            if not len(ids):
                continue
            if within:
                inside = np.zeros(len(ids), dtype=bool)
                for lo, hi in within:
                    inside |= (ids >= lo) & (ids <= hi)
                ids, matrix = ids[inside], matrix[inside]
                if not len(ids):
                    continue
            scores = matrix @ q
            k = min(limit, len(scores))
            top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
            found_ids.append(ids[top])
            found_scores.append(scores[top])
        if not found_ids:
            return []
        all_ids, all_scores = np.concatenate(found_ids), np.concatenate(found_scores)
        order = np.argsort(-all_scores, kind="stable")[:limit]
        return [(int(all_ids[i]), float(all_scores[i])) for i in order if all_scores[i] > 0]

    return await db.read(rank)


async def has_vectors(db: Database, case_id: str | None, reader_id: str | None) -> bool:
    """True when semantic search has something to search for this reader (and case): vectors of the current
    model exist in a case they may read. Hybrid search is the default only then."""
    _, embedder = _resolve(db)
    if embedder is None:
        return False
    known = vectors.find_model(db, embedder.name)
    if known is None:
        return False
    model = known[0]

    def check(conn: sqlite3.Connection) -> bool:
        return bool(vectors.cases_with_vectors(conn, model, case_id, reader_id))

    return await db.read(check)
