"""Prometheus metrics on a per-app :class:`CollectorRegistry` (several apps in one test process never clash).

Two kinds of series:

* event-driven ones (stage durations, events published, publish->deliver latency, HTTP requests) are updated
  as things happen, through hooks the running parts already offer: ``PipelineStats.observers``,
  ``Emitter.listeners``, ``SSESession.on_deliver`` and the request middleware's ``on_request``. Delivery
  latency is the hot one (one call per write to an SSE client, 100,000/s at 10,000 clients): it is aggregated
  into plain bucket counters (:class:`LatencyAggregate`, no lock, no label lookup), one observation per write
  weighted by the frames written, and turned into a histogram only at scrape time;
* state ones (documents by status, SSE connections, lagging drops, Redis mirror state and counters, worker
  restarts, pages extracted) are read at scrape time from the :class:`MetricSources` given to :meth:`bind`,
  so they can never drift from the truth and cost nothing between scrapes. Garbage-collection pauses
  (``lexintel_gc_*``) come from :data:`lexintel.events.gc_policy.GC_WATCH`.

Who connects the hooks and builds the sources is :mod:`lexintel.instrumentation`: nothing here knows the
``Services`` that hold the parts.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from lexintel.events.emitter import EmittedEvent
from lexintel.events.gc_policy import GC_WATCH, PAUSE_BUCKETS
from lexintel.observability.sources import MetricSources, MirrorCounters

__all__ = ["CONTENT_TYPE", "DOCUMENT_STATUSES", "LatencyAggregate", "Metrics", "free_bytes"]

# The classic text format every Prometheus (2.x and 3.x) and agent parses; the framework adds the charset.
CONTENT_TYPE = "text/plain; version=0.0.4"
DOCUMENT_STATUSES = ("pending", "processing", "indexed", "needs_ocr", "failed")
# Extraction of a long PDF takes minutes; chunking and indexing take milliseconds.
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


def free_bytes(path: Path) -> int:
    """Bytes available to this process on the file system holding ``path`` (0 if it cannot be read)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


class LatencyAggregate:
    """A histogram's state as plain counters: ``observe`` is a bisect and three additions (no lock: every call
    is on the event-loop thread), read as a Prometheus histogram when scraped."""

    __slots__ = ("buckets", "counts", "sum", "total")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.total = 0

    def observe(self, seconds: float, weight: int = 1) -> None:
        """``weight`` deliveries that each took ``seconds``."""
        self.counts[bisect_left(self.buckets, seconds)] += weight
        self.sum += seconds * weight
        self.total += weight

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        """The cumulative buckets, ``_sum`` and ``_count``."""
        cumulative, running = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            cumulative.append((floatToGoString(bound), running))  # type: ignore[no-untyped-call]
        return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=self.sum)


def status_class(status: int) -> str:
    """``200`` -> ``"2xx"``: few label values, and 5xx is one series to alert on."""
    return f"{status // 100}xx"


class Metrics:
    """The instance's metrics; :meth:`bind` tells them where to read the state series."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.stage_seconds = Histogram(
            "lexintel_pipeline_stage_seconds", "Time one document spent in a pipeline stage.", ["stage"],
            buckets=STAGE_BUCKETS, registry=r,
        )
        self.events_published = Counter(
            "lexintel_events_published", "Progress events published (durably logged and broadcast), by stage.",
            ["stage"], registry=r,
        )
        self.delivery_latency = LatencyAggregate(LATENCY_BUCKETS)
        self.http_requests = Counter(
            "lexintel_http_requests", "HTTP requests answered, by method and status class.", ["method", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "lexintel_http_request_seconds", "HTTP request duration (SSE streams excluded).", ["method"],
            registry=r,
        )
        self.sse_streams = Counter(
            "lexintel_sse_streams_closed", "SSE streams ended, by reason.", ["reason"], registry=r,
        )
        ProcessCollector(registry=r)  # process_resident_memory_bytes, open fds, CPU seconds
        self.sources: MetricSources | None = None  # until bound: no state series (nothing runs yet)
        r.register(_StateCollector(self))

    def bind(self, sources: MetricSources) -> None:
        """Read the state series from ``sources`` at each scrape from now on."""
        self.sources = sources

    # hooks
    def observe_stage(self, stage: str, seconds: float) -> None:
        """``PipelineStats`` observer: one stage duration."""
        self.stage_seconds.labels(stage).observe(seconds)

    def on_event(self, event: EmittedEvent) -> None:
        """Emitter listener: count the event by stage."""
        self.events_published.labels(event.event.stage).inc()

    def observe_delivery(self, seconds: float, frames: int = 1) -> None:
        """SSE hook: ``frames`` live frames reached a client in one write, the oldest ``seconds`` after it was
        published (counted for all of them: the write is what the client waited for)."""
        self.delivery_latency.observe(seconds if seconds > 0.0 else 0.0, frames)

    def stream_closed(self, reason: str) -> None:
        """SSE hook: a stream ended for ``reason``."""
        self.sse_streams.labels(reason).inc()

    def observe_request(self, method: str, status: int, seconds: float | None) -> None:
        """Request middleware hook; ``seconds`` is None for streams (their duration is the client's choice)."""
        self.http_requests.labels(method, status_class(status)).inc()
        if seconds is not None:
            self.http_seconds.labels(method).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """State read at scrape time from the database, the broadcaster, the pipeline and the mirror."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # dynamic: nothing to check for duplicate names at registration

    def collect(self) -> Iterator[Metric]:
        yield self._metrics.delivery_latency.family(
            "lexintel_event_delivery_latency_seconds",
            "From an event's publication to its frame being written to an SSE client (live frames only).")
        yield from self._gc()
        src = self._metrics.sources
        if src is None:
            return
        docs = GaugeMetricFamily("lexintel_documents", "Documents by status (from the database).", labels=["status"])
        counts = dict.fromkeys(DOCUMENT_STATUSES, 0)
        counts.update(src.document_counts())
        for status, n in counts.items():
            docs.add_metric([status], n)
        yield docs

        pipeline = src.pipeline
        stats = pipeline.stats
        yield CounterMetricFamily("lexintel_pages_extracted", "Pages extracted since start.", stats.pages_extracted)
        done = CounterMetricFamily("lexintel_documents_finished", "Documents finished since start, by outcome.",
                                   labels=["outcome"])
        done.add_metric(["indexed"], stats.documents_indexed)
        done.add_metric(["failed"], stats.documents_failed)
        yield done
        yield CounterMetricFamily("lexintel_worker_restarts",
                                  "Extraction worker processes killed (timeout) or crashed and replaced.",
                                  stats.worker_restarts)
        yield GaugeMetricFamily("lexintel_pipeline_running", "Documents being processed now.", pipeline.running)
        yield GaugeMetricFamily("lexintel_pipeline_alive", "1 while the pipeline's workers run.",
                                int(bool(pipeline.alive)))
        yield GaugeMetricFamily("lexintel_accepting_uploads", "0 once shutdown has begun.",
                                int(src.accepting_uploads()))
        yield GaugeMetricFamily("lexintel_uploads_in_flight", "Multipart upload bodies being received now.",
                                src.uploads_in_flight())
        yield GaugeMetricFamily("lexintel_data_dir_free_bytes", "Free space on the data directory's file system.",
                                free_bytes(src.data_dir))

        b = src.broadcaster
        yield GaugeMetricFamily("lexintel_sse_connections", "Open SSE streams.", b.subscriber_count())
        yield CounterMetricFamily("lexintel_sse_dropped_lagging",
                                  "SSE clients disconnected because they fell too far behind.", b.stats.dropped_lagging)
        yield CounterMetricFamily("lexintel_sse_frames_coalesced",
                                  "Queued progress frames replaced by newer ones for slow clients.", b.stats.coalesced)
        yield CounterMetricFamily("lexintel_broadcast_frames_published", "Frames offered to the broadcaster.",
                                  b.stats.published)
        yield CounterMetricFamily("lexintel_broadcast_frames_delivered", "Frames handed to SSE writers.",
                                  b.stats.delivered)
        yield from self._mirror(src.mirror)

    @staticmethod
    def _gc() -> Iterator[Metric]:
        watch = GC_WATCH
        collections = CounterMetricFamily("lexintel_gc_collections", "Garbage collections, by generation.",
                                          labels=["generation"])
        seconds = CounterMetricFamily("lexintel_gc_pause_seconds", "Time the garbage collector paused the "
                                      "process, by generation.", labels=["generation"])
        longest = GaugeMetricFamily("lexintel_gc_max_pause_seconds", "Longest collection since start, by "
                                    "generation.", labels=["generation"])
        collected = CounterMetricFamily("lexintel_gc_collected_objects", "Unreachable objects the garbage "
                                        "collector freed, by generation.", labels=["generation"])
        for generation in range(3):
            collections.add_metric([str(generation)], watch.collections[generation])
            collected.add_metric([str(generation)], watch.collected[generation])
            seconds.add_metric([str(generation)], watch.pause_seconds[generation])
            longest.add_metric([str(generation)], watch.max_pause[generation])
        yield collections
        yield collected
        yield seconds
        yield longest
        yield CounterMetricFamily("lexintel_gc_long_pauses", "Collections that paused longer than 50 ms.",
                                  watch.long_pauses)
        yield CounterMetricFamily("lexintel_gc_freezes", "Times live objects were frozen after a burst of "
                                  "connections (gc.freeze).", watch.freezes)
        yield CounterMetricFamily("lexintel_gc_unfreezes", "Times frozen objects were collected again after many "
                                  "connections closed.", watch.unfreezes)
        pauses = LatencyAggregate(PAUSE_BUCKETS)
        pauses.counts, pauses.sum = list(watch.pause_counts), sum(watch.pause_seconds)
        yield pauses.family("lexintel_gc_pause_duration_seconds", "Garbage-collection pauses by duration.")

    @staticmethod
    def _mirror(mirror: MirrorCounters | None) -> Iterator[Metric]:
        yield GaugeMetricFamily("lexintel_redis_mirror_enabled", "1 when the Redis mirror is configured.",
                                int(mirror is not None))
        if mirror is None:
            return
        state = GaugeMetricFamily("lexintel_redis_mirror_state", "The mirror's connection state (1 = current).",
                                  labels=["state"])
        state.add_metric([mirror.state], 1)
        yield state
        messages = CounterMetricFamily("lexintel_redis_mirror_messages", "Events through the mirror, by direction.",
                                       labels=["direction"])
        messages.add_metric(["published"], mirror.published)
        messages.add_metric(["received"], mirror.received)
        messages.add_metric(["dropped"], mirror.dropped)
        yield messages
        yield CounterMetricFamily("lexintel_redis_mirror_errors", "Redis errors seen by the mirror.", mirror.errors)
        yield CounterMetricFamily("lexintel_redis_mirror_reconnects", "Times the mirror reconnected to Redis.",
                                  mirror.reconnects)
        rejected = CounterMetricFamily("lexintel_redis_mirror_rejected", "Mirror messages dropped: unsigned, forged, "
                                       "or outside-worker events not believed (events/mirror_signing.py).",
                                       labels=["reason"])
        for reason, count in mirror.rejected.items():
            rejected.add_metric([reason], count)
        yield rejected
