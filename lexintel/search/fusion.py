"""Reciprocal rank fusion: one ranking from several, by rank alone.

Why RRF (Cormack, Clarke & Büttcher, SIGIR 2009): bm25 scores and cosine similarities are on unrelated scales,
and RRF needs no calibration between them: each list gives an item ``1 / (k + rank)``, and the sums order the
result. ``k = 60`` is the paper's value and what Elasticsearch, OpenSearch and Vespa use by default.

Weighted (as Elasticsearch's ``rrf`` retriever and Vespa's ``reciprocal_rank_fusion`` allow): a list's
contributions are multiplied by its weight, so a weaker ranker (a small static embedding model beside bm25) can
re-order near-ties without outvoting the stronger one.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["RRF_K", "rrf"]

RRF_K = 60
K = TypeVar("K", bound=Hashable)


def rrf(rankings: Sequence[Sequence[K]], k: int = RRF_K,
        weights: Sequence[float] | None = None) -> list[tuple[K, float]]:
    """``(item, fused score)`` best first; ties keep the order of first appearance (earlier lists first).
    ``weights``: one per ranking (default 1 each); a weight of 0 only adds the list's items after the others."""
    scores: dict[K, float] = {}
    for i, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[i]
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: i for i, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
