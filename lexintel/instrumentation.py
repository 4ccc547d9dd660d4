"""Connect observability to one running instance: metrics hooks and sources, request counting, pipeline logs.

The one module that knows both :class:`~lexintel.services.Services` and :mod:`lexintel.observability`, so that
neither has to know the other: observability declares what it reads (:mod:`lexintel.observability.sources`)
and this hands it the parts, once, when the app's lifespan has built them.
"""

from __future__ import annotations

from functools import partial

from lexintel.observability.middleware import RequestLogMiddleware
from lexintel.observability.pipeline_log import PipelineLogger
from lexintel.observability.sources import MetricSources
from lexintel.services import Services
from lexintel.store.counts import documents_by_status

__all__ = ["instrument"]


def instrument(services: Services, request_log: RequestLogMiddleware) -> None:
    """Hook the services' metrics into the pipeline, the emitter and the request log; log pipeline steps."""
    metrics = services.metrics
    metrics.bind(MetricSources(
        document_counts=partial(documents_by_status, services.db),
        pipeline=services.pipeline,
        broadcaster=services.broadcaster,
        accepting_uploads=lambda: services.accepting_uploads,
        uploads_in_flight=lambda: services.upload_slots.total(),
        data_dir=services.settings.data_dir,
        mirror=services.mirror,
    ))
    services.pipeline.stats.observers.append(metrics.observe_stage)
    services.emitter.listeners.append(metrics.on_event)
    services.emitter.listeners.append(PipelineLogger())
    request_log.on_request = metrics.observe_request
