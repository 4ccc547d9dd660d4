"""Keep CPython's garbage collector off the fan-out path, and measure what it still costs.

Why: at 10,000 SSE clients the server holds ~1.5 million long-lived container objects (uvicorn's protocol and
request cycle, the request task, the session). Each full collection walks all of them, frees nothing (they
are alive), and stops the event loop for ~0.5 s: issue 18 measured seven such stalls during one publish.
``gc.freeze()`` at start-up does not help: the connections arrive later.

:class:`GCFreezer` therefore freezes *after a burst of connections*: once new subscriptions have stopped
arriving for a moment, young garbage is collected (generations 0-1, cheap) and everything alive is moved to the
permanent generation, which collections never scan. Frozen objects are still freed by reference counting; only
cyclic garbage among them waits, so once many of the frozen connections have closed the freezer unfreezes, runs
one full collection (the cost we avoid during fan-out, paid once after clients left) and freezes again.
"Closed" counts *connections* where the HTTP edge reports them (:data:`CONNECTIONS`): a stream that ended on a
kept-alive connection leaves uvicorn's objects alive, so collecting then frees nothing and only stalls the loop
(the relay runs measured 1.2-2.4 s pauses freeing 0 objects when streams were counted). That
collection waits for a moment without frames being published (:data:`QUIET`), so it does not stall the clients
still listening, unless the closed connections' garbage has grown past four times the live ones. The
young-generation threshold is raised while connections are frozen, so fan-out's short-lived objects are
collected in fewer, still small passes.

:class:`GCWatch` times every collection through ``gc.callbacks`` (count, total and longest pause per
generation, pauses over 50 ms); ``/metrics`` exports it and the benchmarks read it before and after a run.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

__all__ = ["CONNECTIONS", "GC_WATCH", "PAUSE_BUCKETS", "ConnectionCount", "GCFreezer", "GCWatch"]

log = logging.getLogger(__name__)

LONG_PAUSE = 0.050  # seconds: the limit for a pause during fan-out
FREEZE_AFTER = 200  # new subscriptions since the last freeze before another freeze is worth it
QUIET = 0.5  # seconds without a new subscription: the burst is over
UNFREEZE_FRACTION = 0.5  # this share of the frozen subscriptions closed: collect their cycles
UNFREEZE_MIN = 1000
UNFREEZE_ANYWAY = 4  # closed frozen connections per live one past which the cleanup runs even under traffic
YOUNG_THRESHOLD = 5000  # gen-0 threshold while connections are frozen (CPython's default is 700)
PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class GCWatch:
    """Pause statistics of every collection in this process (one instance, installed once)."""

    __slots__ = (
        "_started",
        "collected",
        "collections",
        "freezes",
        "installed",
        "long_pauses",
        "max_pause",
        "pause_counts",
        "pause_seconds",
        "unfreezes",
    )

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.collected = [0, 0, 0]  # unreachable objects found, by generation
        self.pause_seconds = [0.0, 0.0, 0.0]
        self.max_pause = [0.0, 0.0, 0.0]
        self.long_pauses = 0  # collections that paused the loop longer than LONG_PAUSE
        self.pause_counts = [0] * (len(PAUSE_BUCKETS) + 1)  # per PAUSE_BUCKETS bound, the last one +Inf
        self.installed = False
        self.freezes = self.unfreezes = 0  # by every GCFreezer of the process
        self._started = 0.0

    def install(self) -> None:
        """Start timing collections (idempotent)."""
        if not self.installed:
            gc.callbacks.append(self._callback)
            self.installed = True

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = int(info.get("generation", 2))
        self.collections[generation] += 1
        self.collected[generation] += int(info.get("collected", 0))
        self.pause_seconds[generation] += pause
        if pause > self.max_pause[generation]:
            self.max_pause[generation] = pause
        if pause > LONG_PAUSE:
            self.long_pauses += 1
        self.pause_counts[bisect_left(PAUSE_BUCKETS, pause)] += 1


GC_WATCH = GCWatch()


class ConnectionCount:
    """HTTP connections opened and closed in this process, as the edge protocol sees them.

    :mod:`lexintel.api.http_edge` counts here (the events package knows nothing of HTTP); freezers listen, so
    a connection closing after its stream ended can still trigger the cleanup its objects were waiting for.
    """

    __slots__ = ("closed", "freezers", "opened")

    def __init__(self) -> None:
        self.opened = self.closed = 0
        self.freezers: weakref.WeakSet[GCFreezer] = weakref.WeakSet()  # a broadcaster's end ends its freezer

    def made(self) -> None:
        """A connection was accepted."""
        self.opened += 1

    def lost(self) -> None:
        """A connection closed: tell the freezers."""
        self.closed += 1
        for freezer in self.freezers:
            freezer.connection_lost()

    @property
    def counted(self) -> bool:
        """True once an edge protocol reports connections (otherwise freezers count subscriptions)."""
        return self.opened > 0


CONNECTIONS = ConnectionCount()


class GCFreezer:
    """Freeze long-lived connection state after connection bursts; collect it again once much of it closed.

    Driven by the broadcaster's subscribe/unsubscribe calls (synchronous, on the loop): a check runs at most
    once per :data:`QUIET` seconds while subscriptions change, never per frame.
    """

    __slots__ = ("__weakref__", "_activity", "_check", "_closed", "_connections", "_frozen_closed",
                 "_frozen_conns", "_frozen_lost", "_frozen_opened", "_frozen_subs", "_last_activity", "_last_open",
                 "_opened", "freezes", "unfreezes")

    def __init__(self, activity: Callable[[], int] | None = None,
                 connections: ConnectionCount | None = None) -> None:
        self._activity = activity  # a counter that moves while frames are published (the broadcaster's)
        self._connections = connections if connections is not None else CONNECTIONS
        self._connections.freezers.add(self)
        self._frozen_lost = 0  # connections closed, at the first freeze since the last cleanup
        self._frozen_conns = 0  # the most connections open at a freeze since the last cleanup
        self._last_activity = -1
        self._opened = self._closed = 0
        self._frozen_opened = 0  # subscriptions opened, at the last freeze (the next freeze is due after a burst)
        self._frozen_closed = 0  # subscriptions closed, at the first freeze since the last cleanup
        self._frozen_subs = 0  # the most subscriptions open at a freeze since the last cleanup; 0: none frozen
        self._last_open = 0.0
        self._check: asyncio.TimerHandle | None = None
        self.freezes = self.unfreezes = 0

    def opened(self) -> None:
        """A subscription was registered."""
        self._opened += 1
        self._last_open = time.monotonic()
        self._schedule()

    def closed(self) -> None:
        """A subscription was released."""
        self._closed += 1
        if self._frozen_subs:
            self._schedule()

    def connection_lost(self) -> None:
        """An HTTP connection closed (from :class:`ConnectionCount`)."""
        if self._frozen_subs:
            self._schedule()

    def _closed_since_freeze(self) -> tuple[int, int]:
        """(closed, frozen): connections when the edge counts them, else subscriptions. A stream churning on
        kept-alive connections still counts once its closed subscriptions outnumber the frozen connections
        twice over (its own cycles are garbage then, even if uvicorn's objects are not)."""
        subs_closed = self._closed - self._frozen_closed
        if not self._connections.counted:
            return subs_closed, self._frozen_subs
        lost = self._connections.closed - self._frozen_lost
        frozen = max(self._frozen_conns, 1)
        return (lost if subs_closed < 2 * max(frozen, UNFREEZE_MIN) else max(lost, subs_closed)), frozen

    def _schedule(self) -> None:
        if self._check is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # used outside a loop (a unit test): nothing to schedule
            return
        self._check = loop.call_later(QUIET, self._run, loop)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        self._check = None
        if time.monotonic() - self._last_open < QUIET:  # the burst goes on: look again later
            self._check = loop.call_later(QUIET, self._run, loop)
            return
        open_now = self._opened - self._closed
        closed_frozen, frozen = self._closed_since_freeze()
        if self._frozen_subs and closed_frozen >= max(UNFREEZE_MIN, frozen * UNFREEZE_FRACTION):
            activity = self._activity() if self._activity is not None else 0
            busy, self._last_activity = activity != self._last_activity, activity
            count = self._connections
            live = count.opened - count.closed if count.counted else open_now
            if busy and closed_frozen < UNFREEZE_ANYWAY * max(live, 1):
                self._check = loop.call_later(QUIET, self._run, loop)  # frames are flowing: not now
                return
            gc.unfreeze()
            started = time.perf_counter()
            gc.collect()  # the closed connections' reference cycles, once, now that they are gone
            self.unfreezes += 1
            GC_WATCH.unfreezes += 1
            log.debug("gc: %d frozen connections closed; full collection in %.0f ms", closed_frozen,
                      (time.perf_counter() - started) * 1000)
            self._frozen_subs = 0  # everything was collected: count from here
            self._freeze(open_now)
        elif self._opened - self._frozen_opened >= FREEZE_AFTER:
            gc.collect(1)  # young garbage first, so what is frozen is (nearly) all alive
            self._freeze(open_now)

    def _freeze(self, open_now: int) -> None:
        gc.freeze()
        self.freezes += 1
        GC_WATCH.freezes += 1
        count = self._connections
        if not self._frozen_subs:  # the first freeze since a cleanup: closes count from here (a later freeze
            self._frozen_closed, self._frozen_lost, self._frozen_conns = self._closed, count.closed, 0  # adds to it)
        self._frozen_opened = self._opened
        self._frozen_subs = max(self._frozen_subs, open_now, 1)
        self._frozen_conns = max(self._frozen_conns, count.opened - count.closed)
        _, second, third = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, second, third)
