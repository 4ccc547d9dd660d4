"""What ``/schema/openapi.json`` says beyond the handlers' types: how to authenticate, and which errors each
operation may answer.

Handlers declare their bodies by their types (:mod:`lexintel.api.models`) and the errors only they raise
(``responses=error_responses(409, ...)``). :func:`describe_operations` adds what follows from facts the app
already has, so it cannot drift from them: the security of every non-public route (the guard's rules), and the
errors every route of a kind may answer (a failed validation where there are parameters, 401/403 from the guard,
404 where the path names a thing, 507 where the route writes).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.constants import RESERVED_KWARGS
from litestar.datastructures import ResponseHeader
from litestar.enums import MediaType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme, Tag
from litestar.routes import HTTPRoute

from lexintel import __version__
from lexintel.api.errors import error_responses
from lexintel.api.web import SECURITY_HEADERS
from lexintel.auth.guard import SAFE_METHODS, SSE_ROUTES
from lexintel.auth.sessions import COOKIE_NAME
from lexintel.events.model import ProgressEvent

__all__ = ["DOCS_ASSETS", "SECURITY_SCHEMES", "SSE_MEDIA_TYPE", "SSE_RESPONSES", "DocsPage", "describe_operations",
           "openapi_config"]

SSE_MEDIA_TYPE = "text/event-stream"

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "bearerToken": SecurityScheme(
        type="http", scheme="bearer",
        description="An API token (`lexintel user add NAME --token`, or POST /auth/tokens): "
                    "`Authorization: Bearer lxt_...`. Needed on every non-public route when LEXINTEL_AUTH=on.",
    ),
    "sessionCookie": SecurityScheme(
        type="apiKey", name=COOKIE_NAME, security_scheme_in="cookie",
        description="The login session (POST /auth/login sets it; HttpOnly, SameSite=Strict).",
    ),
    "csrfToken": SecurityScheme(
        type="apiKey", name="X-CSRF-Token", security_scheme_in="header",
        description="With the session cookie, every POST, PUT, PATCH and DELETE must echo the session's CSRF "
                    "token (from POST /auth/login or GET /auth/me). Not needed with a Bearer token.",
    ),
    "streamToken": SecurityScheme(
        type="apiKey", name="token", security_scheme_in="query",
        description="The three SSE routes only: a token for that exact stream, valid for minutes, from "
                    "POST /streams/token (a browser's EventSource cannot send an Authorization header).",
    ),
}

_READ: list[SecurityRequirement] = [{"bearerToken": []}, {"sessionCookie": []}]
_WRITE: list[SecurityRequirement] = [{"bearerToken": []}, {"sessionCookie": [], "csrfToken": []}]
_STREAM: list[SecurityRequirement] = [*_READ, {"streamToken": []}]

SSE_RESPONSES: dict[int, ResponseSpec] = {
    200: ResponseSpec(
        data_container=ProgressEvent, media_type=SSE_MEDIA_TYPE, generate_examples=False,
        description="Server-Sent Events: each `data:` line is one ProgressEvent as JSON, its `id:` the event's "
                    "`id`. The document stream sends unnamed events; the batch and case streams name them "
                    "`progress`, `complete` or `error`. A `: ping` comment keeps the connection open; resume "
                    "with `Last-Event-ID` (or `?last_event_id=`).",
    ),
    204: ResponseSpec(data_container=None, description="The client already has the terminal event: stop."),
}
"""The documented answers of an SSE route: the stream of ProgressEvents, or 204 when it is already over."""

_TAGS = [
    Tag(name="cases", description="Folders of documents, owned by a user and shared with others."),
    Tag(name="documents", description="Upload, status, text, retry, delete."),
    Tag(name="batches", description="Multi-file, ZIP and chunked uploads followed as one unit."),
    Tag(name="uploads", description="Resumable chunked uploads for large files."),
    Tag(name="streams", description="Live progress over Server-Sent Events, and tokens to open them."),
    Tag(name="search", description="Full-text search over passages."),
    Tag(name="auth", description="Login sessions and API tokens."),
    Tag(name="system", description="Liveness, readiness, metrics."),
]


DOCS_ASSETS = {"docs.js": "text/javascript", "docs.css": "text/css"}
"""The docs page's own files (``lexintel/web/``), served at ``/schema/<name>``."""


@cache
def _web_file(name: str) -> bytes:
    return resources.files("lexintel").joinpath("web", name).read_bytes()


class DocsPage(OpenAPIRenderPlugin):
    """``/schema``: our own small page (``lexintel/web/docs.*``) that renders ``/schema/openapi.json``.

    Litestar's render plugins (Redoc, Swagger UI, Elements, RapiDoc) load their scripts and fonts from CDNs: a
    blank page offline, and requests to third parties from a confidential deployment. This page is three
    files in the package and runs under the same strict Content-Security-Policy as the app's page.
    """

    def __init__(self) -> None:
        super().__init__(path="/", media_type=MediaType.HTML)

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return _web_file("docs.html")


@get([f"/{name}" for name in DOCS_ASSETS], include_in_schema=False, sync_to_thread=False)
def _docs_asset(request: Request[Any, Any, Any]) -> Response[bytes]:
    """One of the docs page's files (only the named ones: no path from the URL reaches the disk)."""
    name = request.url.path.rsplit("/", 1)[-1]
    return Response(_web_file(name), media_type=DOCS_ASSETS[name])


def _docs_router() -> Router:
    """The router under ``/schema``: the plugins add the page and ``openapi.json``; every answer carries the
    page's security headers (strict CSP, nosniff, no referrer)."""
    headers = [ResponseHeader(name=k, value=v) for k, v in SECURITY_HEADERS.items()]
    return Router("/schema", route_handlers=[_docs_asset], include_in_schema=False, response_headers=headers)


def openapi_config() -> OpenAPIConfig:
    """The schema's header: title, version, tags and the security schemes the operations refer to; served at
    ``/schema/openapi.json`` and read by the offline docs page at ``/schema``."""
    return OpenAPIConfig(
        title="LexIntel", version=__version__, path="/schema", tags=_TAGS,
        render_plugins=[DocsPage(), JsonRenderPlugin()], openapi_router=_docs_router(),
        use_handler_docstrings=True,  # the handlers' docstrings say what each operation does: show them
        description="Self-hosted document ingestion with live progress. Every error answer is "
                    '`{"status_code", "code", "detail"}` (the ErrorBody schema); branch on `code`.',
        components=Components(security_schemes=dict(SECURITY_SCHEMES)),
    )


def _has_parameters(handler: HTTPRouteHandler) -> bool:
    """True when Litestar validates something of the request for this handler (a body, a path or query value)."""
    dependencies = handler.resolve_dependencies()
    names = set(handler.parsed_fn_signature.parameters) - dependencies.keys()
    return "data" in names or bool(names - RESERVED_KWARGS)


def _describe(route: HTTPRoute, handler: HTTPRouteHandler) -> None:
    public = bool(handler.opt.get("public"))
    writes = not set(handler.http_methods) <= SAFE_METHODS
    statuses = []
    if _has_parameters(handler) or "{" in route.path:
        statuses.append(400)
    if not public:
        statuses += [401, 403] if writes else [401]
        stream = route.path_format in SSE_ROUTES
        handler.security = _WRITE if writes else (_STREAM if stream else _READ)
    if "{" in route.path:
        statuses.append(404)
    if writes:
        statuses.append(507)
    responses = {**error_responses(*statuses), **(handler.responses or {})}
    handler.responses = dict(sorted(responses.items()))


def describe_operations(app: Litestar) -> None:
    """Set the security and the common error answers of every documented operation of ``app``.

    Runs on the app's own copies of the route handlers (Litestar copies them when it registers them), before
    the schema is first built.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                _describe(route, handler)
