"""Small parts of the Redis mirror (:mod:`lexintel.events.redis_mirror`) kept apart so that module stays about
the mirror's flow: the error a stream open gets when Redis cannot be read, the original design's batch keys,
the outside-worker cache that spares a database read per message, and log-friendly helpers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.backoff import NoBackoff
from redis.retry import Retry

from lexintel.events.emitter import IngestedEvent
from lexintel.events.foreign import ForeignEventError, from_instance
from lexintel.events.log import EventLog, StoredEvent
from lexintel.events.schema import encode_json
from lexintel.events.seed import batch_progress_event

if TYPE_CHECKING:
    from lexintel.events.mirror_signing import MirrorGate

__all__ = [
    "HISTORY_TIMEOUT",
    "HistoryUnavailable",
    "OutsideLatest",
    "as_latest",
    "history_client",
    "legacy_log_key",
    "log_key",
    "logged_events",
    "original_batch_commands",
    "redact",
    "root_cause",
]

OUTSIDE_CACHE_MAX = 50_000  # outside-worker streams whose latest event is remembered
HISTORY_CONNECTIONS = 8  # Redis connections for history reads (stream opens queue for one)
HISTORY_TIMEOUT = 30.0  # seconds a stream open may wait for a connection plus its read (then 503)


class HistoryUnavailable(Exception):
    """Redis could not be read while a stream was being opened: the answer is 503 with Retry-After (the
    subject may well exist; we cannot tell now)."""


def history_client(url: str) -> Redis:
    """The client for stream opens' history reads: a *blocking* pool of :data:`HISTORY_CONNECTIONS`, so a burst
    of opens queues for a connection (up to :data:`HISTORY_TIMEOUT`) instead of redis-py's "Too many
    connections" (its default pool holds 100), and a burst never leaves more connections than that."""
    pool = BlockingConnectionPool.from_url(url, max_connections=HISTORY_CONNECTIONS, timeout=HISTORY_TIMEOUT,
                                           socket_connect_timeout=2.0, socket_timeout=HISTORY_TIMEOUT,
                                           retry=Retry(NoBackoff(), 0))
    return Redis(connection_pool=pool)


def original_batch_commands(pipe: Pipeline, batch_id: str, body: dict[str, Any], ttl: int) -> None:
    """The seed 004 publisher's storage: current event and activity log, each with a one-hour TTL."""
    original = json.dumps(batch_progress_event(body), ensure_ascii=False)
    pipe.setex(f"batch:{batch_id}:progress:current", ttl, original)
    pipe.rpush(f"batch:{batch_id}:progress:log", original)
    pipe.expire(f"batch:{batch_id}:progress:log", ttl)


def as_latest(event: IngestedEvent, event_id: int) -> StoredEvent:
    """What :mod:`~lexintel.events.foreign` needs of the event before the next outside one: its run and
    terminality, and for a batch its progress (read from ``data``)."""
    data = encode_json({"progress": event.body.get("progress", 0)}) if event.stream.startswith("batch:") else "{}"
    return StoredEvent(event.stream, event_id, event.run, event.name, data)


class OutsideLatest:
    """The latest logged event of each outside worker's stream, valid while the stream's last id is unchanged
    (the log's last ids are cached in memory, so checking costs a dict lookup, not a query)."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._latest: dict[str, tuple[int, StoredEvent]] = {}

    def before(self, stream: str) -> StoredEvent | None:
        """The event a new outside event of ``stream`` follows (None for a new stream)."""
        last_id = self._log.last_id(stream)
        cached = self._latest.get(stream)
        if cached is not None and cached[0] == last_id:
            return cached[1]
        latest = self._log.latest(stream) if last_id else None
        if latest is not None:
            self.remember(latest)
        return latest

    def remember_appended(self, appended: list[IngestedEvent], outside: dict[str, StoredEvent]) -> None:
        """After an ingest: the appended events of the ``outside`` streams are their latest, with real ids."""
        for event in appended:
            if event.stream in outside and event.id is not None:
                self.remember(as_latest(event, event.id))

    def remember(self, event: StoredEvent) -> None:
        """``event`` is now its stream's latest (under its real id)."""
        if len(self._latest) >= OUTSIDE_CACHE_MAX:
            self._latest.clear()  # rarely: a cache miss costs one read
        self._latest[event.stream] = (event.id, event)


def redact(url: str) -> str:
    """A Redis URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def root_cause(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (the session's task group wraps what went wrong)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def log_key(stream: str) -> str:
    """The Redis Stream holding ``stream``'s recent history, e.g. ``lexintel:stream:document:<id>``."""
    return f"lexintel:stream:{stream}"


def legacy_log_key(stream: str) -> str:
    """Where LexIntel kept that Redis Stream before: ``{channel}:log``, the very key the original design keeps as
    a list. Logs still under that old name are read when the new key has nothing, so an upgrade loses no
    history (read on upgrade only)."""
    return f"{stream}:progress:log"


def logged_events(stream: str, entries: Iterable[Any], gate: MirrorGate | None) -> tuple[list[IngestedEvent], int]:
    """A Redis log's entries as events to ingest (only those an instance signed, when ``gate`` checks), and how
    many could not be read."""
    events: list[IngestedEvent] = []
    bad = 0
    for _entry_id, fields in entries:
        try:
            entry = (fields or {})[b"e"]
            raw = gate.admit_logged(stream, entry) if gate else entry
            if raw is None:
                continue  # not signed by an instance: counted in the gate's rejected
            events.append(from_instance(stream, json.loads(raw)))
        except (KeyError, ValueError, ForeignEventError):
            bad += 1
    return events, bad
