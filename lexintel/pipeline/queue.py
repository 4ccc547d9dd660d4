"""The work queue: document ids waiting for a worker, and the cancel scopes of the ones being worked on.

It is its own small object so that everything that puts work in or stops it (intake, retry, delete, the
rescan, recovery) can hold it without holding the pipeline, which in turn needs those parts to be built.
The queue is unbounded and never blocks: the ``pending`` rows are the real backlog, and an id is queued at
most once (a duplicate enqueue is a no-op, and a claim is atomic anyway).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import anyio

__all__ = ["WorkQueue"]


class WorkQueue:
    """Ids waiting to be claimed, and the running documents' cancel scopes."""

    def __init__(self) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[str](math.inf)
        self._queued: set[str] = set()
        self._running: dict[str, anyio.CancelScope] = {}

    def __len__(self) -> int:
        """Ids waiting for a worker."""
        return len(self._queued)

    def enqueue(self, document_id: str) -> None:
        """Queue a pending document once (never blocks)."""
        if document_id in self._queued or document_id in self._running:
            return
        self._queued.add(document_id)
        self._send.send_nowait(document_id)

    async def take(self) -> str:
        """The next queued id (waits for one); several workers take from the same queue."""
        document_id = await self._receive.receive()
        self._queued.discard(document_id)
        return document_id

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
