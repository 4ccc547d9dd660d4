"""Waiting for something to happen: poll a condition until a deadline, never sleep a guessed amount."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["WaitTimeout", "wait_for", "wait_json_status"]

T = TypeVar("T")


class WaitTimeout(TimeoutError, AssertionError):
    """The condition never held. A ``TimeoutError`` for scripts that catch one (``scripts/faults.py`` turns it
    into a failed case) and an ``AssertionError`` so pytest reports it as a failed check, not a crash."""


def wait_for(predicate: Callable[[], T | None], timeout: float = 30.0, what: str = "", *, interval: float = 0.05) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy, and return that.

    Raises :class:`WaitTimeout` after ``timeout`` seconds, naming ``what`` and the last value seen, so a
    failure says what was awaited instead of only that time ran out. Exceptions from ``predicate`` propagate
    at once (a server that died should fail the wait now, not at the deadline).
    """
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {what or predicate} (last: {last!r})")
        time.sleep(interval)


class _JsonGetter(Protocol):
    def get(self, url: str) -> Any: ...


def wait_json_status(client: _JsonGetter, url: str, statuses: tuple[str, ...], timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``GET url`` (a status endpoint) until its ``status`` is one of ``statuses``; return that body."""

    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = client.get(url).json()
        return body if body["status"] in statuses else None

    return wait_for(done, timeout=timeout, what=f"{url} to reach {' or '.join(statuses)}")
