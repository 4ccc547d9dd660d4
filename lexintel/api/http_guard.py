"""The HTTP edge inside the app: checks every request passes before Litestar parses anything of it.

:class:`HttpGuard` wraps Litestar's handler stack (one line in ``create_app``) and, in this order:

1. **Size** (issue 13 item 1): request line plus headers above ``LEXINTEL_MAX_HEADER_BYTES``, or Cookie
   headers above ``LEXINTEL_MAX_COOKIE_BYTES``, are answered ``431`` before a cookie or header is parsed.
   Python before 3.11.10 unquotes cookies in quadratic time (CVE-2024-7592; Litestar calls
   ``http.cookies._unquote``), so 100 KB of backslashes held the event loop for 13 s; the size bound
   plus :func:`install_linear_cookie_unquote` (CPython's own linear fix) make any cookie cost microseconds.
2. **Host** (item 8): a ``Host`` that is not a loopback name, the bound ``HOST``, or one of
   ``LEXINTEL_ALLOWED_HOSTS`` is answered ``400``: a DNS-rebinding page (``Host: attacker.example``
   resolving to 127.0.0.1) gets nothing. On a wildcard bind (``0.0.0.0``/``::``) IP-literal Hosts are
   accepted too: rebinding needs a name, and a client reaching the machine by address is what that bind is for.
3. **Origin** (item 8): a write (not GET/HEAD/OPTIONS) without an ``Authorization`` header (cookie or
   ``AUTH=off``, the ones a browser can be tricked into sending) whose ``Origin`` is not this very site,
   or whose ``Sec-Fetch-Site`` says cross-site, is answered ``403``. Bearer requests are not browser-borne.
4. **Headers** (item 15): every response gets ``X-Content-Type-Options: nosniff`` and, unless it set its own
   ``Cache-Control`` (the page's static files revalidate with ``no-cache``), ``Cache-Control: no-store``:
   case data must not sit in a shared or browser cache.

Answers use the app's JSON error shape ``{"status_code", "code", "detail"}``. The socket-level limits (slow
headers, slow bodies, too many half-open sockets) need the server's protocol and live in ``http_edge``.
:func:`decode_recursion_handler` (item 9) maps msgspec's ``RecursionError`` on deeply nested JSON to 400.
"""

from __future__ import annotations

import http.cookies
import ipaddress
import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from litestar import Request, Response
from litestar.enums import ScopeType

from lexintel.api.errors import app_error_handler
from lexintel.errors import AppError, BadRequest
from lexintel.settings import Settings

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

__all__ = [
    "HttpGuard",
    "decode_recursion_handler",
    "error_body",
    "install_linear_cookie_unquote",
    "is_decode_recursion",
    "linear_unquote",
]

log = logging.getLogger("lexintel.http")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})
NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")


# ---------------------------------------------------------------- cookies (CVE-2024-7592)
_unquote_sub = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))").sub


def _unquote_replace(match: re.Match[str]) -> str:
    return chr(int(match[1], 8)) if match[1] else match[2]


def linear_unquote(value: str) -> str:
    """``http.cookies._unquote`` as fixed in CPython 3.11.10/3.12.6: one regex pass instead of a rescan per
    backslash. Same results; linear time."""
    if value is None or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    return _unquote_sub(_unquote_replace, value[1:-1])


QUADRATIC_UNQUOTE = sys.version_info < (3, 11, 10) or (3, 12) <= sys.version_info < (3, 12, 6)


def install_linear_cookie_unquote() -> bool:
    """Replace the quadratic cookie unquote where Python still has it (stdlib and Litestar's imported copy).
    Returns True when it was replaced. Idempotent."""
    if not QUADRATIC_UNQUOTE:
        return False
    import litestar._parsers as parsers

    http.cookies._unquote = linear_unquote  # type: ignore[assignment]
    if hasattr(parsers, "unquote_cookie"):
        parsers.unquote_cookie = linear_unquote
    parsers.parse_cookie_string.cache_clear()
    return True


# ---------------------------------------------------------------- JSON nested too deeply
def is_decode_recursion(exc: BaseException) -> bool:
    """msgspec raises ``RecursionError("... while deserializing ...")`` for input nested past the limit."""
    return isinstance(exc, RecursionError) and "deserializ" in str(exc)


def decode_recursion_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """A body nested too deeply to decode is the client's error (400), not a 500 with a traceback."""
    if is_decode_recursion(exc):
        err: AppError = BadRequest("json_too_deep", "The request body is nested too deeply to decode; send at most "
                                   "a few hundred levels of arrays and objects.")
    else:
        log.error("unhandled recursion on %s %s", request.method, request.url.path, exc_info=exc)
        err = AppError("internal_error", "The server hit an internal error.")
    return app_error_handler(request, err)


# ---------------------------------------------------------------- responses
def error_body(status: int, code: str, detail: str) -> bytes:
    """The app's JSON error shape, as bytes (also written straight to the socket by ``http_edge``)."""
    return json.dumps({"status_code": status, "code": code, "detail": detail}, separators=(",", ":")).encode()


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = error_body(status, code, detail)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), NOSNIFF,
               NO_STORE]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _split_host(value: str) -> tuple[str, str]:
    """``host[:port]`` or ``[v6]:port`` -> (lower-case host without brackets or trailing dot, port or '')."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest.removeprefix(":")
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host.rstrip("."), port
    return value.rstrip("."), ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Which ``Host`` values this instance answers (see the module docstring, point 2)."""

    def __init__(self, bound: str, extra: Iterable[str]) -> None:
        extra = tuple(extra)
        self.any_host = "*" in extra
        bound_host = _split_host(bound)[0] if bound else ""
        self.any_ip = bound.strip() in WILDCARD_BINDS
        self.configured = frozenset(extra)
        self.names = LOOPBACK_NAMES | self.configured | ({bound_host} if bound_host and not self.any_ip else set())

    def allows(self, host: str) -> bool:
        if self.any_host or host in self.names or host.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return self.any_ip or address.is_loopback


class HttpGuard:
    """ASGI wrapper: size, Host and Origin checks, then security headers on the response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_header_bytes = settings.max_header_bytes
        self.max_cookie_bytes = settings.max_cookie_bytes
        self.hosts = HostPolicy(settings.host, settings.allowed_hosts)
        install_linear_cookie_unquote()

    def _oversized(self, scope: Scope) -> tuple[str, str] | None:
        total = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
        cookies = 0
        for name, value in scope["headers"]:
            total += len(name) + len(value) + 4
            if name == b"cookie":
                cookies += len(value)
        if cookies > self.max_cookie_bytes:
            return "cookie_too_large", (f"The Cookie header is {cookies} bytes; at most {self.max_cookie_bytes} are "
                                        "accepted. Clear this site's cookies and log in again.")
        if total > self.max_header_bytes:
            return "headers_too_large", (f"The request headers are {total} bytes; at most {self.max_header_bytes} are "
                                         "accepted.")
        return None

    def _foreign_origin(self, headers: dict[bytes, bytes]) -> str | None:
        """Why a browser-borne write comes from another site, or None."""
        origin = headers.get(b"origin")
        if origin is not None:
            text = origin.decode("latin-1").strip().lower()
            scheme, sep, netloc = text.partition("://")
            if not sep or scheme not in ("http", "https") or "/" in netloc:
                return f"Origin {text!r} is not a web origin"
            origin_host, origin_port = _split_host(netloc)
            own_host, own_port = _split_host(headers.get(b"host", b"").decode("latin-1"))
            default = "443" if scheme == "https" else "80"
            if origin_host == own_host and (origin_port or default) == (own_port or default):
                return None
            if origin_host in self.hosts.configured:  # a listed public name behind a proxy that rewrites Host
                return None
            return f"Origin {text!r} is not this site"
        fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if fetch_site in ("cross-site", "same-site"):
            return f"the browser marked the request {fetch_site}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:  # (no WebSocket routes; Litestar refuses those itself)
            await self.app(scope, receive, send)
            return
        oversized = self._oversized(scope)
        if oversized is not None:
            await _refuse(send, 431, *oversized)
            return
        headers = dict(scope["headers"])  # last one wins; Host and Origin may appear once
        raw_host = headers.get(b"host")
        if raw_host is not None:
            host = _split_host(raw_host.decode("latin-1"))[0]
            if not self.hosts.allows(host):
                await _refuse(send, 400, "host_not_allowed", f"This server does not answer for host {host!r}; add it "
                              "to LEXINTEL_ALLOWED_HOSTS if it is this server's name.")
                return
        if scope.get("method", "GET") not in SAFE_METHODS and b"authorization" not in headers:
            why = self._foreign_origin(headers)
            if why is not None:
                await _refuse(send, 403, "origin_not_allowed", f"Refused a write from another site: {why}. Use the "
                              "page this server serves, or send an API token (Authorization: Bearer).")
                return

        gone = False

        async def receive_noting_disconnect() -> ReceiveMessage:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def send_with_headers(message: Message) -> None:
            if gone:  # the client left (or the edge cut a stalled body off): the server would drop this anyway,
                return  # and Litestar's "disconnected prematurely" 500 must not be logged and counted as ours
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers") or ()}
                extra = [h for h in (NOSNIFF, NO_STORE) if h[0] not in names]
                if extra:
                    message["headers"] = [*(message.get("headers") or ()), *extra]
            await send(message)

        await self.app(scope, receive_noting_disconnect, send_with_headers)
