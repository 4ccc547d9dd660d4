"""Accounts: login/logout, who am I, API tokens, stream tokens for EventSource, sharing a case.

    POST   /auth/login          {"username", "password"} -> session cookie + {"user", "csrf_token", ...}
    POST   /auth/logout         ends the cookie session -> 204
    GET    /auth/me             the caller, the auth mode and (cookie sessions) the CSRF token
    GET    /auth/tokens         the caller's API tokens (no secrets); ``?user=NAME``: an admin lists another's
                                (also at ``GET /tokens``)
    POST   /auth/tokens         {"name"?, "expires_in_days"?} -> 201 {"id", "token", "expires_at"} (shown once)
    DELETE /auth/tokens/{id}    revoke -> 204; the streams opened with it end
    POST   /streams/token       {"path": "/cases/<id>/stream"} -> {"token", "expires_at", "url"}

Users and shares are in :mod:`lexintel.api.users` and :mod:`lexintel.api.shares`; their handlers are listed in
:data:`auth_handlers` too, so the app registers accounts in one line. Bodies of these routes are small JSON:
their size is capped at :data:`JSON_BODY_MAX` (413 past it), so a 9 MB "name" is never read.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from lexintel.api.errors import error_responses
from lexintel.api.fields import JSON_BODY_MAX, bounded
from lexintel.api.models.auth import (
    ApiToken,
    IssuedToken,
    Login,
    LoginResult,
    Me,
    NewToken,
    StreamToken,
    StreamTokenRequest,
    UserView,
)
from lexintel.api.shares import share_handlers
from lexintel.api.users import user_handlers
from lexintel.auth.access import can_read_case, not_found, subject_case
from lexintel.auth.guard import caller_credential
from lexintel.auth.service import Auth, auth_of
from lexintel.auth.sessions import COOKIE_NAME, session_cookie
from lexintel.auth.tokens import NAME_MAX as TOKEN_NAME_MAX
from lexintel.auth.users import User
from lexintel.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound, RateLimited, UnsupportedType
from lexintel.services import Svc

__all__ = ["auth_handlers"]

DAY = 86400.0
_STREAM_PATHS = (
    (re.compile(r"^/progress/documents/([^/?#]+)/stream$"), "document_id", "/progress/documents/{}/stream"),
    (re.compile(r"^/batches/([^/?#]+)/stream$"), "batch_id", "/batches/{}/stream"),
    (re.compile(r"^/cases/([^/?#]+)/stream$"), "case_id", "/cases/{}/stream"),
)


def _view(user: User) -> UserView:
    return UserView(id=user.id, name=user.name, role=user.role)


def _secure(request: Request[Any, Any, Any]) -> bool:
    """Mark the cookie Secure when the page was reached over https (directly or through a proxy)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip().lower() == "https"


def _auth(request: Request[Any, Any, Any]) -> Auth:
    return auth_of(request.app)


def _require_auth_on(auth: Auth) -> None:
    if not auth.enabled:
        raise InvalidInput("auth_off", "Authentication is off (LEXINTEL_AUTH=off): no login or API token is needed.")


@post("/auth/login", status_code=200, opt={"public": True}, tags=["auth"], request_max_body_size=JSON_BODY_MAX,
      responses=error_responses(401, 403, 415, 429))
async def login(data: JSONBody[Login], request: Request[Any, Any, Any]) -> Response[LoginResult]:
    """Check a user name and password; set the HttpOnly session cookie; return the CSRF token for writes."""
    auth = _auth(request)
    _require_auth_on(auth)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        # A cross-site HTML form can only send form or text/plain bodies: refusing them stops login CSRF
        # (signing a victim's browser into the attacker's account) without needing a token before login.
        raise UnsupportedType("json_required", "Send the login as application/json.")
    address = request.client.host if request.client else "?"
    name = data.username.strip()[:64]
    wait = auth.limiter.retry_after(name, address)
    if wait:
        raise RateLimited("too_many_attempts", f"Too many failed logins; try again in {wait} s.", retry_after=wait)
    user = await auth.users.authenticate(name, data.password[:1024])
    if user is None:
        auth.limiter.failed(name, address)
        raise NotAuthenticated("invalid_credentials", "Wrong user name or password.")
    auth.limiter.succeeded(name, address)
    secret, session = auth.sessions.create(user)
    body = LoginResult(user=_view(user), csrf_token=session.csrf_token, expires_at=session.expires_at)
    return Response(body, cookies=[session_cookie(secret, secure=_secure(request))])


_LOGGED_OUT = {HTTP_204_NO_CONTENT: ResponseSpec(data_container=None, description="Logged out; the cookie is cleared.")}


@post("/auth/logout", status_code=HTTP_204_NO_CONTENT, tags=["auth"], responses=_LOGGED_OUT)
async def logout(request: Request[Any, Any, Any]) -> Response[None]:
    """End the cookie session and the streams opened through it (a Bearer token stays valid: revoke it with
    DELETE /auth/tokens/{id})."""
    secret = request.cookies.get(COOKIE_NAME)
    if secret:
        auth = _auth(request)
        auth.streams.end_credential(auth.sessions.end(secret))
    return Response(None, status_code=HTTP_204_NO_CONTENT,
                    cookies=[session_cookie("", secure=_secure(request), max_age=0)])


@get("/auth/me", tags=["auth"])
async def me(request: Request[Any, Any, Any], caller: User) -> Me:
    """The caller, the auth mode, and the CSRF token of a cookie session (send it as X-CSRF-Token)."""
    auth = _auth(request)
    secret = request.cookies.get(COOKIE_NAME)
    session = auth.sessions.get(secret) if secret and auth.enabled else None
    csrf = session.csrf_token if session is not None and session.user.id == caller.id else None
    return Me(user=_view(caller), auth="on" if auth.enabled else "off", csrf_token=csrf)


@get(["/auth/tokens", "/tokens"], tags=["auth"], responses=error_responses(403, 404))
async def list_tokens(request: Request[Any, Any, Any], caller: User, user: str | None = None) -> list[ApiToken]:
    """The caller's API tokens (names, dates; never the secrets); ``?user=NAME``: an admin lists that user's."""
    auth = _auth(request)
    if not auth.enabled:
        return []
    whose = caller
    if user is not None and user.strip().lower() != caller.name.lower():
        if not caller.is_admin:
            raise Forbidden("admin_only", "Only an admin can list another user's tokens.")
        record = auth.users.record(user.strip())
        if record is None:
            raise NotFound("user_not_found", f"No user named {user.strip()[:64]!r}.")
        whose = record.user
    return msgspec.convert(auth.api_tokens.list(whose), list[ApiToken])


@post("/auth/tokens", status_code=HTTP_201_CREATED, tags=["auth"], request_max_body_size=JSON_BODY_MAX)
async def create_token(data: JSONBody[NewToken], request: Request[Any, Any, Any], caller: User) -> IssuedToken:
    """A new API token for the caller; ``token`` is shown only in this answer."""
    auth = _auth(request)
    _require_auth_on(auth)
    if not 1 <= data.expires_in_days <= 365:
        raise InvalidInput("invalid_expiry", "expires_in_days must be 1-365.", field="expires_in_days")
    issued = auth.api_tokens.create(caller, bounded("name", data.name, TOKEN_NAME_MAX), data.expires_in_days * DAY)
    return msgspec.convert(issued, IssuedToken)


@delete("/auth/tokens/{token_id:str}", tags=["auth"])
async def revoke_token(token_id: str, request: Request[Any, Any, Any], caller: User) -> None:
    """Revoke one of the caller's tokens (admins: anyone's); the streams opened with it end."""
    auth = _auth(request)
    if not auth.api_tokens.revoke(caller, token_id):
        raise NotFound("token_not_found", f"No token with id {token_id[:64]!r}.")
    auth.streams.end_credential(f"token:{token_id}")


@post("/streams/token", status_code=200, tags=["streams"])
async def stream_token(
    data: JSONBody[StreamTokenRequest], request: Request[Any, Any, Any], caller: User, svc: Svc
) -> StreamToken:
    """A short-lived token for one stream: open ``url`` (the path plus ``?token=``) with EventSource."""
    path = data.path.split("?", 1)[0]
    for pattern, param, template in _STREAM_PATHS:
        match = pattern.match(path)
        if match is None:
            continue
        ident = match.group(1)
        case_id = subject_case(svc.db, param, ident)
        if case_id is None or not can_read_case(svc.db, caller, case_id):
            raise not_found(param, ident)  # foreign looks missing
        canonical = template.format(ident)
        token, expires_at = _auth(request).stream_tokens.issue(caller, canonical,
                                                               credential=caller_credential(request))
        return StreamToken(token=token, expires_at=expires_at, path=canonical, url=f"{canonical}?token={token}")
    raise InvalidInput("bad_stream_path", "path must be /cases/{id}/stream, /batches/{id}/stream or "
                       "/progress/documents/{id}/stream.")


auth_handlers = [login, logout, me, list_tokens, create_token, revoke_token, stream_token, *share_handlers,
                 *user_handlers]
