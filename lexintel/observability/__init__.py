"""Operability: Prometheus metrics, structured one-line logs, request logging, graceful shutdown.

Everything here observes the running parts through their public surface (stats counters, emitter listeners,
the broadcaster) so the pipeline and the event path stay free of monitoring code.
"""

from lexintel.observability.logging import configure_logging, log_event
from lexintel.observability.metrics import Metrics

__all__ = ["Metrics", "configure_logging", "log_event"]
