"""The ASGI side of an SSE stream: Litestar's response class and the wrapper that streams it outside Litestar.

:class:`SSEResponse` is what a stream route returns; :class:`SSEHandoff` (around Litestar's handler stack)
takes it over once the handler has returned, so an idle client holds only uvicorn's objects, this module's
frames and the :class:`~lexintel.api.sse.SSESession`. Under ``lexintel serve`` the connection's
:class:`~lexintel.api.http_edge.EdgeStream` reports the client leaving and takes live writes directly.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.response.streaming import ASGIStreamingResponse

from lexintel.api.http_edge import EDGE_SCOPE_KEY
from lexintel.api.sse import SSE_HEADERS, SSESession
from lexintel.auth.revocation import STREAM_OPEN

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPResponseBodyEvent, Receive, Scope, Send

    from lexintel.api.http_edge import EdgeProtocol, EdgeStream

__all__ = ["SSEHandoff", "SSEResponse"]

_SENT_HEADERS = MutableScopeHeaders()  # what a started response holds instead of its own (never read again)


class SSEResponse(ASGIStreamingResponse):
    """Streams one SSE session from the request's own task and releases its subscription however it ends.

    Litestar's streaming response runs every stream in an anyio task group with a second task listening for
    the disconnect; at 10,000 idle clients those objects are a large share of the memory per connection. Here
    the frames are sent from the request task itself, and the connection's edge callback (or, under another
    server, one plain task waiting for ``http.disconnect``) closes the subscription, which wakes the sender.
    The subscription is released synchronously in ``finally``, also when the task is cancelled mid-send.
    """

    __slots__ = ("_edge", "_frames", "_session")

    def __init__(self, session: SSESession) -> None:
        frames = session.frames()
        super().__init__(iterator=frames, media_type="text/event-stream", headers=SSE_HEADERS)
        self._session = session
        self._frames = frames
        self._edge: EdgeStream | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Under :class:`SSEHandoff`, leave the stream to it (once Litestar's call stack has returned);
        otherwise stream here."""
        self._session.on_open = scope.get(STREAM_OPEN)  # type: ignore[assignment]  # set by the auth guard
        if scope.get(_HANDOFF_READY) is True:
            scope[_HANDOFF_READY] = self  # type: ignore[literal-required]  # (a new key would grow the table)
            return
        self.use_edge(scope)
        await super().__call__(scope, receive, send)

    async def start_response(self, send: Send) -> None:
        """Send the status line and headers, then let go of the header objects (kept for the whole stream
        otherwise: 0.4 KiB per idle connection)."""
        await super().start_response(send)
        self.headers = _SENT_HEADERS

    def use_edge(self, scope: Scope) -> None:
        """Take the connection's direct line, if the server runs ``lexintel serve``'s protocol (api/http_edge.py)."""
        protocol: EdgeProtocol | None = scope.get(EDGE_SCOPE_KEY)  # type: ignore[assignment]
        self._edge = protocol.open_stream(scope) if protocol is not None else None

    async def _watch_disconnect(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._session.client_gone()

    async def send_body(self, send: Send, receive: Receive) -> None:
        """Send frames until the session ends or the client leaves.

        Under the edge protocol the connection itself reports the client leaving (a callback, no task parked
        in ``receive()`` per idle stream); elsewhere a small task waits for ``http.disconnect``."""
        session = self._session
        edge, watcher = self._edge, None
        if edge is not None:
            edge.on_lost = session.client_gone
            session.edge = edge
        else:
            watcher = asyncio.get_running_loop().create_task(self._watch_disconnect(receive))
        session.send = send
        try:
            async for chunk in self._frames:
                body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": chunk, "more_body": True}
                await send(body)
            end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(end)
        except OSError:  # the client went away mid-send (servers that raise instead of ignoring the write)
            pass
        finally:
            if watcher is not None:
                watcher.cancel()
            if edge is not None:
                edge.on_lost = None
            session.edge = None
            session.release()


_HANDOFF_READY = "lexintel.sse_handoff"  # True from SSEHandoff; then the SSEResponse to stream


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
        response = scope.get(_HANDOFF_READY)
        if isinstance(response, SSEResponse):
            response.use_edge(scope)
            _compact(scope)
            await response.start_response(send)
            await response.send_body(send, receive)


_ASGI_KEYS = ("type", "asgi", "http_version", "method", "scheme", "path", "raw_path", "query_string", "root_path",
              "headers", "client", "server", "extensions")


def _compact(scope: Any) -> None:
    """Keep only the ASGI keys of a streaming request's scope, in a table of their size.

    The server keeps the scope for the whole stream; Litestar's entries (the app, route handler, user, its
    per-request caches) and ours are not needed once the handler returned, and their table had grown past
    its next size step (0.8 KiB per idle connection). ``clear()`` gives the table back; uvicorn and the request
    log read only ASGI keys from here on."""
    kept = {key: scope[key] for key in _ASGI_KEYS if key in scope}
    scope.clear()
    scope.update(kept)
