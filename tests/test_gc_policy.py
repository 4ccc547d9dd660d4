"""The GC freezer (issue 18): freeze after a burst of streams, collect again only once *connections* closed.

A stream that ends on a kept-alive connection leaves uvicorn's objects alive; collecting then freed nothing and
paused the loop for seconds in the relay runs. These drive a real :class:`GCFreezer` on a real event loop with
its own connection count (what :class:`lexintel.api.http_edge.EdgeProtocol` reports in the server).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from lexintel.events.gc_policy import QUIET, UNFREEZE_MIN, YOUNG_THRESHOLD, ConnectionCount, GCFreezer


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def _settle() -> None:
    await asyncio.sleep(QUIET * 2.5)  # the check runs once QUIET passed without a new subscription


def test_a_burst_is_frozen_and_closed_streams_on_open_connections_do_not_unfreeze() -> None:
    async def scenario() -> tuple[int, int, int, int, int]:
        connections = ConnectionCount()
        freezer = GCFreezer(connections=connections)
        n = UNFREEZE_MIN + 200
        for _ in range(n):
            connections.made()
            freezer.opened()
        await _settle()
        frozen_after_burst, threshold = gc.get_freeze_count(), gc.get_threshold()[0]
        for _ in range(n):  # every stream ends; the connections stay open (keep-alive)
            freezer.closed()
        await _settle()
        unfreezes_with_connections_open = freezer.unfreezes
        for _ in range(n):  # now the clients leave
            connections.lost()
        await _settle()
        return frozen_after_burst, threshold, freezer.freezes, unfreezes_with_connections_open, freezer.unfreezes

    frozen, threshold, freezes, early, late = asyncio.run(scenario())
    assert frozen > 0 and freezes >= 1
    assert threshold == YOUNG_THRESHOLD
    assert early == 0, "streams closing on live connections must not trigger the (useless) full collection"
    assert late == 1, "the connections closing must trigger it once"


def test_without_an_edge_count_closed_subscriptions_trigger_the_cleanup() -> None:
    async def scenario() -> int:
        freezer = GCFreezer(connections=ConnectionCount())  # nothing counts connections (another server)
        for _ in range(UNFREEZE_MIN + 10):
            freezer.opened()
        await _settle()
        for _ in range(UNFREEZE_MIN + 10):
            freezer.closed()
        await _settle()
        return freezer.unfreezes

    assert asyncio.run(scenario()) == 1


def test_streams_churning_on_kept_alive_connections_are_collected_eventually() -> None:
    async def scenario() -> tuple[int, int]:
        connections = ConnectionCount()
        freezer = GCFreezer(connections=connections)
        for _ in range(300):
            connections.made()
        for _ in range(300):
            freezer.opened()
        await _settle()
        for _ in range(UNFREEZE_MIN):  # the same 300 connections open and close streams again and again
            freezer.closed()
            freezer.opened()
        await _settle()
        before = freezer.unfreezes
        for _ in range(UNFREEZE_MIN + 300):
            freezer.closed()
        await _settle()
        return before, freezer.unfreezes

    before, after = asyncio.run(scenario())
    assert before == 0 and after == 1
