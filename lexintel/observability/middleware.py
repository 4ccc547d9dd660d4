"""Request logging and counting as a plain ASGI wrapper around the whole application.

It wraps Litestar's ``asgi_handler`` (not a per-route middleware) so requests that match no route (404s
from scanners, typos) are logged and counted too. One line per request, written when the response ends:
method, path (no query string: it may carry search terms), status, duration. Probes (/health, /ready,
/metrics) log at DEBUG so a scraper every few seconds does not bury everything else.

Counting goes through the ``on_request`` hook, set at wiring time (the metrics exist once the app's lifespan
has built the services; requests cannot arrive before that).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType

from lexintel.observability.logging import log_event

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RequestLogMiddleware", "RequestObserver"]

log = logging.getLogger("lexintel.http")
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})

RequestObserver = Callable[[str, int, float | None], None]
"""``(method, status, seconds)``; ``seconds`` is None for event streams (their duration is the client's)."""


class RequestLogMiddleware:
    """Log and count every HTTP request once it is answered (or abandoned by its client)."""

    def __init__(self, app: ASGIApp, on_request: RequestObserver | None = None) -> None:
        self.app = app
        self.on_request = on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        streaming = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict(message.get("headers") or ())
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            await send(message)

        outcome = "ok"
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            outcome = "error" if status == 0 else "aborted"
            if status == 0:
                status = 500  # uvicorn answers 500 for an exception before the response started
            raise
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            path = str(scope.get("path", ""))
            if self.on_request is not None:
                self.on_request(method, status or 499, None if streaming else elapsed)
            level = logging.DEBUG if path in QUIET_PATHS and status < 500 else logging.INFO
            if status >= 500:
                level = logging.ERROR
            fields: dict[str, Any] = {"method": method, "path": path, "status": status or 499,
                                         "ms": round(elapsed * 1000, 1)}
            if outcome != "ok":
                fields["outcome"] = outcome
            log_event(log, "request", level, **fields)
