"""Open SSE streams per user (issue 13 item 3): one member cannot hold thousands of streams.

The security test held 3,000 streams as one member (+171 MB, +3,000 fds) and, at about 1,000, other users'
requests failed. Each stream is cheap (about 15 KiB), so the cap is not about one stream's cost but about one
principal's share: ``LEXINTEL_MAX_STREAMS_PER_USER`` (default 64, 0: no cap) streams at once per user; past
it a ``429 too_many_streams`` with ``Retry-After`` and ``"limit": "max_streams_per_user"``. Everybody else is
untouched: the count is per principal, and a refused stream costs one dictionary lookup.

Who counts as one principal: the authenticated user (API token, cookie session or stream token all count
for the same user). With ``LEXINTEL_AUTH=off`` every request is the one implicit admin, so there the client
address is the principal (the laptop's own browser and CLI share 127.0.0.1: 64 is far above what they open).

What our own clients open: the web page one ``EventSource`` per open case (per tab); ``lexintel upload`` one
batch stream per multi-file request and one document stream per single-file request still processing, at
most ``CLI_MAX_STREAMS`` (16) at once (``lexintel.cli.upload``), and it waits out a ``429`` instead of failing.

A slot is taken when the stream is about to start (after the 204 check: a finished stream costs nothing)
and given back when the session closes; a weak finalizer gives it back too if the response is dropped
without ever streaming, so a count can never leak.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lexintel.auth.users import User
from lexintel.errors import RateLimited

if TYPE_CHECKING:
    from litestar import Request

    from lexintel.api.sse import SSESession
    from lexintel.services import Services

__all__ = ["RETRY_AFTER", "StreamLimits", "admit_stream", "principal"]

RETRY_AFTER = 10  # seconds: streams end when their subject finishes or a tab closes; try again after a while


class StreamLimits:
    """Counts of open streams per principal; :meth:`acquire` refuses one past the cap."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self.open: dict[str, int] = {}
        self.refused = 0

    def acquire(self, key: str) -> Callable[[], None]:
        """Take a slot for ``key`` or raise :class:`RateLimited`; returns the (idempotent) release."""
        count = self.open.get(key, 0)
        if self.per_user and count >= self.per_user:
            self.refused += 1
            raise RateLimited("too_many_streams", f"You already have {count} open event streams; at most "
                              f"{self.per_user} are allowed at once (LEXINTEL_MAX_STREAMS_PER_USER). Close some "
                              "(tabs, watch commands) and try again.", retry_after=RETRY_AFTER,
                              limit="max_streams_per_user")
        self.open[key] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self.open.get(key, 1) - 1
            if left > 0:
                self.open[key] = left
            else:
                self.open.pop(key, None)

        return release

    def bind(self, release: Callable[[], None], session: SSESession) -> None:
        """Give the slot back when ``session`` closes, or when it is collected without ever having streamed."""
        closed = session.on_close

        def on_close(reason: str) -> None:
            release()
            if closed is not None:
                closed(reason)

        session.on_close = on_close
        weakref.finalize(session, release)


def principal(request: Request[Any, Any, Any]) -> str:
    """``user:<id>`` for an authenticated user; ``addr:<ip>`` when auth is off (one implicit admin for all)."""
    user = request.scope.get("user")
    if isinstance(user, User) and not user.implicit:
        return f"user:{user.id}"
    return f"addr:{request.client.host if request.client else '?'}"


def limits_of(svc: Services) -> StreamLimits:
    """The instance's :class:`StreamLimits` (made on first use, kept on the Services object)."""
    limits: StreamLimits | None = getattr(svc, "_stream_limits", None)
    if limits is None:
        limits = StreamLimits(svc.settings.max_streams_per_user)
        svc._stream_limits = limits  # type: ignore[attr-defined]
    return limits


def admit_stream(request: Request[Any, Any, Any], svc: Services, session: SSESession) -> None:
    """The hook in ``open_stream``: count ``session`` against its principal's cap (429 past it)."""
    limits = limits_of(svc)
    limits.bind(limits.acquire(principal(request)), session)
