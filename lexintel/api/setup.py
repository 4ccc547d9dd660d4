"""First run: create the first admin from the page, while the server has no users.

    GET  /setup   -> {"needed": bool, "code_required": bool}
    POST /setup   {"name", "password", "code"?} -> 201, the new admin logged in (session cookie + CSRF token)

Who may do it: a request from this machine (loopback peer, a loopback ``Host``, no proxy headers) needs nothing
more: whoever can reach the loopback interface could also run ``lexintel user add``. From anywhere else the
one-time *setup code* is needed, which the server prints in its log at start (only someone who can read the
log, i.e. who runs the server, has it). Refused (409 ``setup_done``) as soon as any user exists, whoever made
it (the CLI included). Wrong codes are limited to 10 a minute per address (429 with ``Retry-After``); the code
has 10^12 values, so guessing it is hopeless anyway. The body must be JSON, so a cross-site HTML form cannot
post it (the Origin check of the HTTP edge refuses cross-site scripts).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED

from lexintel.api.errors import error_responses
from lexintel.api.models import Body
from lexintel.api.models.auth import LoginResult, UserView
from lexintel.auth.ratelimit import LoginLimiter
from lexintel.auth.service import Auth
from lexintel.auth.sessions import session_cookie
from lexintel.errors import Conflict, Forbidden, RateLimited, UnsupportedType
from lexintel.settings import Settings

__all__ = ["FirstRun", "SetupStatus", "from_loopback", "setup_handlers", "start_first_run"]

log = logging.getLogger("lexintel.auth")
_PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


class SetupStatus(Body):
    """``GET /setup``."""

    needed: bool
    """True while the server has accounts on and no user: the page offers to create the first admin."""
    code_required: bool
    """True when this request does not come from the server's own machine: the setup code from the server's
    log must be given."""


class NewAdmin(msgspec.Struct):
    """Body of ``POST /setup``."""

    name: str
    password: str
    code: str = ""


def _digits(code: str) -> str:
    return "".join(ch for ch in code if ch.isdigit())


@dataclass
class FirstRun:
    """The one-time setup code of this process (made when first needed) and the wrong-code limiter."""

    settings: Settings
    auth: Auth
    limiter: LoginLimiter = field(default_factory=lambda: LoginLimiter(per_name=10, per_address=10))
    _code: str | None = None

    def needed(self) -> bool:
        return self.auth.enabled and self.auth.users.count() == 0

    def code(self) -> str:
        """The setup code, printed in the log the first time it is made."""
        if self._code is None:
            raw = f"{secrets.randbelow(10**12):012d}"
            self._code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
            url = f"http://{self.settings.host}:{self.settings.port}/"
            log.warning("no users yet: open %s on this machine to create the first admin, or give the setup code "
                        "%s on the page from another machine (or run `lexintel user add admin --role admin` "
                        "with the same data dir)", url, self._code)
        return self._code

    def code_matches(self, given: str) -> bool:
        return hmac.compare_digest(_digits(given).encode(), _digits(self.code()).encode())


def start_first_run(settings: Settings, auth: Auth) -> FirstRun:
    """Build the first-run state; with no users yet, print the setup code now (it is in the start log)."""
    first = FirstRun(settings, auth)
    if first.needed():
        first.code()
    return first


def _first_run(request: Request[Any, Any, Any]) -> FirstRun:
    state: FirstRun = request.app.state.first_run
    return state


def from_loopback(request: Request[Any, Any, Any]) -> bool:
    """True when the request comes from this machine directly: a loopback peer, addressed to a loopback name,
    and not relayed (a reverse proxy on the same machine has a loopback peer too, but adds these headers or
    keeps the public ``Host``)."""
    peer = request.client.host if request.client else ""
    try:
        if not ipaddress.ip_address(peer).is_loopback:
            return False
    except ValueError:
        return False
    if any(name in request.headers for name in _PROXY_HEADERS):
        return False
    host = request.headers.get("host", "")
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.rsplit(":", 1)[0]
    if name.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@get("/setup", opt={"public": True}, tags=["auth"])
async def setup_status(request: Request[Any, Any, Any]) -> SetupStatus:
    """Whether the first admin still has to be created, and whether this request needs the setup code."""
    first = _first_run(request)
    needed = first.needed()
    return SetupStatus(needed=needed, code_required=needed and not from_loopback(request))


@post("/setup", status_code=HTTP_201_CREATED, opt={"public": True}, tags=["auth"],
      responses=error_responses(403, 409, 415, 429))
async def create_first_admin(data: JSONBody[NewAdmin], request: Request[Any, Any, Any]) -> Response[LoginResult]:
    """Create the first admin (no user may exist yet) and log them in."""
    first = _first_run(request)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise UnsupportedType("json_required", "Send the first admin as application/json.")
    if not first.needed():
        raise Conflict("setup_done", "This server already has users: log in, or ask an admin for an account.")
    address = request.client.host if request.client else "?"
    if not from_loopback(request):
        wait = first.limiter.retry_after("setup", address)
        if wait:
            raise RateLimited("too_many_attempts", f"Too many wrong setup codes; try again in {wait} s.",
                              retry_after=wait)
        if not data.code.strip():
            raise Forbidden("setup_code_required", "From another machine, give the setup code printed in the "
                            "server's log.")
        if not first.code_matches(data.code):
            first.limiter.failed("setup", address)
            raise Forbidden("wrong_setup_code", "That is not the setup code printed in the server's log.")
    # Synchronous on purpose: the count above and the insert here have no await between them, so two requests
    # cannot both create a "first" admin; hashing on the loop (tens of ms) happens once per server's life.
    user = first.auth.users.create(data.name.strip(), data.password[:1024], "admin")
    log.info("first admin %r created from the page (%s)", user.name,
             "this machine" if from_loopback(request) else "with the setup code")
    secret, session = first.auth.sessions.create(user)
    secure = request.url.scheme == "https"
    body = LoginResult(user=UserView(id=user.id, name=user.name, role=user.role), csrf_token=session.csrf_token,
                       expires_at=session.expires_at)
    return Response(body, status_code=HTTP_201_CREATED, cookies=[session_cookie(secret, secure=secure)])


setup_handlers = [setup_status, create_first_admin]
