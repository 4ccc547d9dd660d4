"""Attach metrics and pipeline logs to a freshly built :class:`~lexintel.services.Services`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lexintel.observability.pipeline_log import PipelineLogger

if TYPE_CHECKING:
    from lexintel.services import Services

__all__ = ["instrument"]


def instrument(services: Services) -> None:
    """Hook the services' metrics into the pipeline and emitter, and log pipeline steps."""
    services.metrics.bind(services)
    services.emitter.listeners.append(PipelineLogger())
