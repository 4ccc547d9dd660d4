"""Follow one SSE stream to its end, resuming by ``Last-Event-ID`` when the connection drops.

httpx-sse decodes the frames; this module adds what a browser's EventSource does on its own: remember the last
event id, honour the server's ``retry:``, reconnect after a drop (server restart, network blip, ``: closed``
from a lagging subscriber), and stop at the terminal event or at ``204 No Content`` (the server's way to say
"you already have the end"). Events are handed over exactly once, in id order: a replayed id is skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from httpx_sse import SSEError, aconnect_sse

from lexintel.cli.api import CliError, check

__all__ = ["StreamEvent", "follow"]

TERMINAL = frozenset({"complete", "error"})
MAX_RETRY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event: its per-stream id, its SSE name (progress/complete/error/reset), and the ProgressEvent."""

    id: int
    name: str
    data: dict[str, Any]

    @property
    def terminal(self) -> bool:
        """The stream's subject has finished (the server closes the stream after it)."""
        return self.name in TERMINAL


Handler = Callable[[StreamEvent], Awaitable[None] | None]
StateHandler = Callable[[str], None]


async def follow(
    client: httpx.AsyncClient,
    path: str,
    on_event: Handler,
    *,
    last_event_id: int | None = None,
    give_up_after: float = 120.0,
    on_state: StateHandler | None = None,
) -> StreamEvent | None:
    """Read ``path`` until its terminal event (returned) or a 204 (returns None).

    Reconnects after drops; raises :class:`CliError` when no connection succeeds for ``give_up_after``
    seconds, and :class:`~lexintel.cli.api.NotFoundError` on 404 (no such document or batch).
    """
    cursor = last_event_id
    delay = 1.0
    down_since: float | None = None
    while True:
        headers = {} if cursor is None else {"Last-Event-ID": str(cursor)}
        try:
            async with aconnect_sse(client, "GET", path, headers=headers, timeout=httpx.Timeout(30.0, read=90.0)) \
                    as source:
                resp = source.response
                if resp.status_code == 204:
                    return None
                if resp.status_code != 200:
                    await resp.aread()
                    if resp.status_code < 500:
                        check(resp)  # raises: 404 (no such stream), 400 (bad cursor)...
                    raise httpx.RemoteProtocolError(f"server answered {resp.status_code}")  # restarting: retry
                down_since = None
                if on_state:
                    on_state("live")
                async for sse in source.aiter_sse():
                    if sse.retry is not None:
                        delay = min(sse.retry / 1000, MAX_RETRY_SECONDS)
                    if not sse.id or not sse.data:
                        continue
                    event_id = int(sse.id)
                    if cursor is not None and event_id <= cursor:
                        continue  # already handed over before the reconnect
                    cursor = event_id
                    event = StreamEvent(event_id, sse.event, json.loads(sse.data))
                    result = on_event(event)
                    if result is not None:
                        await result
                    if event.terminal:
                        return event
        except SSEError as exc:  # a 200 that is not text/event-stream: not something a retry fixes
            raise CliError(f"{path} is not an event stream: {exc}") from None
        except httpx.TransportError:
            pass
        # Dropped (or closed without a terminal event): come back from the cursor, like EventSource does.
        now = time.monotonic()
        down_since = down_since or now
        if now - down_since > give_up_after:
            raise CliError(f"lost the stream {path} and could not reconnect for {give_up_after:.0f} s")
        if on_state:
            on_state("reconnecting")
        await anyio.sleep(delay)
