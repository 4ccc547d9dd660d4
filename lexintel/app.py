"""``create_app(settings) -> Litestar``: routes, dependencies, error mapping, and the lifespan that runs
the pipeline's task group for as long as the app serves."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from lexintel import __version__
from lexintel.api.batches import batch_handlers
from lexintel.api.cases import CaseController
from lexintel.api.documents import document_handlers
from lexintel.api.search import search
from lexintel.api.streams import stream_handlers
from lexintel.api.system import system_handlers
from lexintel.api.uploads import upload_handlers
from lexintel.api.web import web_handlers
from lexintel.errors import AppError, app_error_handler
from lexintel.services import Services, provide_services
from lexintel.settings import Settings

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the application; nothing is opened until the lifespan starts."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = Services.build(settings)
        app.state.services = services
        log.info("LexIntel %s: data in %s, %d extraction workers", __version__, settings.data_dir.resolve(),
                 settings.extraction_workers)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(services.pipeline.run)
                await tg.start(services.batches.run)  # batch recovery + ZIP unpacking jobs
                await tg.start(services.uploads.run)  # chunked upload sessions: expiry sweep
                try:
                    yield
                finally:
                    services.accepting_uploads = False
                    services.broadcaster.close_all("shutdown")
                    tg.cancel_scope.cancel()
        finally:
            services.db.close()

    return Litestar(
        route_handlers=[CaseController, *document_handlers, search, *stream_handlers, *system_handlers,
                        *web_handlers, *batch_handlers, *upload_handlers],
        dependencies={"svc": Provide(provide_services, sync_to_thread=False)},
        exception_handlers={AppError: app_error_handler},
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="LexIntel", version=__version__, path="/schema"),
    )
