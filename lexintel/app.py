"""``create_app(settings) -> Litestar``: routes, dependencies, error mapping, and the lifespan that runs
the pipeline's task group for as long as the app serves."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import HTTPException

from lexintel import __version__
from lexintel.api.auth import auth_handlers
from lexintel.api.batches import batch_handlers
from lexintel.api.cases import CaseController
from lexintel.api.documents import document_handlers
from lexintel.api.errors import EXCEPTION_HANDLERS
from lexintel.api.http_guard import HttpGuard, decode_recursion_handler, is_decode_recursion
from lexintel.api.openapi import describe_operations, openapi_config
from lexintel.api.search import search
from lexintel.api.setup import setup_handlers, start_first_run
from lexintel.api.sse_response import SSEHandoff
from lexintel.api.stages import stage_handlers
from lexintel.api.streams import stream_handlers
from lexintel.api.system import system_handlers
from lexintel.api.uploads import upload_handlers
from lexintel.api.web import web_handlers
from lexintel.auth.guard import auth_guard, provide_caller
from lexintel.auth.service import start_auth
from lexintel.errors import AppError, is_disk_full
from lexintel.instrumentation import instrument
from lexintel.observability.middleware import RequestLogMiddleware
from lexintel.observability.shutdown import begin_shutdown, finish_shutdown
from lexintel.services import Services, provide_services
from lexintel.settings import Settings
from lexintel.store.lock import DataDirLock

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the application; nothing is opened until the lifespan starts."""
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        lock = DataDirLock(settings.data_dir).acquire()  # before anything touches the database
        try:
            services = Services.build(settings)
        except BaseException:
            lock.release()
            raise
        instrument(services, request_log)
        app.state.services = services
        app.state.auth = start_auth(settings, services.db)  # logs the auth mode (issue 6)
        app.state.first_run = start_first_run(settings, app.state.auth)  # webadmin: GET/POST /setup, setup code
        log.info("LexIntel %s: data in %s, %d extraction workers", __version__, settings.data_dir.resolve(),
                 settings.extraction_workers)
        try:
            async with anyio.create_task_group() as tg:
                if services.mirror is not None:  # optional Redis mirror: never blocks start, reconnects itself
                    await tg.start(services.mirror.run)
                await tg.start(services.pipeline.run)
                services.batches.recover()  # batches a restart interrupted
                await tg.start(services.zips.run)  # ZIP unpacking jobs
                await tg.start(services.uploads.run)  # chunked upload sessions: expiry sweep
                await tg.start(app.state.auth.streams.run)  # ends open streams whose access was revoked
                if services.embeddings is not None:  # embed: model check at start, re-embedding, retries
                    await tg.start(services.embeddings.run)
                try:
                    yield
                finally:
                    begin_shutdown(services)  # already done at SIGTERM under `lexintel serve`
                    requeued = await finish_shutdown(services)  # ends the streams after the drain
                    if requeued:
                        log.info("requeued %d unfinished documents for the next start", requeued)
                    tg.cancel_scope.cancel()
        finally:
            services.db.close()
            lock.release()

    app = Litestar(
        route_handlers=[CaseController, *document_handlers, search, *stream_handlers, *system_handlers,
                        *web_handlers, *batch_handlers, *upload_handlers, *auth_handlers, *stage_handlers,
                        *setup_handlers],
        dependencies={"svc": Provide(provide_services, sync_to_thread=False),
                      "caller": Provide(provide_caller, sync_to_thread=False)},
        guards=[auth_guard],  # authenticate every non-public route; 404 for cases the caller can't read
        # every error answer is {"status_code", "code", "detail"}; JSON nested too deeply is a 400
        exception_handlers={**EXCEPTION_HANDLERS, RecursionError: decode_recursion_handler},
        after_exception=[log_unexpected],
        logging_config=None,  # `lexintel serve` configures one-line logs (lexintel.observability.logging)
        lifespan=[lifespan],
        openapi_config=openapi_config(),
    )
    describe_operations(app)  # security and the common error answers of every operation, in the schema
    # outermost: request log (also sees unrouted 404s); then the SSE handoff (streams outside Litestar's stack)
    # guard first: header/cookie size, Host and Origin are checked before anything is parsed
    request_log = RequestLogMiddleware(SSEHandoff(HttpGuard(app.asgi_handler, settings)))
    app.asgi_handler = request_log
    return app


async def log_unexpected(exc: BaseException, scope: Any) -> None:
    """Log handler exceptions that are bugs (not client errors) with their traceback."""
    if not isinstance(exc, AppError | HTTPException) and not is_disk_full(exc) and not is_decode_recursion(exc):
        log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
