"""What /metrics reads from the running parts, written down as small structural interfaces.

Metrics used to read the whole ``Services``, which tied this package to everything above it (and made
``services`` and ``observability`` import each other). Instead they name the few attributes they read; the
pipeline, the broadcaster and the Redis mirror match them as they are (these are ``Protocol``s, so nothing
here imports those classes), and the module that builds the parts hands them over at wiring time
(:mod:`lexintel.instrumentation`). Shutdown does the same with its own :class:`~.shutdown.ShutdownTarget`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "BroadcasterCounters",
    "BroadcasterState",
    "MetricSources",
    "MirrorCounters",
    "PipelineCounters",
    "PipelineState",
]


class PipelineCounters(Protocol):
    """Totals since start (``PipelineStats``)."""

    @property
    def pages_extracted(self) -> int: ...
    @property
    def documents_indexed(self) -> int: ...
    @property
    def documents_failed(self) -> int: ...
    @property
    def worker_restarts(self) -> int: ...


class PipelineState(Protocol):
    """The pipeline as /metrics sees it."""

    @property
    def stats(self) -> PipelineCounters: ...
    @property
    def running(self) -> int: ...
    @property
    def alive(self) -> bool: ...


class BroadcasterCounters(Protocol):
    """Frame counters since start (``BroadcasterStats``)."""

    @property
    def published(self) -> int: ...
    @property
    def delivered(self) -> int: ...
    @property
    def coalesced(self) -> int: ...
    @property
    def dropped_lagging(self) -> int: ...


class BroadcasterState(Protocol):
    """The broadcaster as /metrics sees it."""

    @property
    def stats(self) -> BroadcasterCounters: ...
    def subscriber_count(self) -> int: ...


class MirrorCounters(Protocol):
    """The Redis mirror's connection state and counters (``RedisMirror``)."""

    @property
    def state(self) -> str: ...
    @property
    def published(self) -> int: ...
    @property
    def received(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def reconnects(self) -> int: ...
    @property
    def rejected(self) -> Mapping[str, int]: ...  # limits: dropped as unsigned/forged/not believed, by reason


@dataclass(frozen=True, slots=True)
class MetricSources:
    """Everything the scrape-time collector reads; read at each scrape, so it never drifts from the truth.

    ``document_counts`` is documents by status, from the store; ``accepting_uploads`` turns false once shutdown
    has begun; ``uploads_in_flight`` counts multipart bodies being received; ``mirror`` is None when no Redis
    mirror is configured.
    """

    document_counts: Callable[[], Mapping[str, int]]
    pipeline: PipelineState
    broadcaster: BroadcasterState
    accepting_uploads: Callable[[], bool]
    uploads_in_flight: Callable[[], int]
    data_dir: Path
    mirror: MirrorCounters | None = None
