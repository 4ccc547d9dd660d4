"""Server-Sent-Events streams: replay from the durable log, then live frames from the broadcaster.

Gap-free and duplicate-free resume: the subscription is registered *before* the log is read (both happen on
the event-loop thread, where every append also happens), so each event is either already in the log when we
read it or arrives in the subscription queue afterwards; live frames with ids we already replayed are
skipped. See DESIGN.md "Replay and resume".

This is the HTTP side of the event path (Litestar's response class, an ASGI wrapper); :mod:`lexintel.events`
stays transport-free: it logs, frames and fans out events, and knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litestar.enums import ScopeType
from litestar.response.streaming import ASGIStreamingResponse

from lexintel.events.broadcaster import Broadcaster, Subscription
from lexintel.events.log import EventLog, StoredEvent
from lexintel.events.schema import encode_frame, encode_unnamed_frame
from lexintel.observability.logging import log_event

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPResponseBodyEvent, Receive, Scope, Send

__all__ = ["SSE_HEADERS", "SSEHandoff", "SSEResponse", "SSESession", "replay_is_finished"]

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
REPLAY_PAGE = 500
log = logging.getLogger("lexintel.sse")
PING = b": ping\n\n"


def _frame(event: StoredEvent, name: str | None = None, unnamed: bool = False) -> bytes:
    if unnamed:
        return encode_unnamed_frame(event.id, event.data)
    return encode_frame(event.id, name or event.name, event.data)


def replay_is_finished(log: EventLog, stream: str, last_event_id: int | None) -> bool:
    """True when the client already has the terminal event: answer 204 so EventSource stops reconnecting."""
    if last_event_id is None:
        return False
    latest = log.latest(stream)
    return latest is not None and latest.terminal and last_event_id >= latest.id


@dataclass
class SSESession:
    """One client's stream: where to start, whether to close on the subject's terminal event."""

    log: EventLog
    broadcaster: Broadcaster
    stream: str
    last_event_id: int | None
    closes_on_terminal: bool
    ping_interval: float
    retry_ms: int
    unnamed: bool = False
    """Send frames without ``event:`` lines (the original design's document stream, ``onmessage``); live
    frames then use the :attr:`Frame.unnamed` bytes encoded once by the emitter, never re-encoded here."""
    wait_for_subject: float = 0.0
    """Seconds to wait for a first event when the stream's subject is not known yet (an outside worker may
    still publish it); pings meanwhile; then the stream ends. 0: the subject exists."""
    _sub: Subscription | None = None
    # Observability: latency of each live frame (seconds since publication) and the reason a stream ended.
    on_deliver: Callable[[float], None] | None = None
    on_close: Callable[[str], None] | None = None
    _close_reason: str | None = None
    _last_sent: int | None = None
    _opened: float = 0.0

    def release(self) -> None:
        """Drop the subscription (synchronous, idempotent: also called from a cancelled task)."""
        if self._sub is not None:
            self.broadcaster.unsubscribe(self._sub)
            self._sub = None
            reason = self._close_reason or "client_disconnected"
            log_event(log, "stream.close", stream=self.stream, reason=reason, last_event_id=self._last_sent,
                      seconds=round(time.monotonic() - self._opened, 3))
            if self.on_close is not None:
                self.on_close(reason)

    def client_gone(self) -> None:
        """The client disconnected: end the live loop (its next wake-up sees the closed subscription)."""
        if self._sub is not None:
            self._sub.close("client_disconnected")

    def _delivered(self, published: list[float]) -> None:
        if self.on_deliver is not None:
            now = time.monotonic()
            for t in published:
                self.on_deliver(now - t)

    def _start_cursor(self) -> tuple[int, bytes]:
        """Where replay starts, plus a ``reset`` frame when the client's cursor is not in the log."""
        latest = self.log.latest(self.stream)  # read once: it decides both the run and a reset
        if latest is None:
            return 0, b""
        if self.last_event_id is None:
            return self.log.run_start(self.stream, latest.run), b""
        first = self.log.first_id(self.stream)
        if self.last_event_id > latest.id or self.last_event_id < first - 1:
            # The cursor is from a log we no longer have (pruned, or another database): send the current
            # state as a `reset` event, then continue live from there.
            return latest.id, _frame(latest, "reset", self.unnamed)
        return self.last_event_id, b""

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The byte stream: ``retry:``, replay, then live frames and ``: ping`` comments."""
        sub = self.broadcaster.subscribe(self.stream)
        self._sub = sub
        self._opened = time.monotonic()
        log_event(log, "stream.open", stream=self.stream, last_event_id=self.last_event_id)
        try:
            cursor, reset = self._start_cursor()
            head = f"retry: {self.retry_ms}\n\n".encode() + reset
            while True:  # replay, a page at a time
                page = self.log.after(self.stream, cursor, REPLAY_PAGE)
                out = [head] if head else []
                head = b""
                for event in page:
                    out.append(_frame(event, unnamed=self.unnamed))
                    cursor = self._last_sent = event.id
                    if event.terminal and self.closes_on_terminal:
                        self._close_reason = "terminal"
                        yield b"".join(out)
                        return
                if out:
                    yield b"".join(out)
                if len(page) < REPLAY_PAGE:
                    break
            unnamed = self.unnamed
            waiting_until = time.monotonic() + self.wait_for_subject if self.wait_for_subject and not cursor else 0.0
            while True:  # live
                batch = await sub.next_batch(self.ping_interval)
                if batch is None:
                    if waiting_until and time.monotonic() >= waiting_until:
                        self._close_reason = "unknown_subject"
                        yield f": closed (nothing published yet)\nretry: {self.retry_ms}\n\n".encode()
                        return
                    yield PING
                    continue
                waiting_until = 0.0
                out = []
                published: list[float] = []
                for frame in batch:
                    if frame.id <= cursor:
                        continue  # already sent during replay
                    out.append(frame.unnamed or frame.payload if unnamed else frame.payload)
                    published.append(frame.published)
                    cursor = self._last_sent = frame.id
                    if frame.terminal and self.closes_on_terminal:
                        self._close_reason = "terminal"
                        yield b"".join(out)
                        self._delivered(published)
                        return
                if out:
                    yield b"".join(out)
                    self._delivered(published)
                if sub.closed_reason is not None:
                    self._close_reason = sub.closed_reason
                    # Lagging clients come back quickly and resume from the log by Last-Event-ID.
                    retry = 1000 if sub.closed_reason == "lagging" else self.retry_ms
                    yield f": closed ({sub.closed_reason})\nretry: {retry}\n\n".encode()
                    return
        finally:
            self.release()


class SSEResponse(ASGIStreamingResponse):
    """Streams one SSE session from the request's own task and releases its subscription however it ends.

    Litestar's streaming response runs every stream in an anyio task group with a second task listening for
    the disconnect; at 10,000 idle clients those objects are a large share of the memory per connection. Here
    the frames are sent from the request task itself and one plain task waits for ``http.disconnect`` and
    closes the subscription, which wakes the sender. The subscription is released synchronously in
    ``finally``, also when the task is cancelled mid-send.
    """

    __slots__ = ("_frames", "_session")

    def __init__(self, session: SSESession) -> None:
        frames = session.frames()
        super().__init__(iterator=frames, media_type="text/event-stream", headers=SSE_HEADERS)
        self._session = session
        self._frames = frames

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Under :class:`SSEHandoff`, leave the stream to it (once Litestar's call stack has returned);
        otherwise stream here."""
        if scope.get(_HANDOFF_READY):
            scope[_HANDOFF] = self  # type: ignore[literal-required]
            return
        await super().__call__(scope, receive, send)

    async def _watch_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._session.client_gone()

    async def send_body(self, send: Send, receive: Receive) -> None:
        """Send frames until the session ends or the client leaves."""
        watcher = asyncio.get_running_loop().create_task(self._watch_disconnect(receive))
        try:
            async for chunk in self._frames:
                body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": chunk, "more_body": True}
                await send(body)
            end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(end)
        except OSError:  # the client went away mid-send (servers that raise instead of ignoring the write)
            pass
        finally:
            watcher.cancel()
            self._session.release()


_HANDOFF_READY = "lexintel.sse_handoff"
_HANDOFF = "lexintel.sse_response"


class SSEHandoff:
    """ASGI wrapper around Litestar's handler stack (inside the request-log middleware).

    The route handler still authenticates, checks the subject, parses Last-Event-ID and builds the response;
    an :class:`SSEResponse` then parks itself in the scope instead of streaming, Litestar's exception
    middleware, router and handler frames return, and this wrapper streams. An idle client then holds only
    uvicorn's objects, this frame and the session: about 5 KiB less per connection than streaming inside
    Litestar's call stack.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        scope[_HANDOFF_READY] = True  # type: ignore[literal-required]
        await self.app(scope, receive, send)
        response = scope.pop(_HANDOFF, None)  # type: ignore[misc]
        if isinstance(response, SSEResponse):
            scope.pop("state", None)  # type: ignore[misc]  # Litestar's per-request caches: not needed now
            await response.start_response(send)
            await response.send_body(send, receive)
