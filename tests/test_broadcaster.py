"""The broadcaster's bounded queues: coalescing, terminal frames kept, lagging clients cut loose."""

from __future__ import annotations

import asyncio

from lexintel.events.broadcaster import Broadcaster
from lexintel.events.schema import Frame


def frame(i: int, subject: str = "document:a", name: str = "progress") -> Frame:
    return Frame(i, name, subject, b"id: %d\n\n" % i)


async def test_publish_never_waits_and_each_subscriber_gets_its_frames() -> None:
    b = Broadcaster(default_queue=16)
    fast, other = b.subscribe("case:x"), b.subscribe("case:x")
    assert b.publish("case:x", frame(1)) == 2
    assert b.publish("case:y", frame(1)) == 0  # nobody listening: dropped, nothing kept
    assert [f.id for f in await fast.next_batch(1)] == [1]
    assert [f.id for f in await other.next_batch(1)] == [1]
    assert await fast.next_batch(0.05) is None  # nothing new: ping time


async def test_a_slow_subscriber_coalesces_progress_latest_wins_and_keeps_terminal() -> None:
    b = Broadcaster(default_queue=8)
    slow = b.subscribe("batch:1")
    for i in range(1, 200):
        b.publish("batch:1", frame(i, subject="document:a"))
    b.publish("batch:1", frame(200, subject="document:a", name="complete"))
    assert len(slow) <= 9
    got = await slow.next_batch(1)
    assert got is not None
    ids = [f.id for f in got]
    assert ids == sorted(ids) and ids[-1] == 200 and got[-1].terminal
    assert 199 in ids and 1 not in ids  # the oldest progress made room; the latest survived
    assert slow.closed_reason is None and b.stats.coalesced > 0


async def test_overflow_without_anything_to_coalesce_disconnects_as_lagging() -> None:
    b = Broadcaster(default_queue=8)
    slow = b.subscribe("case:c")
    for i in range(1, 50):
        b.publish("case:c", frame(i, subject=f"document:{i}"))  # all different subjects: nothing coalesces
    assert slow.closed_reason == "lagging" and b.stats.dropped_lagging == 1
    assert len(slow) <= 8  # memory stays bounded
    got = await slow.next_batch(1)
    assert got is not None and [f.id for f in got] == list(range(1, 9))
    b.unsubscribe(slow)
    b.unsubscribe(slow)  # idempotent
    assert b.subscriber_count() == 0 and b.stream_count() == 0


async def test_close_all_wakes_waiting_readers_and_closes_late_subscribers() -> None:
    b = Broadcaster()
    sub = b.subscribe("case:c")
    waiter = asyncio.create_task(sub.next_batch(30))
    await asyncio.sleep(0)  # one turn of the loop, not a timed wait: the task runs up to its await in next_batch
    b.close_all("shutdown")
    assert await asyncio.wait_for(waiter, 2) == []
    assert sub.closed_reason == "shutdown"
    assert b.subscribe("case:d").closed_reason == "shutdown"


async def test_push_mode_writes_a_burst_in_one_call_and_keeps_frames_while_the_writer_is_busy() -> None:
    b = Broadcaster(default_queue=8)
    sub = b.subscribe("case:p")
    writes: list[list[int]] = []
    sub.sink = lambda batch: writes.append([f.id for f in batch])
    for i in range(1, 4):  # one publish burst (one emit, one ingest batch): nothing is written yet
        b.publish("case:p", frame(i, subject=f"document:{i}"))
    assert writes == [] and len(sub) == 3
    await asyncio.sleep(0)  # the flush runs once the publishing callback is done
    assert writes == [[1, 2, 3]] and len(sub) == 0 and b.stats.delivered == 3
    sub.sink = None  # the writer is waiting on a full socket: frames queue, bounded as in pull mode
    for i in range(4, 40):
        b.publish("case:p", frame(i, subject="document:same"))
    await asyncio.sleep(0)
    assert writes == [[1, 2, 3]] and len(sub) <= 8 and sub.closed_reason is None  # coalesced, latest kept
    assert [f.id for f in sub.take()][-1] == 39


async def test_push_mode_pings_an_idle_stream_from_the_shared_ticker() -> None:
    b = Broadcaster()
    sub = b.subscribe("case:q")
    pinged = asyncio.get_running_loop().create_future()
    sub.sink = lambda batch: None if batch or pinged.done() else pinged.set_result(True)
    b.watch_deadline(asyncio.get_running_loop(), 0.04)  # a 40 ms ping interval: one ticker for every stream
    assert await asyncio.wait_for(pinged, 10)


async def test_a_waiting_reader_without_news_times_out_through_the_ticker_not_a_timer_of_its_own() -> None:
    b = Broadcaster()
    subs = [b.subscribe(f"case:{i}") for i in range(3)]
    results = await asyncio.wait_for(asyncio.gather(*(s.next_batch(0.05) for s in subs)), 10)
    assert results == [None, None, None]
