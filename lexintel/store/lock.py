"""One instance per data directory.

The event log hands out per-stream ids from an in-memory cursor and the pipeline claims documents from one
writer connection: both assume this process is the only writer of its database. Several instances scale out
with their own data directories behind one Redis (see README), never by sharing one; this lock turns the
mistake into a clear error at start instead of duplicate-id failures later.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from lexintel.store.private import private_dir, private_file

__all__ = ["DataDirInUse", "DataDirLock"]


class DataDirInUse(RuntimeError):
    """Another LexIntel process holds this data directory."""


class DataDirLock:
    """An exclusive ``flock`` on ``<data_dir>/lexintel.lock``; the kernel drops it if the process dies."""

    def __init__(self, data_dir: Path) -> None:
        private_dir(data_dir)  # 0700: nobody else may even list it (issue 13 item 6)
        self.path = data_dir / "lexintel.lock"
        self._fd: int | None = None

    def acquire(self) -> DataDirLock:
        """Take the lock or raise :class:`DataDirInUse` naming the holder's pid."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        private_file(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DataDirInUse(
                f"another LexIntel instance (pid {holder}) is using {self.path.parent}; give each instance its "
                "own LEXINTEL_DATA_DIR (instances share events through LEXINTEL_REDIS_URL)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
