"""Login attempt limits: failed attempts per (user name, client address), and per address across names.

In memory, per instance: enough to make online password guessing slow (5 tries a minute per name and
address, 30 a minute per address), with no extra service to run. A correct password does not bypass an
active limit, so the limit cannot be used to probe which guess was right.
"""

from __future__ import annotations

import math
import time
from collections import deque

__all__ = ["LoginLimiter"]


class LoginLimiter:
    """Sliding-window counters of failed logins."""

    def __init__(self, per_name: int = 5, per_address: int = 30, window: float = 60.0) -> None:
        self.per_name = per_name
        self.per_address = per_address
        self.window = window
        self._fails: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._fails.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._fails[key]
        return q

    def retry_after(self, name: str, address: str, now: float | None = None) -> int:
        """Seconds until another attempt is allowed; 0 when allowed now."""
        now = time.monotonic() if now is None else now
        waits = []
        for key, limit in (((name.lower(), address), self.per_name), (("*", address), self.per_address)):
            q = self._recent(key, now)
            if len(q) >= limit:
                waits.append(q[len(q) - limit] + self.window - now)
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in ((name.lower(), address), ("*", address)):
            self._fails.setdefault(key, deque()).append(now)
        if len(self._fails) > 100_000:  # bound memory under a spray of names: drop the oldest keys
            for key in list(self._fails)[:50_000]:
                del self._fails[key]

    def succeeded(self, name: str, address: str) -> None:
        self._fails.pop((name.lower(), address), None)
