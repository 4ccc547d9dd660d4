"""The one guard every route passes (registered app-wide in ``create_app``).

1. Public routes (``opt={"public": True}``: health, readiness, metrics, the page and its files, the OpenAPI
   docs, login) and CORS preflights pass untouched.
2. Authenticate: ``Authorization: Bearer <API token>``; or ``?token=<stream token>`` on the three SSE routes
   only, bound to that exact path; or the login cookie (plus ``X-CSRF-Token`` for unsafe methods).
   No or bad credentials: NotAuthenticated (401 JSON). ``LEXINTEL_AUTH=off``: the implicit local admin.
3. Authorize: a route with a ``case_id``, ``document_id``, ``batch_id`` or ``upload_id`` path parameter is
   answered 404, with the same body as a missing id, unless the caller may read the owning case. Guards run
   before Litestar reads the body, so a refused upload is refused before its bytes are received.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from lexintel.auth.access import PATH_SUBJECTS, can_read_case, not_found, subject_case
from lexintel.auth.service import Auth, auth_of
from lexintel.auth.sessions import COOKIE_NAME, CSRF_HEADER
from lexintel.auth.users import IMPLICIT_ADMIN, User
from lexintel.errors import Forbidden, NotAuthenticated
from lexintel.store.db import Database

__all__ = ["SSE_ROUTES", "auth_guard", "provide_caller"]

# The SSE routes (Litestar's path templates) that accept ``?token=``; a stream token names one concrete path.
SSE_ROUTES = frozenset({
    "/progress/documents/{document_id}/stream",
    "/batches/{batch_id}/stream",
    "/api/batches/{batch_id}/stream",
    "/cases/{case_id}/stream",
})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LOG_IN = "Log in (POST /auth/login) or send 'Authorization: Bearer <token>'."


def _is_public(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> bool:
    if handler.opt.get("public") or connection.scope.get("method") == "OPTIONS":
        return True
    config = connection.app.openapi_config
    docs = (config.path or "").rstrip("/") if config is not None else None
    path = connection.scope["path"]
    return bool(docs) and (path == docs or path.startswith(f"{docs}/"))


def _route_template(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    route = connection.scope.get("path_template")  # set by Litestar's router
    return route if isinstance(route, str) else None


def authenticate(connection: ASGIConnection[Any, Any, Any, Any], auth: Auth) -> User:
    """Who is calling; NotAuthenticated or Forbidden (CSRF) otherwise."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        user = auth.api_tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise NotAuthenticated("invalid_token", "The API token is unknown, expired or revoked "
                               "(send 'Authorization: Bearer <token>').")
        return user
    stream_token = connection.query_params.get("token")
    template = _route_template(connection)
    on_stream = template is not None and template in SSE_ROUTES and connection.scope.get("method") == "GET"
    if stream_token is not None and template is not None and on_stream:
        user_id = auth.stream_tokens.check(stream_token, template.format(**connection.path_params))
        found = auth.users.get(user_id) if user_id else None
        if found is None:
            raise NotAuthenticated("invalid_stream_token", "The stream token is invalid, expired or for another "
                               "stream; get a new one from POST /streams/token.")
        return found
    cookie = connection.cookies.get(COOKIE_NAME)
    if cookie:
        session = auth.sessions.get(cookie)
        if session is None:
            raise NotAuthenticated("session_expired", "Your session has ended; log in again.")
        if connection.scope.get("method") not in SAFE_METHODS and not session.csrf_ok(
                connection.headers.get(CSRF_HEADER)):
            raise Forbidden("csrf_failed", "Missing or wrong X-CSRF-Token header (get it from GET /auth/me).")
        return session.user
    raise NotAuthenticated("not_authenticated", _LOG_IN)


def authorize_path(db: Database, user: User, path_params: dict[str, Any]) -> None:
    """404 unless ``user`` may read the case behind the route's case/document/batch/upload parameter."""
    for param in PATH_SUBJECTS:
        ident = path_params.get(param)
        if not isinstance(ident, str):
            continue
        case_id = subject_case(db, param, ident)
        if case_id is None:
            if user.is_admin:
                continue  # the handler answers a missing id itself (or adopts a mirrored stream)
            raise not_found(param, ident)
        if not can_read_case(db, user, case_id):
            raise not_found(param, ident)


async def auth_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Authenticate and authorize one request (see the module docstring)."""
    if _is_public(connection, handler):
        return
    auth = auth_of(connection.app)
    if not auth.enabled:
        connection.scope["user"] = IMPLICIT_ADMIN
        return
    user = authenticate(connection, auth)
    connection.scope["user"] = user
    authorize_path(auth.users.db, user, connection.path_params)


def provide_caller(request: Request[Any, Any, Any]) -> User:
    """Dependency ``caller``: the user the guard authenticated."""
    user = request.scope.get("user")
    if not isinstance(user, User):
        raise NotAuthenticated("not_authenticated", _LOG_IN)
    return user
