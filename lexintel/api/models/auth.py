"""Bodies of accounts: login, who am I, API tokens, stream tokens, case shares."""

from __future__ import annotations

import msgspec

from lexintel.api.models import Body

__all__ = ["ApiToken", "IssuedToken", "Login", "LoginResult", "Me", "NewToken", "StreamToken", "StreamTokenRequest",
           "UserView"]


class Login(msgspec.Struct):
    """Body of ``POST /auth/login``."""

    username: str
    password: str


class NewToken(msgspec.Struct):
    """Body of ``POST /auth/tokens``."""

    name: str = ""
    expires_in_days: int = 90


class StreamTokenRequest(msgspec.Struct):
    """Body of ``POST /streams/token``: the stream path the token will open."""

    path: str


class UserView(Body):
    """A user as others see it (never the password hash)."""

    id: str
    name: str
    role: str
    """``admin`` or ``member``."""


class LoginResult(Body):
    """``POST /auth/login``: the session cookie is set; send ``csrf_token`` as ``X-CSRF-Token`` on writes."""

    user: UserView
    csrf_token: str
    expires_at: float
    """Unix time the session ends."""


class Me(Body):
    """``GET /auth/me``: the caller and the auth mode."""

    user: UserView
    auth: str
    """``on`` or ``off`` (LEXINTEL_AUTH=off: every request is one local admin)."""
    csrf_token: str | None
    """The cookie session's CSRF token (null for a Bearer token or with auth off)."""


class ApiToken(Body):
    """One of the caller's API tokens, without its secret."""

    id: str
    name: str
    created_at: str
    expires_at: float
    """Unix time."""
    last_used_at: float | None
    """Unix time, to the minute."""


class IssuedToken(Body):
    """A new API token: ``token`` is shown in this answer only."""

    id: str
    name: str
    token: str
    expires_at: float


class StreamToken(Body):
    """A short-lived token for one stream: open ``url`` with EventSource."""

    token: str
    expires_at: float
    path: str
    """The canonical stream path the token is bound to."""
    url: str
    """``path`` with ``?token=``."""
