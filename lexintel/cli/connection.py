"""One command's connection to the server: requests retried across an outage, with backoff, up to a limit.

A server that restarts (a deploy, a crash, ``kill -9``) is gone for a few seconds; a command in the middle of a
thousand-file upload should wait for it, not die. Every request and every stream of a command goes through one
:class:`Connection`, which keeps the outage as shared state: the first failure starts it (and reports it once,
however many requests and streams notice it), the first success ends it, and when it has lasted longer than
``retry_for`` seconds the next failure raises :class:`ServerGone`, one line for the user.

A server that was never reached is retried for ``FIRST_CONTACT`` seconds only (it may be starting or
restarting; a typo in ``--server`` should not hang for two minutes).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from lexintel.cli.api import CliError, error_code

__all__ = ["Connection", "ServerGone", "describe_failure", "transient"]

FIRST_DELAY = 0.5
MAX_DELAY = 5.0
FIRST_CONTACT = 10.0
TRANSIENT_STATUS = frozenset({502, 503, 504})


class ServerGone(CliError):
    """The server stopped answering and did not come back within the retry window."""


def describe_failure(exc: httpx.TransportError) -> str:
    """A transport error in words (never an exception class name)."""
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if not text or "refused" in text.lower() or "all connection attempts failed" in text.lower():
            return "connection refused"
        return f"cannot connect ({text})"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection closed mid-answer"
    return "the connection broke"


def transient(resp: httpx.Response) -> bool:
    """An answer that means "try again shortly": a proxy in front of a restarting server, or our own server
    refusing new work while it shuts down (``shutting_down``, 503 on uploads and 409 on chunks)."""
    return resp.status_code in TRANSIENT_STATUS or error_code(resp) == "shutting_down"


@dataclass
class Connection:
    """The client plus the outage state shared by every request and stream of one command."""

    client: httpx.AsyncClient
    retry_for: float = 120.0
    notify: Callable[[str, str], None] = field(default=lambda text, style: print(text, file=sys.stderr))
    on_change: Callable[[bool], None] | None = None  # True when an outage starts, False when it ends
    _ever_up: bool = field(default=False, init=False)
    _down_since: float | None = field(default=None, init=False)

    @property
    def server(self) -> str:
        return str(self.client.base_url).rstrip("/")

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def succeeded(self, sent_at: float) -> None:
        """The server answered a request sent at ``sent_at`` (``time.monotonic()``): any outage is over, unless
        the request went out before the outage began (an answer racing the failure is no news)."""
        if self._down_since is not None and sent_at < self._down_since:
            return
        if not self._ever_up:
            self._ever_up, self._down_since = True, None
        elif self._down_since is not None:
            lasted = time.monotonic() - self._down_since
            self._down_since = None
            self.notify(f"reconnected after {lasted:.0f} s", "green")
            if self.on_change:
                self.on_change(False)

    def failed(self, problem: str) -> None:
        """A request or stream could not get through; raises when it is time to give up."""
        now = time.monotonic()
        if not self._ever_up:
            if self._down_since is None:
                self._down_since = now
                self.notify(f"waiting for the server at {self.server} ({problem})…", "yellow")
            elif now - self._down_since > min(self.retry_for, FIRST_CONTACT):
                raise CliError(f"cannot reach the server at {self.server}: {problem}")
            return
        if self._down_since is None:
            self._down_since = now
            self.notify(f"connection to the server lost ({problem}); reconnecting… (giving up after "
                        f"{self.retry_for:g} s)", "yellow")
            if self.on_change:
                self.on_change(True)
        elif now - self._down_since > self.retry_for:
            raise ServerGone(f"lost the server at {self.server} ({problem}) and it did not come back within "
                             f"{self.retry_for:g} s")

    async def attempt(self, send: Callable[[], Awaitable[httpx.Response]], *, heals: bool = True) -> httpx.Response:
        """``send()`` until it gets a real answer (any status but a transient one), with backoff between tries.

        ``send`` builds its request afresh each time (a multipart body's files are read again). With
        ``heals=False`` an answer does not end an outage (a status query answered while the server still refuses
        the uploads it is about proves nothing).
        """
        delay = FIRST_DELAY
        while True:
            sent_at = time.monotonic()
            try:
                resp = await send()
            except httpx.TransportError as exc:
                problem = describe_failure(exc)
            else:
                if not transient(resp):
                    if heals:
                        self.succeeded(sent_at)
                    return resp
                problem = f"it answered {resp.status_code} (restarting?)"
            self.failed(problem)
            await anyio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    async def request(self, method: str, path: str, *, heals: bool = True, **kwargs: Any) -> httpx.Response:
        """One request, retried across an outage (for requests whose body can be sent again as is)."""
        return await self.attempt(lambda: self.client.request(method, path, **kwargs), heals=heals)

    async def backoff(self, tries: int) -> None:
        """Wait before try number ``tries`` (1-based) of something that failed: 0.5 s, 1 s, 2 s, … up to 5 s."""
        await anyio.sleep(min(FIRST_DELAY * 2 ** max(tries - 1, 0), MAX_DELAY))
