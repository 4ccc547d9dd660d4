"""Every open page's case switcher follows its user's case list live: ``cases_changed`` notices.

A case stream only tells about its own case, so a page that has another case open (or none) would keep a stale
list after a rename, a deletion or a new share. Instead of a second EventSource per tab (the browser allows six
connections per host), the page's one stream carries these notices too: every SSE stream of the page (a case
stream, or ``GET /case-list/stream`` while no case is open) is registered here under its user, and a change to a
case is offered to the streams of everyone whose list holds it (owner, sharees, admins; with accounts off, the
single implicit admin). The page then reloads its list (``GET /cases``), so a notice names the case and what
happened (``renamed``, ``deleted``, ``created``, ``shared``, ``unshared``) and nothing the list does not show.

The notices are volatile: never logged, sent without an ``id:`` line (so they do not move the client's
``Last-Event-ID``), and local to this instance (case lists are per instance: each has its own database). A page
that was disconnected reloads its list when its stream comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from lexintel.auth.users import IMPLICIT_ADMIN
from lexintel.events.broadcaster import Subscription
from lexintel.events.schema import Frame, encode_json
from lexintel.store import access
from lexintel.store.db import Database

__all__ = ["CASES_CHANGED", "CaseLists"]

CASES_CHANGED = "cases_changed"
SUBJECT = "cases"
"""The frames' subject: a slow client's queue keeps only the newest of them (any one means "reload the list")."""


def notice_frame(case_id: str, change: str, name: str) -> Frame:
    """An SSE frame without an ``id:`` line (id 0: :mod:`lexintel.api.sse` writes it whatever the cursor)."""
    data = encode_json({"case_id": case_id, "change": change, "name": name})
    return Frame(0, CASES_CHANGED, SUBJECT, f"event: {CASES_CHANGED}\ndata: {data}\n\n".encode())


class CaseLists:
    """The page streams open on this instance, by user; :meth:`changed` tells them about a case."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._subs: dict[str, set[Subscription]] = {}
        self.told = 0  # notices offered to streams (for tests and metrics)

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._subs.values())

    def hook(self, user_id: str) -> Callable[[Subscription], Callable[[], None]]:
        """What an SSE session calls with its subscription when it opens; returns the function that forgets it."""
        return partial(self._track, user_id)

    def _track(self, user_id: str, sub: Subscription) -> Callable[[], None]:
        self._subs.setdefault(user_id, set()).add(sub)
        return partial(self._forget, user_id, sub)

    def _forget(self, user_id: str, sub: Subscription) -> None:
        subs = self._subs.get(user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[user_id]

    def audience(self, case_id: str) -> set[str]:
        """The users whose list holds the case now (read it before a deletion: the shares go with the case)."""
        return access.case_audience(self._db, case_id) | {IMPLICIT_ADMIN.id}

    def changed(self, case_id: str, change: str, name: str, users: Iterable[str] | None = None) -> int:
        """Offer a ``cases_changed`` notice to the open streams of ``users`` (default: the case's audience now);
        returns how many streams it was offered to."""
        frame = notice_frame(case_id, change, name)
        offered = 0
        for user_id in set(self.audience(case_id) if users is None else users):
            for sub in tuple(self._subs.get(user_id, ())):
                sub.offer(frame)
                offered += 1
        self.told += offered
        return offered
