"""Login attempt limits (issue 13 item 12): per (name, address), per name from anywhere, per address.

In memory, per instance: enough to make online password guessing slow, with no extra service to run.

* **per (name, address)**: 5 failures a minute. One client guessing one account.
* **per name, from anywhere** (the per-account limit): from the 10th failure within 15 minutes on, each
  further attempt waits 1, 2, 4 ... s after the last failure, capped at 15 minutes. A botnet, or a client
  rotating addresses through a trusted proxy, gets a dozen or so guesses per quarter hour at one account.
* **per address, across names**: 100 failures a minute, a ceiling looser than the others, for sprays of
  many names from one place.

The lockout problem of the last two (anyone can lock an account, and made-up names from one address would
lock out every user behind that NAT or proxy) is answered by **known addresses**: an address where a name
has logged in successfully (in the last 30 days of this process) is exempt from the per-name and per-address
limits for that name; only its own 5-a-minute limit applies. So a spray from elsewhere, or made-up names from
the office's address, never keeps a user out from where they usually log in.

A correct password does not bypass an active limit, so the limit cannot be used to probe which guess was
right; and a limited answer looks the same for names that exist and names that don't.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = ["LoginLimiter"]

MAX_KEYS = 100_000  # per table: past this the oldest keys are forgotten (a spray of names must not grow memory)


@dataclass
class _Backoff:
    """Failures of one name from anywhere within the window."""

    times: deque[float]


class LoginLimiter:
    """Sliding-window counters of failed logins, a per-name backoff, and the addresses each name is known at."""

    def __init__(self, per_name: int = 5, per_address: int = 100, window: float = 60.0, *,
                 account_free: int = 10, account_window: float = 900.0, account_max_wait: float = 900.0,
                 known_for: float = 30 * 86400.0) -> None:
        self.per_name = per_name
        self.per_address = per_address
        self.window = window
        self.account_free = account_free
        self.account_window = account_window
        self.account_max_wait = account_max_wait
        self.known_for = known_for
        self._fails: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._accounts: OrderedDict[str, _Backoff] = OrderedDict()
        self._known: OrderedDict[tuple[str, str], float] = OrderedDict()  # (name, address) -> last success

    @staticmethod
    def _recent(q: deque[float] | None, horizon: float) -> int:
        if q is None:
            return 0
        while q and q[0] <= horizon:
            q.popleft()
        return len(q)

    def _window_wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        q = self._fails.get(key)
        if self._recent(q, now - self.window) < limit or q is None:
            return 0.0
        return q[len(q) - limit] + self.window - now

    def account_wait(self, name: str, now: float | None = None) -> float:
        """Seconds the per-name backoff still holds ``name`` (from unknown addresses); 0 when free."""
        now = time.monotonic() if now is None else now
        entry = self._accounts.get(name.lower())
        if entry is None:
            return 0.0
        count = self._recent(entry.times, now - self.account_window)
        if count < self.account_free:
            return 0.0
        wait = min(self.account_max_wait, 2.0 ** (count - self.account_free))
        return max(0.0, entry.times[-1] + wait - now)

    def known(self, name: str, address: str, now: float | None = None) -> bool:
        """True when ``name`` logged in from ``address`` within ``known_for``."""
        now = time.monotonic() if now is None else now
        seen = self._known.get((name.lower(), address))
        return seen is not None and now - seen < self.known_for

    def retry_after(self, name: str, address: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = time.monotonic() if now is None else now
        name = name.lower()
        waits = [self._window_wait((name, address), self.per_name, now)]
        if not self.known(name, address, now):
            waits.append(self._window_wait(("*", address), self.per_address, now))
            waits.append(self.account_wait(name, now))
        wait = max(waits)
        return max(1, math.ceil(wait)) if wait > 0 else 0

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        name = name.lower()
        for key in ((name, address), ("*", address)):
            q = self._fails.get(key)
            if q is None:
                q = self._fails[key] = deque()
            else:
                self._fails.move_to_end(key)
            q.append(now)
        entry = self._accounts.get(name)
        if entry is None:
            entry = self._accounts[name] = _Backoff(deque())
        else:
            self._accounts.move_to_end(name)
        entry.times.append(now)
        if len(entry.times) > 4 * self.account_free + 64:  # the wait is capped long before: keep the tail only
            entry.times.popleft()
        for table in (self._fails, self._accounts):
            while len(table) > MAX_KEYS:
                table.popitem(last=False)

    def succeeded(self, name: str, address: str, now: float | None = None) -> None:
        """A correct password: forget this pair's failures and remember the address as one the name uses."""
        now = time.monotonic() if now is None else now
        key = (name.lower(), address)
        self._fails.pop(key, None)
        self._known[key] = now
        self._known.move_to_end(key)
        while len(self._known) > MAX_KEYS:
            self._known.popitem(last=False)
