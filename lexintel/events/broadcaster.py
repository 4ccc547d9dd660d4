"""In-memory fan-out of encoded frames to per-stream subscribers.

Publishing is synchronous and never waits for a subscriber: each subscriber has a bounded queue. When a
queue is full, a queued non-terminal frame about the same subject is dropped in favour of the new one
(progress coalesces: latest wins). Terminal frames are never coalesced away. If a frame still does not fit,
the subscriber is closed with reason ``lagging``; its client reconnects with ``Last-Event-ID`` and the
durable log fills the gap, so even then nothing is lost.

Subscribe/unsubscribe are synchronous too: Litestar runs SSE cleanup inside a cancelled task group, where an
``await`` in a ``finally`` would not run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lexintel.events.schema import Frame

__all__ = ["Broadcaster", "BroadcasterStats", "Subscription"]


@dataclass
class BroadcasterStats:
    """Counters for /metrics."""

    published: int = 0
    delivered: int = 0
    coalesced: int = 0
    dropped_lagging: int = 0


_TIMED_OUT = object()


def _expire(waiter: asyncio.Future[object]) -> None:
    if not waiter.done():
        waiter.set_result(_TIMED_OUT)


class Subscription:
    """One client's view of one stream: a bounded queue of frames and a wake-up flag."""

    __slots__ = ("_frames", "_stats", "_waiter", "closed_reason", "max_frames", "stream")

    def __init__(self, stream: str, max_frames: int, stats: BroadcasterStats) -> None:
        self.stream = stream
        self.max_frames = max_frames
        self.closed_reason: str | None = None
        self._frames: list[Frame] = []  # drained whole, never popped from the left: a list is smallest
        # A future exists only while the reader waits: cheaper than an asyncio.Event per idle client.
        self._waiter: asyncio.Future[object] | None = None
        self._stats = stats

    def __len__(self) -> int:
        return len(self._frames)

    def offer(self, frame: Frame) -> None:
        """Queue ``frame`` without waiting; coalesce or close on overflow."""
        if self.closed_reason is not None:
            return
        frames = self._frames
        full = len(frames) >= self.max_frames and not self._coalesce(frame)
        # Terminal frames get some headroom before we give up on the client.
        if full and (not frame.terminal or len(frames) >= 2 * self.max_frames):
            self._stats.dropped_lagging += 1
            self.close("lagging")
            return
        frames.append(frame)
        self._wake()

    def _coalesce(self, incoming: Frame) -> bool:
        """Drop the oldest queued non-terminal frame of the same subject (the client will see the newer state
        sooner); True if one was dropped."""
        frames = self._frames
        for index, queued in enumerate(frames):
            if queued.subject == incoming.subject and not queued.terminal:
                del frames[index]
                self._stats.coalesced += 1
                return True
        return False

    def close(self, reason: str) -> None:
        """Stop accepting frames and wake the reader so it can end the stream."""
        if self.closed_reason is None:
            self.closed_reason = reason
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next_batch(self, wait_seconds: float) -> list[Frame] | None:
        """All queued frames (possibly empty if closed); None if ``wait_seconds`` passed with nothing new."""
        if not self._frames and self.closed_reason is None:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(wait_seconds, _expire, waiter)  # lighter than asyncio.timeout()
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
            if waiter.result() is _TIMED_OUT:
                return None
        batch, self._frames = self._frames, []
        self._stats.delivered += len(batch)
        return batch


class Broadcaster:
    """Streams keyed by name (``document:<id>`` …), each with a set of subscriptions."""

    def __init__(self, default_queue: int = 256) -> None:
        self._streams: dict[str, set[Subscription]] = {}
        self.default_queue = default_queue
        self.stats = BroadcasterStats()
        self.closed = False

    def subscribe(self, stream: str, max_frames: int | None = None) -> Subscription:
        """Register a subscriber (synchronous: no event can slip between this and a log read)."""
        sub = Subscription(stream, max_frames or self.default_queue, self.stats)
        if self.closed:
            sub.close("shutdown")
        self._streams.setdefault(stream, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove a subscriber; safe to call twice and from a cancelled task."""
        subs = self._streams.get(sub.stream)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._streams[sub.stream]

    def publish(self, stream: str, frame: Frame) -> int:
        """Offer ``frame`` to every subscriber of ``stream``; returns how many were offered it."""
        self.stats.published += 1
        subs = self._streams.get(stream)
        if not subs:
            return 0
        for sub in tuple(subs):
            sub.offer(frame)
        return len(subs)

    def close_stream(self, stream: str, reason: str) -> None:
        """End every subscription of one stream (its subject was deleted)."""
        for sub in tuple(self._streams.get(stream, ())):
            sub.close(reason)

    def close_all(self, reason: str = "shutdown") -> None:
        """End every subscription (server shutdown); later subscribers are closed at once."""
        self.closed = True
        for subs in tuple(self._streams.values()):
            for sub in tuple(subs):
                sub.close(reason)

    def subscriber_count(self, stream: str | None = None) -> int:
        """Open subscriptions, in total or for one stream."""
        if stream is not None:
            return len(self._streams.get(stream, ()))
        return sum(len(s) for s in self._streams.values())

    def stream_count(self) -> int:
        """Streams with at least one subscriber."""
        return len(self._streams)
