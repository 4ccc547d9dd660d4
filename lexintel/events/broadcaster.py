"""In-memory fan-out of encoded frames to per-stream subscribers.

Publishing is synchronous and never waits for a subscriber: each subscriber has a bounded queue. When a
queue is full, a queued non-terminal frame about the same subject is dropped in favour of the new one
(progress coalesces: latest wins). Terminal frames are never coalesced away. If a frame still does not fit,
the subscriber is closed with reason ``lagging``; its client reconnects with ``Last-Event-ID`` and the
durable log fills the gap, so even then nothing is lost.

Subscribe/unsubscribe are synchronous too: Litestar runs SSE cleanup inside a cancelled task group, where an
``await`` in a ``finally`` would not run.

Cost per frame and per connection (issue 18, 10,000 clients): a waiting reader holds one future and nothing
else. Its ping timeout is not a timer of its own (uvloop's ``call_later`` was 15 % of the server's CPU at
10,000 clients, one timer created and cancelled per delivery) but a deadline checked by one broadcaster-wide
ticker, every quarter of the shortest wait, so a ping comes 1-1.25 intervals after the last frame. A reader is
woken once per batch: the first frame offered sets its future, later frames of the same publish burst (an
ingest batch, an emit's three streams) only join its queue, and it takes them all in one ``next_batch``. A
subscription in push mode (``sink`` set: :mod:`lexintel.api.sse` does this for live streams) is not woken at
all: it is listed once per burst and the broadcaster hands its queued frames to the sink from one
``call_soon`` callback after the burst, which writes them to the client in one send. After
bursts of connections, :class:`~lexintel.events.gc_policy.GCFreezer` moves the long-lived connection state out
of the garbage collector's reach.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from lexintel.events.gc_policy import GC_WATCH, GCFreezer
from lexintel.events.schema import Frame

__all__ = ["Broadcaster", "BroadcasterStats", "Subscription"]

log = logging.getLogger(__name__)


@dataclass
class BroadcasterStats:
    """Counters for /metrics."""

    published: int = 0
    delivered: int = 0
    coalesced: int = 0
    dropped_lagging: int = 0


_TIMED_OUT = object()


class Subscription:
    """One client's view of one stream: a bounded queue of frames and a wake-up flag."""

    __slots__ = ("_deadline", "_dirty", "_frames", "_idle_ticks", "_owner", "_stats", "_waiter", "closed_reason",
                 "max_frames", "sink", "stream")

    def __init__(self, stream: str, max_frames: int, stats: BroadcasterStats,
                 owner: Broadcaster | None = None) -> None:
        self.stream = stream
        self.max_frames = max_frames
        self.closed_reason: str | None = None
        self._frames: list[Frame] = []  # drained whole, never popped from the left: a list is smallest
        # A future exists only while the reader waits: cheaper than an asyncio.Event per idle client.
        self._waiter: asyncio.Future[object] | None = None
        self._deadline = 0.0  # loop time at which a waiting reader is told "nothing new" (ping time)
        self._stats = stats
        self._owner = owner
        self.sink: Callable[[list[Frame]], None] | None = None
        """Push mode: the broadcaster hands queued frames to this (synchronous) writer once per publish burst,
        and ``[]`` when the stream has been idle for a ping interval; None: the reader pulls (``next_batch``)."""
        self._dirty = False  # push mode: already listed for the next flush
        self._idle_ticks = 0  # push mode: ticker rounds since the last write

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
        if self.sink is None:
            self._wake()
        elif not self._dirty and self._owner is not None:
            self._dirty = True
            self._owner.mark_dirty(self)
        elif self._owner is None:  # pragma: no cover  (push mode is only offered through a broadcaster)
            self.flush()

    def flush(self) -> None:
        """Push mode: hand everything queued to the sink in one call (so one write to the client)."""
        self._dirty = False
        sink = self.sink
        if sink is None or not self._frames:  # (closed: still written, e.g. a terminal frame just before)
            return
        batch, self._frames = self._frames, []
        self._stats.delivered += len(batch)
        self._idle_ticks = 0
        sink(batch)

    def take(self) -> list[Frame]:
        """Everything queued now (switching to push mode: what arrived while the reader was replaying)."""
        batch, self._frames = self._frames, []
        self._stats.delivered += len(batch)
        return batch

    def requeue(self, batch: list[Frame]) -> None:
        """Put frames taken by ``next_batch`` back in front (the reader switches to push mode)."""
        self._frames[:0] = batch
        self._stats.delivered -= len(batch)

    async def wait_closed(self) -> None:
        """Push mode: wait until the subscription is closed (frames reach the client through ``sink``)."""
        loop = asyncio.get_running_loop()
        while self.closed_reason is None:
            waiter = self._waiter = loop.create_future()
            self._deadline = float("inf")  # never "timed out": pings are the sink's
            try:
                await waiter
            finally:
                self._waiter = None

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

    def expire(self, now: float) -> None:
        """Tell a reader waiting since before ``now - wait_seconds`` that nothing came (it sends a ping)."""
        waiter = self._waiter
        if waiter is not None and self._deadline <= now and not waiter.done():
            waiter.set_result(_TIMED_OUT)

    async def next_batch(self, wait_seconds: float) -> list[Frame] | None:
        """All queued frames (possibly empty if closed); None if ``wait_seconds`` passed with nothing new."""
        if not self._frames and self.closed_reason is None:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            self._deadline = loop.time() + wait_seconds
            if self._owner is not None:
                self._owner.watch_deadline(loop, wait_seconds)
            else:  # a subscription without a broadcaster (not made by subscribe): its own timer
                loop.call_later(wait_seconds, self.expire, loop.time() + wait_seconds)
            try:
                await waiter
            finally:
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
        self.gc = GCFreezer(lambda: self.stats.published)
        self._tick = 0.0  # seconds between deadline checks (a quarter of the shortest wait); 0: not ticking
        self._ticker: asyncio.TimerHandle | None = None
        self._dirty: list[Subscription] = []  # push-mode subscriptions with frames for the next flush
        self._flush_handle: asyncio.Handle | None = None
        GC_WATCH.install()

    def subscribe(self, stream: str, max_frames: int | None = None) -> Subscription:
        """Register a subscriber (synchronous: no event can slip between this and a log read)."""
        sub = Subscription(stream, max_frames or self.default_queue, self.stats, self)
        if self.closed:
            sub.close("shutdown")
        self._streams.setdefault(stream, set()).add(sub)
        self.gc.opened()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Remove a subscriber; safe to call twice and from a cancelled task."""
        subs = self._streams.get(sub.stream)
        if subs is None:
            return
        if sub in subs:
            subs.discard(sub)
            self.gc.closed()
        if not subs:
            del self._streams[sub.stream]

    def watch_deadline(self, loop: asyncio.AbstractEventLoop, wait_seconds: float) -> None:
        """Make sure the ticker runs often enough for a reader that waits ``wait_seconds``."""
        tick = max(wait_seconds / 4, 0.01)
        if self._ticker is None or tick < self._tick:
            if self._ticker is not None:
                self._ticker.cancel()
            self._tick = tick
            self._ticker = loop.call_later(tick, self._expire_waiters, loop)

    def mark_dirty(self, sub: Subscription) -> None:
        """A push-mode subscription got a frame: write it (with whatever else this burst brings) once the
        current callback (an emit, an ingest batch) is done."""
        self._dirty.append(sub)
        if self._flush_handle is None:
            try:
                self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)
            except RuntimeError:  # no loop (a unit test publishing synchronously): write now
                self._flush()

    def _flush(self) -> None:
        self._flush_handle = None
        dirty, self._dirty = self._dirty, []
        for sub in dirty:
            try:
                sub.flush()
            except Exception:  # a writer must never break the others' delivery
                log.exception("SSE writer failed")
                sub.close("error")

    def _expire_waiters(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for subs in self._streams.values():
            for sub in subs:
                sink = sub.sink
                if sink is not None:  # push mode: a ping after 4-5 quiet rounds (1-1.25 intervals)
                    sub._idle_ticks += 1
                    if sub._idle_ticks >= 5:
                        sub._idle_ticks = 0
                        sink([])
                elif sub._waiter is not None:
                    sub.expire(now)
        # keep ticking while anyone listens; the next wait restarts it otherwise
        self._ticker = loop.call_later(self._tick, self._expire_waiters, loop) if self._streams else None

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
