"""Open streams by principal, so that taking access away also ends the streams already open.

An SSE stream is authorized once, when it opens; a case stream never ends by itself. So every stream opened with
accounts on is registered here under its *principal*: the user, the credential the request authenticated with
(``token:<id>`` or ``session:<hash>``, see :mod:`lexintel.auth.tokens`) and the case the stream belongs to. Two
ways end a stream whose principal lost access:

- **At once**, when this instance takes the access away: revoking an API token, logging out, disabling or
  deleting a user, a new password (other sessions end), removing a share. The endpoint calls
  :meth:`OpenStreams.end_credential`, :meth:`~OpenStreams.end_user` or :meth:`~OpenStreams.recheck_user`.
- **Within** ``LEXINTEL_REVOCATION_CHECK_INTERVAL`` seconds (2 by default) otherwise: a sweep re-checks every
  distinct principal against the database (one query for all of them), which catches what another process
  changed (``lexintel user disable`` on the data dir while the server runs), tokens and sessions that expired,
  and a share removed through another instance on the same database.

Ending a stream closes its broadcaster subscription with reason ``revoked``: the stream loop wakes, sends
``: closed (revoked)`` and ends; the client's reconnect is then refused (401 or 404) like any other request.

The hook into the stream code is one scope entry: the guard puts ``scope[STREAM_OPEN]`` (a function of the
subscription, returning the function that forgets it) on SSE requests, and :mod:`lexintel.api.sse` calls it when
the stream subscribes and when it is released.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio

from lexintel.auth.users import Users
from lexintel.events.broadcaster import Subscription
from lexintel.store import access

__all__ = ["REVOKED", "STREAM_OPEN", "OpenStreams", "Principal"]

STREAM_OPEN = "lexintel.stream_open"
"""Scope key of the hook an SSE response calls with its subscription (set by the auth guard)."""
REVOKED = "revoked"
log = logging.getLogger("lexintel.auth")


@dataclass(frozen=True)
class Principal:
    """Who holds a stream: the user, the credential they came with (None: unknown), the stream's case."""

    user_id: str
    credential: str | None
    case_id: str | None


class OpenStreams:
    """The open streams of one instance, by principal; ends them when the principal loses access."""

    def __init__(self, users: Users, interval: float = 2.0) -> None:
        self.users = users
        self.db = users.db
        self.interval = interval
        self.ended = 0  # streams ended for lost access (counted for tests and logs)
        self._subs: dict[Principal, set[Subscription]] = {}

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._subs.values())

    def hook(self, principal: Principal) -> Callable[[Subscription], Callable[[], None]]:
        """What the guard puts in ``scope[STREAM_OPEN]`` for a stream request of ``principal``."""
        return partial(self.track, principal)

    def track(self, principal: Principal, sub: Subscription) -> Callable[[], None]:
        """Register an open stream; returns the function that forgets it. A principal revoked between the
        guard's check and the subscription is ended at once."""
        self._subs.setdefault(principal, set()).add(sub)
        if not self.valid(principal):
            self._close(sub)
        return partial(self._forget, principal, sub)

    def _forget(self, principal: Principal, sub: Subscription) -> None:
        subs = self._subs.get(principal)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[principal]

    def _close(self, sub: Subscription) -> None:
        if sub.closed_reason is None:
            self.ended += 1
        sub.close(REVOKED)

    def _end(self, keep: Callable[[Principal], bool]) -> int:
        ended = 0
        for principal, subs in list(self._subs.items()):
            if not keep(principal):
                for sub in tuple(subs):
                    self._close(sub)
                    ended += 1
        if ended:
            log.info("ended %d open stream(s) whose access was revoked", ended)
        return ended

    def end_credential(self, credential: str) -> int:
        """A token was revoked or a session ended: end the streams opened with it."""
        return self._end(lambda p: p.credential != credential)

    def end_user(self, user_id: str) -> int:
        """A user was disabled or deleted: end all their streams."""
        return self._end(lambda p: p.user_id != user_id)

    def recheck_user(self, user_id: str) -> int:
        """Something about a user's access changed (a share removed, a role, a password): end the streams of
        theirs that are no longer allowed."""
        return self._end(lambda p: p.user_id != user_id or self.valid(p))

    def valid(self, principal: Principal) -> bool:
        """Whether the principal may still hold its stream: the user exists and is enabled, the credential
        exists and has not expired, and the user may still read the stream's case (a case that no longer exists
        is left to the code that deleted it, which ends its streams with its own event)."""
        return bool(self._allowed([principal]))

    def _allowed(self, principals: list[Principal]) -> list[Principal]:
        """The principals still allowed, checked in one query per 5,000."""
        now = time.time()
        keep: list[Principal] = []
        for start in range(0, len(principals), 5000):
            part = principals[start:start + 5000]
            rows = []
            for p in part:
                kind, _, ident = (p.credential or "").partition(":")
                rows.append((p.user_id, kind or None, ident or None, p.case_id))
            live = access.live_principals(self.db, rows, now)
            keep.extend(p for n, p in enumerate(part) if n in live)
        return keep

    def sweep(self) -> int:
        """Re-check every distinct principal (one query); end the streams of those no longer allowed."""
        allowed = set(self._allowed(list(self._subs)))
        return self._end(lambda p: p in allowed)

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Sweep every ``interval`` seconds while streams are open (started in the app's task group)."""
        task_status.started()
        while True:
            await anyio.sleep(self.interval)
            if not self._subs:
                continue
            try:
                self.sweep()
            except sqlite3.Error:  # a busy or full database must not end the app's task group: try again next time
                log.warning("could not re-check the open streams' access; trying again in %g s", self.interval,
                            exc_info=True)
