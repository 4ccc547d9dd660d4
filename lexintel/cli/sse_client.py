"""Follow one SSE stream to its end, resuming by ``Last-Event-ID`` when the connection drops.

httpx-sse decodes the frames; this module adds what a browser's EventSource does on its own: remember the last
event id, honour the server's ``retry:``, reconnect after a drop (server restart, network blip, ``: closed``
from a lagging subscriber), and stop at the terminal event or at ``204 No Content`` (the server's way to say
"you already have the end"). Events are handed over exactly once, in id order: a replayed id is skipped.
Reconnecting goes through the command's :class:`~lexintel.cli.connection.Connection`, so an outage is reported
once and given up on after its retry window, whatever number of streams are open.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from anyio.abc import TaskStatus
from httpx_sse import SSEError, aconnect_sse

from lexintel.cli.api import CliError, check
from lexintel.cli.connection import Connection, describe_failure, transient

__all__ = ["StreamEvent", "follow"]

TERMINAL = frozenset({"complete", "error"})
MAX_RETRY_SECONDS = 5.0
STREAM_TIMEOUT = httpx.Timeout(30.0, read=90.0)  # the server pings every 15 s: 90 s of silence is a dead link


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


def _retry_after(resp: httpx.Response) -> float:
    """Seconds a 429 asks us to wait (its ``Retry-After``), within 1..60."""
    try:
        return min(60.0, max(1.0, float(resp.headers.get("retry-after", "5"))))
    except ValueError:
        return 5.0


async def follow(
    conn: Connection,
    path: str,
    on_event: Handler,
    *,
    last_event_id: int | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> StreamEvent | None:
    """Read ``path`` until its terminal event (returned) or a 204 (returns None).

    ``task_status.started()`` is called once the stream is open (or known finished), so a caller can wait for
    the subscription before going on. Raises :class:`~lexintel.cli.api.NotFoundError` on 404 (no such stream)
    and :class:`~lexintel.cli.connection.ServerGone` when the server stays away past the retry window.
    """
    cursor = last_event_id
    server_retry: float | None = None
    tries = 0
    started = False

    def opened(sent_at: float) -> None:
        nonlocal started, tries
        tries = 0
        conn.succeeded(sent_at)
        if not started:
            started = True
            task_status.started()

    while True:
        headers = {} if cursor is None else {"Last-Event-ID": str(cursor)}
        limited = 0.0
        problem = "the stream ended before its last event"
        sent_at = time.monotonic()
        try:
            async with aconnect_sse(conn.client, "GET", path, headers=headers, timeout=STREAM_TIMEOUT) as source:
                resp = source.response
                if resp.status_code == 204:
                    opened(sent_at)
                    return None
                if resp.status_code == 429:  # too many open streams (LEXINTEL_MAX_STREAMS_PER_USER): wait a slot
                    await resp.aread()
                    limited = _retry_after(resp)
                elif resp.status_code != 200:
                    await resp.aread()
                    if not transient(resp):
                        check(resp)  # raises: 404 (no such stream), 400 (bad cursor), 401...
                    problem = f"it answered {resp.status_code} (restarting?)"
                else:
                    opened(sent_at)
                    async for sse in source.aiter_sse():
                        if sse.retry is not None:
                            server_retry = min(sse.retry / 1000, MAX_RETRY_SECONDS)
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
        except httpx.TransportError as exc:
            problem = describe_failure(exc)
        if limited:  # the server is up; this user's other streams hold every slot: not an outage
            await anyio.sleep(limited)
            continue
        # Dropped (or closed without a terminal event): come back from the cursor, like EventSource does.
        conn.failed(problem)
        tries += 1
        if tries == 1 and server_retry is not None:
            await anyio.sleep(server_retry)
        else:
            await conn.backoff(tries)
