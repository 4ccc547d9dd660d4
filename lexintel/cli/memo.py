"""The chunked uploads this user has under way, remembered between runs so a rerun continues the same session.

One small JSON file per upload under the user's cache directory (``$LEXINTEL_CACHE_DIR``, else
``$XDG_CACHE_HOME/lexintel``, else ``~/.cache/lexintel``), named by a hash of the file's sha256 and size, the
server and the case: the same file sent again to the same case on the same server finds its session, anything
else starts a new one. The server stays the authority on which chunks it has (``GET /uploads/{id}``); the memo
only holds the session id. Files are written atomically and readable by the owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["UploadMemo", "cache_dir"]


def cache_dir() -> Path:
    """Where the client keeps its state (XDG base directory rules)."""
    explicit = os.environ.get("LEXINTEL_CACHE_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lexintel"


class UploadMemo:
    """Open chunked-upload sessions by (file sha256, size, server, case)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_dir() / "uploads"

    @staticmethod
    def key(server: str, case_id: str, sha256: str, size: int) -> str:
        return hashlib.sha256(f"{server}\n{case_id}\n{sha256}\n{size}".encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def recall(self, key: str) -> dict[str, Any] | None:
        """The remembered session, or None (also for a damaged file: starting over is always safe)."""
        try:
            data = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("upload_id"), str) else None

    def remember(self, key: str, **entry: Any) -> None:
        """Save a session (best effort: a read-only cache dir only costs the resume)."""
        with contextlib.suppress(OSError):
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.root / f".{key}.{os.getpid()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump({**entry, "saved_at": time.time()}, fh)
            os.replace(tmp, self._path(key))

    def forget(self, key: str) -> None:
        with contextlib.suppress(OSError):
            self._path(key).unlink()
