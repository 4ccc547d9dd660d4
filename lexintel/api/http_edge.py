"""The HTTP edge at the socket: limits a client must meet before the app sees its request (issue 13 items 1, 3).

What uvicorn 0.54 offers, and why it is not enough on its own:

* ``timeout_keep_alive`` (5 s) only runs *between* requests, after a response; a connection that is still
  sending its first request line or headers, or its body, has no timer at all (a slow-header client is held
  forever: the security test held 400 of each for 77 s).
* ``h11_max_incomplete_event_size`` bounds header bytes with the h11 parser only (400 in plain text);
  with httptools (what ``uvicorn[standard]`` runs) nothing bounds them: a 4 MB header was accepted.
* ``limit_concurrency`` counts *every* connection and task, SSE streams included, and answers 503 to
  whoever comes next: a flood of slow sockets would lock out legitimate users rather than the flood.

So :func:`edge_protocol` subclasses uvicorn's httptools protocol with three limits, all timers set per
connection and re-armed only when they fire (no work per received chunk besides a counter):

1. **headers**: from connect (or a keep-alive request's first byte) to the blank line ending the headers,
   at most ``LEXINTEL_HEADER_TIMEOUT`` seconds and ``LEXINTEL_MAX_HEADER_BYTES`` bytes, else 408 / 431;
2. **body**: while the server is reading a body (not paused because the app is busy, not waiting to send
   ``100 Continue``), each ``LEXINTEL_BODY_TIMEOUT`` window must bring at least one byte and on average
   ``LEXINTEL_BODY_MIN_RATE`` bytes/s, else 408 and the app sees a disconnect;
3. **half-open sockets**: at most ``LEXINTEL_MAX_PENDING_CONNECTIONS`` connections may be in phase 1 at
   once; one more closes the *oldest* of them if it has waited a second or more, so a flood evicts itself
   while real clients, whose headers arrive within milliseconds, are never the oldest (and a burst of them,
   accepted in one go before any has been read, does not evict its own members). Before that global rule,
   one client address may hold at most ``LEXINTEL_MAX_PENDING_PER_ADDRESS`` (64) of them: its own oldest goes
   first, so a flood from one address never reaches the global cap where a slow but honest client elsewhere
   (a phone on a bad line) could be the oldest and be evicted.

Answers are written straight to the socket in the app's JSON error shape, then the socket is closed.
:func:`uvicorn_config` also decides whom ``X-Forwarded-For`` is believed from (item 12): nobody, unless
``LEXINTEL_TRUSTED_PROXIES`` names the proxies (uvicorn trusts 127.0.0.1 by default, so any local process
could pose as any address to the login limiter).
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lexintel.api.http_guard import error_body
from lexintel.events.gc_policy import CONNECTIONS
from lexintel.settings import Settings

__all__ = ["EDGE_SCOPE_KEY", "EdgeLimits", "EdgeProtocol", "EdgeStream", "edge_protocol", "uvicorn_config"]

EDGE_SCOPE_KEY = "lexintel.edge"  # the request's EdgeProtocol: open_stream() for a long response (api/sse.py)

EVICT_MIN_AGE = 1.0  # seconds a pending connection must have waited before a newer one may evict it
BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class Phase(enum.Enum):
    HEADERS = "headers"  # waiting for the request line and headers (the connection is "pending")
    BODY = "body"  # the app has the request; its body is still arriving
    RESPONSE = "response"  # the request is complete; the app is answering (SSE streams stay here)
    IDLE = "idle"  # keep-alive between requests: uvicorn's timeout_keep_alive applies


@dataclass(frozen=True)
class EdgeLimits:
    """The socket-level limits (from Settings)."""

    max_header_bytes: int = 32 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    body_min_rate: int = 500
    max_pending: int = 256
    max_pending_per_address: int = 64  # 0: only the global cap

    @classmethod
    def from_settings(cls, settings: Settings) -> EdgeLimits:
        return cls(settings.max_header_bytes, settings.header_timeout, settings.body_timeout, settings.body_min_rate,
                   settings.max_pending_connections, settings.max_pending_per_address)


class EdgeStream:
    """A long response's direct line to its connection (issue 18: SSE at 10,000 clients).

    Two things the ASGI interface makes costly per idle stream: noticing the client leave takes a task parked in
    ``receive()`` (a task, three coroutine frames and a future per connection), and every write goes through the
    middlewares' ``send`` wrappers and uvicorn's ``send`` coroutine. Here :meth:`on_lost` is a plain callback
    from ``connection_lost``, and :meth:`write` frames one HTTP/1.1 chunk and hands it to the transport exactly as
    uvicorn's ``send`` would, but only while that is what ``send`` would do: the response started chunked on
    this very request, the connection is open, and the transport is not asking writers to wait. Otherwise it
    returns False and the caller uses ``send`` (which waits for the drain), so flow control stays uvicorn's.
    """

    __slots__ = ("_cycle", "_protocol", "on_lost")

    def __init__(self, protocol: EdgeProtocol, cycle: Any) -> None:
        self._protocol = protocol
        self._cycle = cycle  # uvicorn's RequestResponseCycle of this request
        self.on_lost: Callable[[], None] | None = None

    @property
    def gone(self) -> bool:
        """The client has disconnected (uvicorn drops any further ``send`` silently)."""
        return bool(self._cycle.disconnected)

    def write(self, body: bytes) -> bool:
        """Write ``body`` as one chunk if uvicorn's ``send`` would write it now without waiting; else False."""
        cycle, protocol = self._cycle, self._protocol
        if (cycle.disconnected or cycle.response_complete or not cycle.chunked_encoding or not cycle.response_started
                or protocol.flow.write_paused or protocol.cycle is not cycle):
            return False
        protocol.transport.write(b"%x\r\n%s\r\n" % (len(body), body))
        return True


class _EdgeState:
    """EdgeProtocol's own per-connection state, slotted: a dozen more attributes on uvicorn's protocol would turn
    its instance dict from a key-sharing one (296 B) into a private table (1.6 KiB), per connection."""

    __slots__ = ("address", "body_bytes", "header_bytes", "phase", "started", "stream", "timer", "window_bytes",
                 "window_paused", "window_start")

    def __init__(self) -> None:
        self.phase = Phase.IDLE
        self.started = 0.0
        self.header_bytes = 0
        self.body_bytes = 0
        self.window_start = 0.0
        self.window_bytes = 0
        self.window_paused = False
        self.timer: asyncio.TimerHandle | None = None
        self.address = ""
        self.stream: EdgeStream | None = None  # the current request's, once it asked for it


class EdgeProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines and a cap on pending connections."""

    limits: ClassVar[EdgeLimits] = EdgeLimits()
    pending: ClassVar[dict[EdgeProtocol, None]] = {}  # insertion-ordered: the first key is the oldest
    by_address: ClassVar[dict[str, dict[EdgeProtocol, None]]] = {}  # the same, per client address
    sweep_scheduled: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._e = _EdgeState()  # one attribute: uvicorn's 27 stay in a key-sharing dict (296 B, not 1.6 KiB)

    # -- phases
    def _enter_headers(self) -> None:
        self._e.phase = Phase.HEADERS
        self._e.started = self.loop.time()
        cls = type(self)
        cls.pending[self] = None
        if self.limits.max_pending_per_address:
            self._e.address = self.client[0] if self.client else ""
            mine = cls.by_address.setdefault(self._e.address, {})
            mine[self] = None
            cls._evict_own(mine, self._e.started)
        if cls._evict(self._e.started) and not cls.sweep_scheduled:  # over the cap, but all young: look again
            cls.sweep_scheduled = True  # once they are old enough (a flood arriving faster than that
            self.loop.call_later(EVICT_MIN_AGE, cls._sweep, self.loop)  # would otherwise outgrow the cap)
        self._arm(self.limits.header_timeout)

    @classmethod
    def _evict(cls, now: float) -> bool:
        """Close the oldest pending connections while over the cap; True if still over (only young ones left)."""
        while len(cls.pending) > cls.limits.max_pending:
            oldest = next(iter(cls.pending))
            if now - oldest._e.started < EVICT_MIN_AGE:  # a burst of new clients (say, a reconnect storm after a
                return True  # restart) is accepted in one go before any is read: their headers are in flight
            oldest._refuse(408, "too_many_pending", "Too many connections are sending request headers at once; "
                           "this one was the oldest and was closed.")
        return False

    @classmethod
    def _evict_own(cls, mine: dict[EdgeProtocol, None], now: float) -> None:
        """One address over its share of half-open sockets: close its own oldest (never someone else's), so a
        single-address flood stays far below the global cap and cannot evict other clients' slow connections."""
        while len(mine) > cls.limits.max_pending_per_address:
            oldest = next(iter(mine))
            if now - oldest._e.started < EVICT_MIN_AGE:
                return
            oldest._refuse(408, "too_many_pending", "Too many connections from your address are sending request "
                           "headers at once; this one was the oldest and was closed.")

    @classmethod
    def _sweep(cls, loop: asyncio.AbstractEventLoop) -> None:
        cls.sweep_scheduled = False
        if cls._evict(loop.time()):
            cls.sweep_scheduled = True
            loop.call_later(EVICT_MIN_AGE, cls._sweep, loop)

    def _leave_headers(self) -> None:
        cls = type(self)
        cls.pending.pop(self, None)
        mine = cls.by_address.get(self._e.address)
        if mine is not None:
            mine.pop(self, None)
            if not mine:
                del cls.by_address[self._e.address]
        self._cancel()

    def _arm(self, delay: float) -> None:
        self._cancel()
        self._e.timer = self.loop.call_later(max(delay, 0.01), self._deadline)

    def _cancel(self) -> None:
        if self._e.timer is not None:
            self._e.timer.cancel()
            self._e.timer = None

    def _deadline(self) -> None:
        """A phase timer fired: cut the connection off, or re-arm for the rest of the allowance."""
        self._e.timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:  # closed, or now a WebSocket
            return
        now = self.loop.time()
        if self._e.phase is Phase.HEADERS:
            remaining = self.limits.header_timeout - (now - self._e.started)
            if remaining > 0:
                self._arm(remaining)
            else:
                self._refuse(408, "header_timeout", f"The request headers did not arrive within "
                             f"{self.limits.header_timeout:g} s.")
        elif self._e.phase is Phase.BODY:
            self._check_body(now)

    def _check_body(self, now: float) -> None:
        waiting = self.flow.read_paused or (self.cycle is not None and self.cycle.waiting_for_100_continue)
        got, elapsed = self._e.body_bytes - self._e.window_bytes, now - self._e.window_start
        if not (waiting or self._e.window_paused) and (got == 0 or got < self.limits.body_min_rate * elapsed):
            self._refuse(408, "body_timeout", f"The request body arrived too slowly ({got} bytes in {elapsed:.0f} s; "
                         f"at least {self.limits.body_min_rate} bytes/s are needed).")
            return
        self._e.window_start, self._e.window_bytes, self._e.window_paused = now, self._e.body_bytes, bool(waiting)
        self._arm(self.limits.body_timeout)

    def _refuse(self, status: int, code: str, detail: str) -> None:
        """Answer (unless a response already started) and close the connection."""
        self._leave_headers()
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started or self._e.phase is Phase.HEADERS:
            body = error_body(status, code, detail)
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                                 b"x-content-type-options: nosniff\r\nconnection: close\r\n\r\n%s"
                                 % (status, REASONS[status], len(body), body))
        self.transport.close()

    def open_stream(self, scope: Any) -> EdgeStream | None:
        """The direct line for the response to ``scope`` (None if that request is not the current one)."""
        cycle = self.cycle
        if cycle is None or cycle.scope is not scope or self.transport.is_closing():
            return None
        self._e.stream = EdgeStream(self, cycle)
        return self._e.stream

    # -- uvicorn's protocol callbacks
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        CONNECTIONS.made()
        self._enter_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._leave_headers()
        super().connection_lost(exc)
        stream, self._e.stream = self._e.stream, None
        if stream is not None and stream.on_lost is not None:
            stream.on_lost()
        CONNECTIONS.lost()  # the GC freezer's cleanup waits for connections, not streams, to close

    def data_received(self, data: bytes) -> None:
        if self._e.phase in (Phase.HEADERS, Phase.IDLE):
            self._e.header_bytes += len(data)
        super().data_received(data)
        if self._e.phase is Phase.HEADERS and self._e.header_bytes > self.limits.max_header_bytes:
            self._refuse(431, "headers_too_large", f"The request headers exceed {self.limits.max_header_bytes} "
                         "bytes.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._e.phase is not Phase.HEADERS:  # a keep-alive request's first byte: its headers' clock starts
            self._enter_headers()

    def on_headers_complete(self) -> None:
        self._leave_headers()
        self._e.phase = Phase.BODY
        self._e.body_bytes = self._e.window_bytes = 0
        self._e.window_start = self.loop.time()
        self._e.window_paused = False
        self.scope[EDGE_SCOPE_KEY] = self  # type: ignore[literal-required]
        super().on_headers_complete()
        if self._e.phase is Phase.BODY and any(name in BODY_HEADERS for name, _ in self.headers):
            self._arm(self.limits.body_timeout)  # (a GET completes within this same call: no timer needed)

    def on_body(self, body: bytes) -> None:
        self._e.body_bytes += len(body)
        super().on_body(body)
        if self.flow.read_paused:
            self._e.window_paused = True

    def on_message_complete(self) -> None:
        self._cancel()
        self._e.phase = Phase.RESPONSE
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._e.stream = None
        if self._e.phase is Phase.RESPONSE:
            self._e.phase = Phase.IDLE
            self._e.header_bytes = 0
        super().on_response_complete()


def edge_protocol(limits: EdgeLimits) -> type[EdgeProtocol]:
    """A protocol class bound to ``limits``, with its own registry of pending connections (one per server)."""
    return type("LexIntelHttpProtocol", (EdgeProtocol,), {"limits": limits, "pending": {}, "by_address": {},
                                                          "sweep_scheduled": False})


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``lexintel serve``: the edge protocol and the proxy-trust decision."""
    proxies = ",".join(settings.trusted_proxies)
    return uvicorn.Config(
        app, host=settings.host, port=settings.port,
        http=edge_protocol(EdgeLimits.from_settings(settings)),
        proxy_headers=bool(proxies), forwarded_allow_ips=proxies or None,
        h11_max_incomplete_event_size=settings.max_header_bytes,  # if someone selects h11 anyway
        **options,
    )
