"""The one guard every route passes (registered app-wide in ``create_app``).

1. Public routes (``opt={"public": True}``: health, readiness, metrics, the page and its files, the OpenAPI
   docs, login) and CORS preflights pass untouched.
2. Authenticate: ``Authorization: Bearer <API token>``; or ``?token=<stream token>`` on the three SSE routes
   only, bound to that exact path and alive only while the credential that issued it is; or the login cookie
   (plus ``X-CSRF-Token`` for unsafe methods). No or bad credentials, or a disabled user: NotAuthenticated (401
   JSON). ``LEXINTEL_AUTH=off``: the implicit local admin.
3. Authorize: a route with a ``case_id``, ``document_id``, ``batch_id`` or ``upload_id`` path parameter is
   answered 404, with the same body as a missing id, unless the caller may read the owning case. An unsafe
   method (POST, PUT, PATCH, DELETE) on such a route also needs write access: a ``read`` share gets 403
   ``read_only_share`` (handlers marked ``opt={"case_access": "read"}`` check for themselves: the share
   endpoints). Guards run before Litestar reads the body, so a refused upload is refused before its bytes are
   received.
4. On the SSE routes, register the stream under its principal (:mod:`lexintel.auth.revocation`), so that
   revoking access ends it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from lexintel.auth.access import PATH_SUBJECTS, can_read_case, not_found, require_writable_case, subject_case
from lexintel.auth.revocation import STREAM_OPEN, Principal
from lexintel.auth.service import Auth, auth_of
from lexintel.auth.sessions import COOKIE_NAME, CSRF_HEADER
from lexintel.auth.users import IMPLICIT_ADMIN, User
from lexintel.errors import Forbidden, NotAuthenticated
from lexintel.store.db import Database

__all__ = ["CREDENTIAL", "SSE_ROUTES", "auth_guard", "caller_credential", "provide_caller"]

# The SSE routes (Litestar's path templates) that accept ``?token=``; a stream token names one concrete path.
SSE_ROUTES = frozenset({
    "/progress/documents/{document_id}/stream",
    "/batches/{batch_id}/stream",
    "/api/batches/{batch_id}/stream",
    "/cases/{case_id}/stream",
    "/case-list/stream",
})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CREDENTIAL = "lexintel.credential"
"""Scope key: the credential the request authenticated with (``token:<id>`` / ``session:<hash>``)."""
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


def _on_stream(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    template = _route_template(connection)
    return template is not None and template in SSE_ROUTES and connection.scope.get("method") == "GET"


def _credential_live(auth: Auth, user: User, credential: str | None) -> bool:
    """A stream token's issuing credential still exists (None: a token from before credentials were named)."""
    return credential is None or auth.streams.valid(Principal(user.id, credential, None))


def authenticate(connection: ASGIConnection[Any, Any, Any, Any], auth: Auth) -> tuple[User, str | None]:
    """Who is calling and with which credential; NotAuthenticated or Forbidden (CSRF) otherwise."""
    header = connection.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        found = auth.api_tokens.identify(secret.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise NotAuthenticated("invalid_token", "The API token is unknown, expired or revoked "
                               "(send 'Authorization: Bearer <token>').")
        return found
    stream_token = connection.query_params.get("token")
    template = _route_template(connection)
    if stream_token is not None and template is not None and _on_stream(connection):
        claims = auth.stream_tokens.claims(stream_token, template.format(**connection.path_params))
        found_user = auth.users.get(claims[0]) if claims else None
        if claims is None or found_user is None or not _credential_live(auth, found_user, claims[1]):
            raise NotAuthenticated("invalid_stream_token", "The stream token is invalid, expired or for another "
                               "stream; get a new one from POST /streams/token.")
        return found_user, claims[1]
    cookie = connection.cookies.get(COOKIE_NAME)
    if cookie:
        session = auth.sessions.get(cookie)
        if session is None:
            raise NotAuthenticated("session_expired", "Your session has ended; log in again.")
        if connection.scope.get("method") not in SAFE_METHODS and not session.csrf_ok(
                connection.headers.get(CSRF_HEADER)):
            raise Forbidden("csrf_failed", "Missing or wrong X-CSRF-Token header (get it from GET /auth/me).")
        return session.user, session.credential
    raise NotAuthenticated("not_authenticated", _LOG_IN)


def authorize_path(db: Database, user: User, path_params: dict[str, Any], write: bool) -> str | None:
    """404 unless ``user`` may read the case behind the route's case/document/batch/upload parameter; 403
    ``read_only_share`` when ``write`` and they may only read it. Returns that case's id (None: none)."""
    found: str | None = None
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
        if write:
            require_writable_case(db, user, case_id)
        found = case_id
    return found


async def auth_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Authenticate and authorize one request (see the module docstring)."""
    if _is_public(connection, handler):
        return
    auth = auth_of(connection.app)
    if not auth.enabled:
        connection.scope["user"] = IMPLICIT_ADMIN
        return
    user, credential = authenticate(connection, auth)
    connection.scope["user"] = user
    connection.scope[CREDENTIAL] = credential  # type: ignore[literal-required]
    write = connection.scope.get("method") not in SAFE_METHODS and handler.opt.get("case_access") != "read"
    case_id = authorize_path(auth.users.db, user, connection.path_params, write)
    if _on_stream(connection):
        connection.scope[STREAM_OPEN] = auth.streams.hook(  # type: ignore[literal-required]
            Principal(user.id, credential, case_id))


def provide_caller(request: Request[Any, Any, Any]) -> User:
    """Dependency ``caller``: the user the guard authenticated."""
    user = request.scope.get("user")
    if not isinstance(user, User):
        raise NotAuthenticated("not_authenticated", _LOG_IN)
    return user


def caller_credential(request: Request[Any, Any, Any]) -> str | None:
    """The credential the guard saw for this request (None with auth off)."""
    credential = request.scope.get(CREDENTIAL)
    return credential if isinstance(credential, str) else None
