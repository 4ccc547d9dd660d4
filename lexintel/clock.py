"""Time and identifiers, in one place so every row and event uses the same formats."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

__all__ = ["new_id", "utc_now_iso"]


def utc_now_iso() -> str:
    """ISO-8601 UTC with microseconds, as in the ProgressEvent schema."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    """A random, unguessable id (UUID4): ids appear in URLs and must not be enumerable."""
    return str(uuid.uuid4())
