"""Server-Sent-Events streams: replay from the durable log, then live frames from the broadcaster.

Gap-free and duplicate-free resume: the subscription is registered *before* the log is read (both happen on
the event-loop thread, where every append also happens), so each event is either already in the log when we
read it or arrives in the subscription queue afterwards; live frames with ids we already replayed are
skipped. See DESIGN.md "Replay and resume".

This is the HTTP side of the event path (with :mod:`lexintel.api.sse_response`, the ASGI response and the
wrapper that streams it); :mod:`lexintel.events` stays transport-free: it logs, frames and fans out events,
and knows nothing of HTTP.

Live frames are *pushed* (issue 18): once the replay is sent, the session gives the broadcaster a synchronous
writer (:attr:`Subscription.sink`) and its own task just waits for the end. The broadcaster calls the writer
once per publish burst with everything queued for this client; the writer runs the ASGI ``send`` coroutine to
completion on the spot (uvicorn's ``send`` only suspends when the socket's buffer is full), so a delivery
costs one ``send`` and no task switch, no future, no wake-up. Under ``lexintel serve`` even that ``send`` is
skipped while the socket takes writes at once: the chunk goes to the transport through the connection's
:class:`~lexintel.api.http_edge.EdgeStream`. When a send does suspend, it is finished in a
small task and frames wait in the subscription's bounded queue meanwhile, exactly as a slow pulling reader's
would (coalesced, or the client cut loose as lagging). Without a ``send`` (or while waiting for an unknown
subject) the session pulls with :meth:`Subscription.next_batch` as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lexintel.events.broadcaster import Broadcaster, Subscription
from lexintel.events.log import EventLog, StoredEvent
from lexintel.events.schema import Frame, encode_frame, encode_unnamed_frame
from lexintel.observability.logging import log_event

if TYPE_CHECKING:
    from litestar.types import Send

    from lexintel.api.http_edge import EdgeStream

__all__ = ["SSE_HEADERS", "SSESession", "replay_is_finished"]

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


@dataclass(slots=True, weakref_slot=True)  # weakref: api/stream_limits gives a slot back if dropped
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
    # Observability: latency of each write of live frames (seconds since the oldest one's publication, number
    # of frames) and the reason a stream ended.
    on_deliver: Callable[[float, int], None] | None = None
    on_close: Callable[[str], None] | None = None
    _close_reason: str | None = None
    _last_sent: int | None = None
    _opened: float = 0.0
    # Access: registers the subscription under its principal so revoking access ends it (lexintel.auth.revocation)
    on_open: Callable[[Subscription], Callable[[], None]] | None = None
    _forget: Callable[[], None] | None = None
    on_subscribe: Callable[[Subscription], Callable[[], None]] | None = None
    """Also called with the subscription (:class:`lexintel.case_list.CaseLists`: the page's case-list notices come
    on the same stream); returns the function that forgets it."""
    _unlisten: Callable[[], None] | None = None
    send: Send | None = None
    """The ASGI ``send`` of the response (set by :class:`SSEResponse`): live frames are then pushed to it from
    the broadcaster's flush (push mode) instead of waking this stream's task for every batch."""
    _send_live: Any = None
    edge: EdgeStream | None = None
    """The connection's direct line (:class:`lexintel.api.http_edge.EdgeStream`, under ``lexintel serve``): a
    live write that needs no waiting goes straight to the transport as one chunk, skipping the ASGI layers."""
    _cursor: int = 0
    _resume: asyncio.Future[None] | None = None

    def release(self) -> None:
        """Drop the subscription (synchronous, idempotent: also called from a cancelled task)."""
        if self._resume is not None:
            self._resume.cancel()
        if self._sub is not None:
            self._sub.sink = None
            self.broadcaster.unsubscribe(self._sub)
            self._sub = None
            if self._forget is not None:
                self._forget()
            if self._unlisten is not None:
                self._unlisten()
            reason = self._close_reason or "client_disconnected"
            log_event(log, "stream.close", stream=self.stream, reason=reason, last_event_id=self._last_sent,
                      seconds=round(time.monotonic() - self._opened, 3))
            if self.on_close is not None:
                self.on_close(reason)

    def client_gone(self) -> None:
        """The client disconnected: end the live loop (its next wake-up sees the closed subscription)."""
        if self._sub is not None:
            self._sub.close("client_disconnected")

    def _delivered(self, oldest: float, frames: int) -> None:
        # One observation per write, not per frame: the metric's cost stays flat however many frames a batch has.
        if self.on_deliver is not None:
            self.on_deliver(time.monotonic() - oldest, frames)

    def _live_chunk(self, batch: list[Frame]) -> bytes:
        """The bytes for live frames not sent yet (one write), up to a terminal one that ends the stream."""
        out: list[bytes] = []
        oldest = 0.0
        unnamed = self.unnamed
        cursor = self._cursor
        for frame in batch:
            if frame.id <= cursor and frame.id:  # (id 0: a notice outside the log, written without an id)
                continue  # already sent during replay
            if not out:
                oldest = frame.published
            out.append(frame.unnamed or frame.payload if unnamed else frame.payload)
            cursor = frame.id or cursor
            if frame.terminal and self.closes_on_terminal:
                self._close_reason = "terminal"
                break
        if not out:
            return b""
        self._cursor = self._last_sent = cursor
        self._delivered(oldest, len(out))
        return out[0] if len(out) == 1 else b"".join(out)

    async def _push_live(self, sub: Subscription, send: Send) -> None:
        """Push mode: the broadcaster writes this stream's frames (and pings) through :meth:`_push` from its
        flush, once per publish burst, without waking this task; the task only waits for the end. A write
        that cannot complete at once (the client's socket is full) finishes in a task of its own while
        further frames wait in the subscription's bounded queue (coalesced, or the client cut as lagging)."""
        self._send_live = send
        loop = asyncio.get_running_loop()
        self.broadcaster.watch_deadline(loop, self.ping_interval)
        queued = sub.take()  # what arrived during the replay, then everything from the flush
        sub.sink = self._push
        if queued:
            self._push(queued)
        await sub.wait_closed()
        while self._resume is not None:  # a write still in flight goes first (a terminal frame, say)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._resume)
        sub.flush()  # frames offered just before the close (a subject's last event, then its deletion)
        while self._resume is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._resume)
        sub.sink = None

    def _push(self, batch: list[Frame]) -> None:
        if self._resume is not None or self._sub is None or self._close_reason == "terminal":
            return  # busy (frames wait in the queue), released, or ended: nothing goes after a terminal frame
        chunk = self._live_chunk(batch) if batch else PING
        if chunk:
            self._write(chunk)
        if self._close_reason == "terminal" and self._sub is not None:
            self._sub.close("terminal")

    def _write(self, chunk: bytes) -> None:
        """Write one chunk straight to the connection when it can take it; else run the ASGI ``send``
        synchronously, and hand it to a task only if it has to wait."""
        edge = self.edge
        if edge is not None:
            if edge.write(chunk):
                return
            if edge.gone:  # (uvicorn would drop the write silently and the stream would wait forever)
                if self._sub is not None:
                    self._sub.close("client_disconnected")
                return
        coro = self._send_live({"type": "http.response.body", "body": chunk, "more_body": True})
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return  # written (the usual case: no task switch, no future)
        except Exception:  # the client went away mid-write
            if self._sub is not None:
                self._sub.close("client_disconnected")
            return
        if self._sub is not None:
            self._sub.sink = None  # frames queue (bounded) until this write is done
        self._resume = asyncio.ensure_future(self._finish_write(coro, waiting_on))

    async def _finish_write(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        try:
            while True:
                if waiting_on is not None:
                    with contextlib.suppress(Exception):  # the send sees the same outcome when resumed
                        await waiting_on  # what the send is blocked on (uvicorn: its flow-control drain)
                try:
                    waiting_on = coro.send(None)
                except StopIteration:
                    break
        except BaseException:
            coro.close()
            if self._sub is not None:
                self._sub.close("client_disconnected")
            raise
        finally:
            self._resume = None
        sub = self._sub
        if sub is not None and sub.closed_reason is None:
            sub.sink = self._push
            queued = sub.take()
            if queued:
                self._push(queued)

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

    def _replay_page(self, head: bytes, cursor: int) -> tuple[bytes, int, bool]:
        """One page of replay after ``cursor`` as one chunk (``head`` first): ``(chunk, cursor, more pages)``.

        A method of its own so the page's rows and frames are not locals of :meth:`frames`, which stays
        suspended for the whole live phase (they were 1 KiB per idle connection)."""
        page = self.log.after(self.stream, cursor, REPLAY_PAGE)
        out = [head] if head else []
        for event in page:
            out.append(_frame(event, unnamed=self.unnamed))
            cursor = self._last_sent = event.id
            if event.terminal and self.closes_on_terminal:
                self._close_reason = "terminal"
                return b"".join(out), cursor, False
        return b"".join(out), cursor, len(page) >= REPLAY_PAGE

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """The byte stream: ``retry:``, replay, then live frames and ``: ping`` comments."""
        sub = self.broadcaster.subscribe(self.stream)
        self._sub = sub
        if self.edge is not None and self.edge.gone:  # the client left before the stream began
            sub.close("client_disconnected")
        self._forget = self.on_open(sub) if self.on_open is not None else None
        self._unlisten = self.on_subscribe(sub) if self.on_subscribe is not None else None
        self._opened = time.monotonic()
        log_event(log, "stream.open", stream=self.stream, last_event_id=self.last_event_id)
        try:
            cursor, reset = self._start_cursor()
            chunk = f"retry: {self.retry_ms}\n\n".encode() + reset
            more = True
            while more:  # replay, a page at a time (the pages are not kept in this frame for the live phase)
                chunk, cursor, more = self._replay_page(chunk, cursor)
                if chunk:
                    yield chunk
                    chunk = b""
                if self._close_reason == "terminal":
                    return
            self._cursor = cursor
            waiting_until = time.monotonic() + self.wait_for_subject if self.wait_for_subject and not cursor else 0.0
            if self.send is not None and not waiting_until:
                await self._push_live(sub, self.send)  # frames go out from the broadcaster's flush
                if self._close_reason == "terminal":
                    return
            while sub.closed_reason is None:  # live, pulled by this task (no sink, or waiting for a subject)
                batch = await sub.next_batch(self.ping_interval)
                if batch is None:
                    if waiting_until and time.monotonic() >= waiting_until:
                        self._close_reason = "unknown_subject"
                        yield f": closed (nothing published yet)\nretry: {self.retry_ms}\n\n".encode()
                        return
                    yield PING
                    continue
                if waiting_until and self.send is not None:  # the subject exists now: push from here on
                    waiting_until = 0.0
                    sub.requeue(batch)
                    await self._push_live(sub, self.send)
                    if self._close_reason == "terminal":
                        return
                    break
                waiting_until = 0.0
                chunk = self._live_chunk(batch)
                if chunk:
                    yield chunk
                if self._close_reason == "terminal":
                    return
            self._close_reason = sub.closed_reason
            # Lagging clients come back quickly and resume from the log by Last-Event-ID.
            retry = 1000 if sub.closed_reason == "lagging" else self.retry_ms
            yield f": closed ({sub.closed_reason})\nretry: {retry}\n\n".encode()
        finally:
            self.release()
