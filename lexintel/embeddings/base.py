"""What every embedder shares: the failure it raises, unit vectors, and its health (a small circuit breaker).

An embedder that failed (an endpoint down, the model files missing) is not asked again for a while: the next
documents skip their embedding at once instead of each waiting through the timeouts and retries, and the
background retry (:mod:`lexintel.reembedding`) tries again when the pause is over. The pause starts at
``LEXINTEL_EMBEDDINGS_RETRY_INTERVAL`` (60 s), doubles with each failure in a row up to 10 min, and ends with
the first success.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["EmbeddingUnavailable", "Health", "Vectors", "normalized"]

Vectors = npt.NDArray[np.float32]
"""Rows of unit-length float32 vectors (the dot product of two rows is their cosine)."""

PAUSE_MAX = 600.0


class EmbeddingUnavailable(Exception):
    """Embedding cannot be done now; ``str(exc)`` is the reason a person reads (no exception names)."""


def normalized(matrix: npt.NDArray[np.floating]) -> Vectors:
    """``matrix`` as float32 rows scaled to unit length (zero rows stay zero)."""
    out = np.ascontiguousarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


@dataclass
class Health:
    """Whether the embedder may be asked now, and why not."""

    first_pause: float = 60.0
    reason: str = ""
    failures: int = 0
    paused_until: float = 0.0

    def ready(self) -> bool:
        """True unless a recent failure paused the embedder."""
        return time.monotonic() >= self.paused_until

    def failed(self, reason: str) -> None:
        """Record a failure: pause, twice as long as last time if the previous attempt failed too."""
        self.reason = reason
        self.failures += 1
        pause = min(self.first_pause * 2 ** min(self.failures - 1, 16), max(PAUSE_MAX, self.first_pause))
        self.paused_until = time.monotonic() + pause

    def succeeded(self) -> None:
        """The embedder answered: no pause."""
        self.reason, self.failures, self.paused_until = "", 0, 0.0
