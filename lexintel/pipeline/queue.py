"""The work queue: document ids waiting for a worker, and the cancel scopes of the ones being worked on.

It is its own small object so that everything that puts work in or stops it (intake, retry, delete, the
rescan, recovery) can hold it without holding the pipeline, which in turn needs those parts to be built.
The queue is unbounded and never blocks: the ``pending`` rows are the real backlog, and an id is queued at
most once (a duplicate enqueue is a no-op, and a claim is atomic anyway).

Fairness: ids wait in one lane per *owner* (the case owner's user id, or the case when it has none) and
workers take from the lanes in turn, so one member's flood of slow files delays that member's own later
files, not everyone's. Within a lane the order stays first in, first out, so recovery (which queues oldest
first) and a batch keep their order. ``key_of`` maps an id to its lane; the pipeline sets it from the
database; without it every id shares one lane (plain FIFO).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

__all__ = ["WorkQueue"]


class WorkQueue:
    """Ids waiting to be claimed, in per-owner lanes served round-robin, and the running documents' scopes."""

    def __init__(self, key_of: Callable[[str], str] | None = None) -> None:
        # one token per queued id: take() waits on the stream, then picks the id from the lanes
        self._send, self._receive = anyio.create_memory_object_stream[None](math.inf)
        self._lanes: dict[str, deque[str]] = {}  # insertion order is the round-robin order
        self._queued: set[str] = set()
        self._last = ""  # the lane served last
        self._running: dict[str, anyio.CancelScope] = {}
        self.key_of = key_of

    def __len__(self) -> int:
        """Ids waiting for a worker."""
        return len(self._queued)

    def enqueue(self, document_id: str) -> None:
        """Queue a pending document once, in its owner's lane (never blocks)."""
        if document_id in self._queued or document_id in self._running:
            return
        key = self._key(document_id)
        self._queued.add(document_id)
        self._lanes.setdefault(key, deque()).append(document_id)
        self._send.send_nowait(None)

    def _key(self, document_id: str) -> str:
        if self.key_of is None:
            return ""
        try:
            return self.key_of(document_id)
        except Exception:  # a lookup that fails must not lose the work: it waits in the shared lane
            return ""

    async def take(self) -> str:
        """The next id, from the lane after the one served last (waits for one); several workers share it."""
        await self._receive.receive()
        # the first lane in rotation order other than the one served last: a lane that was alone when it
        # was served must not go first again just because the newcomer's lane was added behind it
        key = next((k for k in self._lanes if k != self._last), self._last)
        self._last = key
        lane = self._lanes.pop(key)
        document_id = lane.popleft()
        if lane:
            self._lanes[key] = lane  # to the back of the rotation
        self._queued.discard(document_id)
        return document_id

    def waiting_lanes(self) -> dict[str, int]:
        """How many ids wait in each lane (for tests and diagnostics)."""
        return {key: len(lane) for key, lane in self._lanes.items()}

    @contextmanager
    def working_on(self, document_id: str) -> Iterator[anyio.CancelScope]:
        """The scope a document is processed in: :meth:`cancel` stops it."""
        with anyio.CancelScope() as scope:
            self._running[document_id] = scope
            try:
                yield scope
            finally:
                self._running.pop(document_id, None)

    @property
    def running(self) -> int:
        """Documents being worked on now."""
        return len(self._running)

    def running_ids(self) -> list[str]:
        """Ids of the documents being worked on now."""
        return list(self._running)

    def cancel(self, document_id: str) -> bool:
        """Stop work on a document; True if it was running."""
        scope = self._running.get(document_id)
        if scope is None:
            return False
        scope.cancel()
        return True
