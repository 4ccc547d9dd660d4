"""The optional Redis mirror: several LexIntel instances share every progress event.

Out: an :class:`Emitter` listener puts each local event on a bounded queue (drop-oldest, counted: Redis
slowness never delays the pipeline or local streams); one publisher task sends them, pipelined, to
``document:{id}:progress`` and ``batch:{id}:progress`` (the ProgressEvent JSON + ``instance_id``, ``ids``,
``terminal``) and appends them to a Redis Stream per subject under LexIntel's own key,
``lexintel:stream:{kind}:{id}`` (entry id ``<event id>-0``, ``MAXLEN ~``, one-hour TTL), case streams included.
The original design's keys stay the original design's: for a batch's own events the mirror also keeps
``batch:{id}:progress:current`` (string) and ``batch:{id}:progress:log`` (list), both in the original
``BatchProgressEvent`` shape with a one-hour TTL, so its documented ``redis-cli GET``/``LRANGE`` work.

In: a pattern subscription delivers other instances' events (own echoes skipped by ``instance_id``) through
:meth:`Emitter.ingest`, which appends them to this instance's log **under the origin's ids** and broadcasts
them without calling listeners (so nothing is published back). Every stream has exactly one origin (the
instance holding its document/batch/case row), so its ids are the same on every instance and a
``Last-Event-ID`` taken from any instance resumes correctly on any other. History from before this instance
saw a subject comes from the Redis log: :meth:`RedisMirror.adopt` reads it when a client opens a stream this
instance does not own; holes found later (a dropped pub/sub message, an outage) are filled from the log before
the newer event is delivered, so the SSE replay stays gap-free. Outside workers' events (the original design's
shape) are translated by :mod:`lexintel.events.foreign`.

Redis down at start or mid-run: the instance keeps serving from its in-memory broadcaster; one warning per
outage, reconnects with capped exponential backoff, ``state`` and counters for ``/ready`` and ``/metrics``.

At scale (issue 18): one pub/sub read is ingested in one SQLite transaction, outside workers' events included;
history reads for stream opens queue for a small blocking pool (never redis-py's "Too many connections"), one
read per stream at a time; a Redis error is :class:`HistoryUnavailable` (503 + Retry-After), never a 404.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from typing import Any, Literal

import anyio
from anyio.abc import TaskStatus
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from lexintel.events.broadcaster import Broadcaster
from lexintel.events.emitter import EmittedEvent, Emitter, IngestedEvent
from lexintel.events.foreign import (
    ForeignEventError,
    channel_stream,
    from_instance,
    from_outside_batch,
    from_outside_worker,
    targets,
)
from lexintel.events.log import EventLog, StoredEvent
from lexintel.events.mirror_parts import (
    HISTORY_TIMEOUT,
    HistoryUnavailable,
    OutsideLatest,
    as_latest,
    history_client,
    legacy_log_key,
    log_key,
    logged_events,
    original_batch_commands,
    redact,
    root_cause,
)
from lexintel.events.mirror_signing import MirrorGate
from lexintel.events.model import event_fields
from lexintel.events.schema import encode_json

__all__ = ["PATTERNS", "HistoryUnavailable", "MirrorState", "RedisMirror", "legacy_log_key", "log_key"]

log = logging.getLogger(__name__)

PATTERNS = ("document:*:progress", "batch:*:progress", "case:*:notices")  # notices: events/mirror_notices.py
MirrorState = Literal["disabled", "connecting", "connected", "down"]
LOG_TTL = 3600  # seconds a subject's Redis log lives after its last event (as the batch design's :log)
LOG_MAXLEN = 10_000  # entries kept per subject log (approximate trim)
QUEUE_MAX = 10_000  # outbound events buffered while Redis is slow or down
PUBLISH_BATCH = 256
RECEIVE_BATCH = 512
BACKOFF_MIN, BACKOFF_MAX = 0.25, 10.0
EXPIRE_REFRESH = 60.0  # re-send EXPIRE for a log key at most this often
ADOPT_GRACE = 0.5  # seconds a stream request for an unknown id waits for the origin's first event


class RedisMirror:
    """Publish local events to Redis, deliver other instances' events locally. Counters are plain attributes."""

    def __init__(self, url: str, instance_id: str, emitter: Emitter, log: EventLog, broadcaster: Broadcaster,
                 *, queue_max: int = QUEUE_MAX, gate: MirrorGate | None = None) -> None:
        self.url = url
        self.instance_id = instance_id
        self.state: MirrorState = "connecting"
        self.published = 0  # local events sent to Redis
        self.received = 0  # foreign events appended to the local log
        self.dropped = 0  # local events dropped from the full outbound queue
        self.errors = 0  # bad messages, failed commands
        self.reconnects = 0  # successful connections after the first
        self.last_error: str | None = None
        self.queue_max = queue_max
        self.gate = gate  # signs what we publish, decides what we believe (events/mirror_signing.py)
        self._emitter = emitter
        self._log = log
        self._broadcaster = broadcaster
        self._queue: deque[Any] = deque()  # EmittedEvents (and case notices: events/mirror_notices.py)
        self._wakeup = asyncio.Event()
        self._client: Redis | None = None
        self._history: Redis | None = None  # history reads for stream opens: a small blocking pool
        self._adopting: dict[str, asyncio.Task[bool]] = {}  # one history read per stream at a time
        self._outside = OutsideLatest(log)  # outside workers' run/id without a database read per message
        self._complete: set[str] = set()  # foreign streams whose Redis history is in the local log
        self._expired_at: dict[str, float] = {}
        self._ever_connected = False
        self._own_marker = f'"instance_id":{json.dumps(instance_id)}'.encode()

    # the emitter side (synchronous, on the loop thread, never waits)
    def offer(self, event: EmittedEvent) -> None:
        """Emitter listener: queue a local event for publishing; drop the oldest when full."""
        if len(self._queue) >= self.queue_max:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._wakeup.set()

    def snapshot(self) -> dict[str, Any]:
        """State and counters, for ``/ready`` and ``/metrics``."""
        return {
            "state": self.state,
            "instance_id": self.instance_id,
            "published": self.published,
            "received": self.received,
            "dropped": self.dropped,
            "errors": self.errors,
            "reconnects": self.reconnects,
            "queued": len(self._queue),
            "last_error": self.last_error,
            "rejected": self.rejected,
        }

    @property
    def rejected(self) -> dict[str, int]:
        """Messages dropped by the gate (unsigned, forged, outside events not believed), by reason."""
        return dict(self.gate.rejected) if self.gate else {}

    # lifecycle
    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Connect, serve, and on any failure reconnect with backoff, until cancelled. Never raises."""
        task_status.started()
        delay = BACKOFF_MIN
        while True:
            connected_at = time.monotonic()
            try:
                await self._session()
            except Exception as exc:  # includes ExceptionGroup from the session's task group
                self._went_down(root_cause(exc))
            if self.state == "connected":  # the session ended without an error (should not happen)
                self.state = "down"
            if time.monotonic() - connected_at > 30:
                delay = BACKOFF_MIN  # a long healthy session: start the next backoff from the bottom
            await anyio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)

    def _went_down(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, (RedisError, OSError)):
            self.errors += 1
            log.error("Redis mirror failed unexpectedly; restarting it", exc_info=exc)
        if self.state != "down":  # one warning per outage, not one per retry
            log.warning(
                "Redis mirror: %s unreachable (%s). Serving local streams from memory; events of other "
                "instances are not seen until Redis is back. Retrying with backoff.",
                redact(self.url), self.last_error,
            )
        self.state = "down"

    async def _session(self) -> None:
        client = Redis.from_url(
            self.url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=15,
            retry=Retry(NoBackoff(), 0),  # our loop reconnects (and resyncs); no silent retries inside
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        history = history_client(self.url)
        try:
            await client.ping()
            await pubsub.psubscribe(*PATTERNS)
            await self._resync(client)
            self._client, self._history = client, history
            if self._ever_connected:
                self.reconnects += 1
            if self.state == "down":
                log.warning("Redis mirror: reconnected to %s", redact(self.url))
            else:
                log.info("Redis mirror: connected to %s as instance %s", redact(self.url), self.instance_id)
            self._ever_connected = True
            self.state = "connected"
            self.last_error = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._publish_loop, client)
                await self._receive_loop(client, pubsub)
        finally:
            self._client = self._history = None
            with anyio.move_on_after(2, shield=True):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()
                await history.aclose()

    # out
    async def _publish_loop(self, client: Redis) -> None:
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = [self._queue.popleft() for _ in range(min(PUBLISH_BATCH, len(self._queue)))]
            pipe = client.pipeline(transaction=False)
            for event in batch:
                self._add_commands(pipe, event)
            try:
                results = await pipe.execute(raise_on_error=False)
            except (RedisError, OSError):
                self._requeue(batch)
                raise
            for result in results:
                if isinstance(result, ResponseError) and "equal or smaller" not in str(result):
                    self.errors += 1  # (a re-sent XADD after a reconnect is expected to be refused)
                elif isinstance(result, (RedisError, OSError)):
                    self._requeue(batch)  # the connection broke mid-pipeline: resend after reconnecting
                    raise result
            self.published += len(batch)

    def _requeue(self, batch: list[EmittedEvent]) -> None:
        self._queue.extendleft(reversed(batch))
        while len(self._queue) > self.queue_max:
            self._queue.popleft()
            self.dropped += 1

    def _add_commands(self, pipe: Pipeline, event: EmittedEvent) -> None:
        body, ids = event_fields(event.event), event.ids
        extra = {"ids": ids, "terminal": event.terminal, "instance_id": self.instance_id}
        now = time.monotonic()
        for kind in ("document", "batch", "case"):
            ident = body.get(f"{kind}_id")
            stream = f"{kind}:{ident}"
            if not ident or stream not in ids:
                continue
            payload = encode_json({"id": ids[stream], **body, **extra})
            payload = self.gate.sign(stream, payload) if self.gate else payload
            if kind != "case":  # case streams have no channel: they are fed from document/batch messages
                pipe.publish(f"{stream}:progress", payload)
            if kind == "batch" and not body.get("document_id"):
                original_batch_commands(pipe, ident, body, LOG_TTL)
            key = log_key(stream)
            pipe.xadd(key, {"e": payload}, id=f"{ids[stream]}-0", maxlen=LOG_MAXLEN, approximate=True)
            if now - self._expired_at.get(key, -EXPIRE_REFRESH) >= EXPIRE_REFRESH:
                pipe.expire(key, LOG_TTL)
                self._expired_at[key] = now
        if len(self._expired_at) > 50_000:  # forget keys not refreshed lately
            cutoff = now - EXPIRE_REFRESH
            self._expired_at = {k: t for k, t in self._expired_at.items() if t >= cutoff}

    # in
    async def _receive_loop(self, client: Redis, pubsub: PubSub) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            batch = [message]
            while len(batch) < RECEIVE_BATCH:
                more = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.0)
                if more is None:
                    break
                batch.append(more)
            await self._deliver(client, batch)

    async def _deliver(self, client: Redis, messages: list[dict[str, Any]]) -> None:
        """Ingest one read's messages in order, in as few transactions as holes allow (usually one)."""
        pending: list[IngestedEvent] = []
        last: dict[str, int] = {}  # newest id per stream including ``pending``
        newer: dict[str, StoredEvent] = {}  # outside streams: their newest event in ``pending``
        for message in messages:
            data = message.get("data")
            if not isinstance(data, bytes) or self._own_marker in data:
                continue  # our own echo
            channel = message.get("channel")
            subject = channel_stream(channel.decode() if isinstance(channel, bytes) else str(channel))
            if subject is None:
                continue
            kind, ident = subject
            if self.gate and (data := self.gate.admit(f"{kind}:{ident}", data)) is None:
                continue  # unsigned or forged: counted in rejected
            try:
                decoded = json.loads(data)
                if not isinstance(decoded, dict):
                    raise ForeignEventError("not a JSON object")
                if "instance_id" not in decoded:  # an outside worker, original design's shape
                    stream = f"{kind}:{ident}"
                    if self.gate and not await self.gate.outside_allowed(client, stream, log_key(stream)):
                        continue  # outside events off, or a stream an instance owns
                    translate = from_outside_worker if kind == "document" else from_outside_batch
                    event = translate(ident, decoded, newer.get(stream) or self._outside.before(stream))
                    # its run/id depend on what came before it, in the log or earlier in this batch
                    newer[stream] = as_latest(event, 0)
                    pending.append(event)
                    continue
                events = [from_instance(stream, decoded) for stream in targets(kind, ident, decoded)]
            except (ValueError, ForeignEventError) as exc:
                self.errors += 1
                log.debug("Redis mirror: dropped a message on %s: %s", channel, exc)
                continue
            for event in events:
                assert event.id is not None
                newest = last.get(event.stream, self._log.last_id(event.stream))
                if event.id > newest + 1 and event.stream in self._complete:
                    self._flush(pending, newer)  # keep order: what we hold goes first, then the hole, then this
                    pending = []
                    await self._fill(client, event.stream, newest, event.id)
                pending.append(event)
                last[event.stream] = max(newest, event.id)
        self._flush(pending, newer)

    def _flush(self, events: list[IngestedEvent], outside: dict[str, StoredEvent] | None = None) -> None:
        """Ingest ``events`` in one transaction; remember the latest event of ``outside`` workers' streams."""
        if not events:
            return
        appended = self._emitter.ingest(events)
        self.received += len(appended)
        self._outside.remember_appended(appended, outside or {})

    async def _fill(self, client: Redis, stream: str, after: int, before: int | None = None) -> int:
        """Append ``stream``'s events with ``after < id < before`` from its Redis log, in order."""
        low, high = f"({after}-0", "+" if before is None else f"({before}-0"
        # one round trip for both keys (legacy: a log from before the key's rename, or the original design's list)
        pipe = client.pipeline(transaction=False)
        pipe.xrange(log_key(stream), min=low, max=high)
        pipe.xrange(legacy_log_key(stream), min=low, max=high)
        current, legacy = await pipe.execute(raise_on_error=False)
        if isinstance(current, Exception):
            raise current
        entries = current or ([] if isinstance(legacy, Exception) else legacy)
        events, bad = logged_events(stream, entries or (), self.gate)
        self.errors += bad
        self._flush(events)
        return len(events)

    async def _resync(self, client: Redis) -> None:
        """After a (re)connect: fill watched foreign streams from their logs; forget unwatched ones."""
        for stream in tuple(self._complete):
            if self._broadcaster.subscriber_count(stream):
                await self._fill(client, stream, self._log.last_id(stream))
            else:
                self._complete.discard(stream)

    async def adopt(self, stream: str) -> bool:
        """Make a stream this instance does not own replayable here; False if no instance knows it.

        Reads the subject's Redis log once (then live messages and hole-filling keep it complete), before the
        SSE session takes its log snapshot. Concurrent opens share one read (its own task: a client leaving does
        not cancel it). :class:`HistoryUnavailable` if Redis cannot be read and the local log lacks the stream.
        """
        if stream in self._complete:
            return self._log.last_id(stream) > 0
        task = self._adopting.get(stream)
        if task is None:
            task = asyncio.ensure_future(self._adopt(stream))
            self._adopting[stream] = task
            task.add_done_callback(lambda _t: self._adopting.pop(stream, None))
        return await asyncio.shield(task)

    async def _adopt(self, stream: str) -> bool:
        deadline = time.monotonic() + ADOPT_GRACE
        while stream not in self._complete:
            history = self._history
            if history is None or self.state != "connected":
                if self._log.last_id(stream) > 0 or self.state != "down":
                    break  # known here: serve it (a reconnect fills holes); still connecting: as if unknown
                raise HistoryUnavailable("the Redis mirror is down")
            try:
                with anyio.fail_after(HISTORY_TIMEOUT):  # waiting for a pool connection included
                    await self._fill(history, stream, 0)  # whole log; what we already have is skipped
            except (RedisError, OSError, TimeoutError) as exc:
                self.errors += 1
                log.debug("Redis mirror: could not read the log of %s: %s", stream, exc)
                if self._log.last_id(stream) > 0:
                    break  # known here (live events came through pub/sub): serve it, read its history next time
                raise HistoryUnavailable(f"Redis could not be read: {type(exc).__name__}") from exc
            if self._log.last_id(stream) > 0:
                self._complete.add(stream)
                break
            if time.monotonic() >= deadline:
                break  # unknown everywhere
            # The origin publishes asynchronously: a client sent here right after uploading elsewhere may
            # arrive a few milliseconds before the first event does. Look again briefly before a 404.
            await anyio.sleep(0.1)
        return self._log.last_id(stream) > 0
