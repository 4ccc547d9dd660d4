"""Owner-only permissions for everything in the data directory (issue 13 item 6).

The data directory holds the database (password hashes, every document's text), the uploaded files and the
signing key. With the usual umask 022 they were 0644 in 0755 directories: readable by every account on the
machine. Now the data directory and every directory LexIntel makes are 0700 and every file 0600, whatever
the umask: explicitly where LexIntel creates them here, and for what other code and SQLite create (chunk
files, unpacked entries, ``-wal``/``-shm``) through :func:`restrict_umask`, which ``lexintel`` calls at start.
A 0700 data directory alone already keeps other users out of everything below it, including files an older
version left 0644.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "private_opener", "restrict_umask"]

DIR_MODE = 0o700
FILE_MODE = 0o600


def restrict_umask() -> int:
    """Make every file and directory this process creates owner-only; returns the previous umask."""
    return os.umask(0o077)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make ``path`` itself 0700, even if it existed."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> None:
    """Make an existing file 0600 (no-op when it is missing)."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, FILE_MODE)


def private_opener(path: str, flags: int) -> int:
    """``opener=`` for :func:`open`: a new file is created 0600 instead of 0666 minus the umask."""
    return os.open(path, flags, FILE_MODE)
