"""Per-user cap on multipart uploads being received at once (issue 13: bytes in flight).

Chunked uploads are bounded by open sessions and declared bytes per case owner (:mod:`.chunked`); a plain
multipart request is bounded only by ``MAX_REQUEST_BYTES``. Without this cap one member could run a hundred
200 MiB requests at once and fill the incoming folder (and the disk other members upload to) before any limit
fires. Each request holds one slot from the moment its body starts being read until it is accepted or refused,
so the bytes one user can have in flight are at most ``MAX_UPLOADS_IN_FLIGHT_PER_USER * MAX_REQUEST_BYTES``.
In memory per instance: a restart frees every slot with the requests that held them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from lexintel.errors import RateLimited

__all__ = ["UploadSlots"]

RETRY_AFTER = 5  # seconds: an upload in flight usually ends within that


class UploadSlots:
    """How many multipart uploads each principal has in flight; past ``limit`` (0: no cap) a 429."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: Counter[str] = Counter()

    def in_flight(self, principal: str) -> int:
        """Uploads of ``principal`` being received now."""
        return self._held[principal]

    def total(self) -> int:
        """Uploads being received now, all principals together (the ``lexintel_uploads_in_flight`` gauge)."""
        return sum(self._held.values())

    @contextmanager
    def hold(self, principal: str) -> Iterator[None]:
        """One slot for the duration of the ``with`` block, or :class:`RateLimited` when none is free."""
        if self.limit and self._held[principal] >= self.limit:
            raise RateLimited(
                "too_many_uploads_in_flight",
                f"You already have {self._held[principal]} uploads being received; wait for one to finish (at most "
                f"{self.limit} at once, LEXINTEL_MAX_UPLOADS_IN_FLIGHT_PER_USER), or send the files in one request.",
                retry_after=RETRY_AFTER)
        self._held[principal] += 1
        try:
            yield
        finally:
            self._held[principal] -= 1
            if self._held[principal] <= 0:
                del self._held[principal]
