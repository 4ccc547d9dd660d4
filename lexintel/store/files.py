"""Uploaded files on disk: written in chunks while hashing, under generated names.

Files arrive in ``<data>/incoming/`` and are renamed into ``<data>/files/<xx>/<document id>`` once
complete, so a crash mid-upload never leaves a half file where the pipeline would read it; leftovers in
``incoming/`` are removed at start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path

import aiofiles
import aiofiles.os

from lexintel.clock import new_id
from lexintel.store.private import DIR_MODE, private_dir, private_opener

__all__ = ["FileStore", "IncomingFile"]


class IncomingFile:
    """A file being received: append chunks, then :meth:`finish` or :meth:`discard`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self.head = b""  # the first bytes, for type sniffing
        self._hash = hashlib.sha256()
        self._file: aiofiles.threadpool.binary.AsyncBufferedIOBase | None = None

    async def open(self) -> None:
        """Create the file, 0600 (exclusive: names are generated, a clash is a bug)."""
        self._file = await aiofiles.open(self.path, "xb", opener=private_opener)

    async def write(self, data: bytes | bytearray) -> None:
        """Append one chunk, updating size, hash and the sniffing head."""
        assert self._file is not None
        if len(self.head) < 8192:
            self.head += bytes(data[: 8192 - len(self.head)])
        self._hash.update(data)
        self.size += len(data)
        await self._file.write(data)

    @property
    def sha256(self) -> str:
        """Hex digest of everything written so far."""
        return self._hash.hexdigest()

    async def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._file is not None:
            await self._file.close()
            self._file = None

    async def discard(self) -> None:
        """Close and delete: the upload failed or was refused."""
        await self.close()
        with contextlib.suppress(FileNotFoundError):
            await aiofiles.os.remove(self.path)


class FileStore:
    """Layout of the data directory's file areas."""

    def __init__(self, data_dir: Path) -> None:
        self.incoming = data_dir / "incoming"
        self.files = data_dir / "files"
        self.previews = data_dir / "previews"  # webui: rendered page images, a cache (see preview_dir)
        private_dir(self.incoming)
        private_dir(self.files)

    def clean_incoming(self) -> int:
        """Remove partial uploads left by a crash; returns how many."""
        count = 0
        for entry in self.incoming.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            count += 1
        return count

    async def new_incoming(self) -> IncomingFile:
        """Start receiving a file under a generated name."""
        incoming = IncomingFile(self.incoming / f"{new_id()}.part")
        await incoming.open()
        return incoming

    def final_path(self, document_id: str) -> Path:
        """Where a document's file lives."""
        return self.files / document_id[:2] / document_id

    def commit(self, incoming: IncomingFile, document_id: str) -> Path:
        """Move a complete upload to its document's place (atomic rename, same filesystem)."""
        target = self.final_path(document_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.replace(incoming.path, target)
        return target

    def preview_dir(self, document_id: str) -> Path:
        """Where a document's rendered page images are cached (deleted with the document)."""
        return self.previews / document_id[:2] / document_id

    def remove_previews(self, document_id: str) -> None:
        """Forget a document's cached page images."""
        shutil.rmtree(self.preview_dir(document_id), ignore_errors=True)

    @staticmethod
    def remove(path: str | Path) -> None:
        """Delete a document's file if it is there."""
        Path(path).unlink(missing_ok=True)
