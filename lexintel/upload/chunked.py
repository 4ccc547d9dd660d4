"""Resumable chunked uploads: a large file sent as numbered chunks that survive a flaky connection.

A session lives in ``<data>/uploads/<session id>/`` (one file per chunk, ``<index>.chunk``) and in the
``upload_sessions`` table. Chunks may arrive in any order and any number of times: each is streamed to a
temporary file, checked (exact size for its index, optional SHA-256 from the ``X-Chunk-SHA256`` header) and
renamed into place, so a dropped or repeated request never leaves a half chunk. The files on disk are the
truth about which chunks the server has. Finishing assembles the chunks in order into an incoming file
(streamed, hashed, checked against the optional whole-file SHA-256) and hands it to the intake, into its batch.

Each session is a batch from the start (stage ``uploading``), so a client can watch its upload on
``/batches/{id}/stream`` with MB and %. A session untouched for ``upload_ttl`` seconds expires: a periodic
sweep deletes its chunks and fails its batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiofiles
import anyio
import anyio.to_thread
from anyio.abc import TaskStatus

from lexintel.batches.progress import mb
from lexintel.batches.tracker import BatchTracker
from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import (
    AppError,
    BadRequest,
    Conflict,
    Gone,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    RateLimited,
)
from lexintel.settings import Settings
from lexintel.store import uploads as sessions
from lexintel.store.db import Database
from lexintel.store.files import FileStore
from lexintel.upload.intake import Intake
from lexintel.upload.multipart import sanitize_filename

__all__ = ["Gone", "UploadSessions"]

log = logging.getLogger(__name__)

BLOCK = 4 * 1024 * 1024
MAX_CHUNKS = 100_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _check_sha(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().lower()
    if not _SHA256.match(value):
        raise BadRequest("bad_sha256", f"{what} must be 64 hexadecimal characters (a SHA-256 digest).")
    return value


class UploadSessions:
    """Create, fill, inspect, finish, cancel and expire chunked upload sessions."""

    def __init__(self, settings: Settings, db: Database, files: FileStore, batches: BatchTracker,
                 intake: Intake) -> None:
        self.settings = settings
        self.db = db
        self.files = files
        self.batches = batches
        self.intake = intake
        self.root = settings.data_dir / "uploads"
        self.root.mkdir(parents=True, exist_ok=True)
        self._rates: dict[str, tuple[float, int]] = {}  # upload id -> (monotonic, bytes) at its first chunk

    # layout
    def _dir(self, upload_id: str) -> Path:
        return self.root / upload_id

    @staticmethod
    def _chunk_count(row: Any) -> int:
        return max(1, -(-int(row["total_size"]) // int(row["chunk_size"])))

    @classmethod
    def _expected(cls, row: Any, index: int) -> int:
        count = cls._chunk_count(row)
        if index < count - 1:
            return int(row["chunk_size"])
        return int(row["total_size"]) - int(row["chunk_size"]) * (count - 1)

    def _present(self, upload_id: str) -> list[int]:
        try:
            names = os.listdir(self._dir(upload_id))
        except FileNotFoundError:
            return []
        return sorted(int(n[:-6]) for n in names if n.endswith(".chunk") and n[:-6].isdigit())

    def _session(self, upload_id: str) -> Any:
        row = sessions.get(self.db, upload_id)
        if row is None:
            raise NotFound("upload_not_found", f"No upload session with id {upload_id!r}.")
        return row

    def _open_session(self, upload_id: str) -> Any:
        row = self._session(upload_id)
        status = row["status"]
        if status in ("expired", "cancelled"):
            raise Gone(f"upload_{status}", f"This upload session was {status}; its chunks were deleted. "
                       "Start a new upload.")
        if status == "assembling":
            raise Conflict("upload_assembling", "This upload is being assembled; wait for the finish response.")
        if status != "open":
            raise Conflict("upload_finished", "This upload is already finished.")
        return row

    def _touch(self, upload_id: str) -> None:
        sessions.touch(self.db, upload_id, time.time() + self.settings.upload_ttl)

    def _set_status(self, upload_id: str, status: str, result: dict[str, Any] | None = None) -> None:
        sessions.set_status(self.db, upload_id, status, result)
        if status != "open":
            self._rates.pop(upload_id, None)

    # API
    def create(self, case_id: str, filename: str, total_size: int, chunk_size: int | None,
               sha256: str | None) -> dict[str, Any]:
        """Open a session (and its batch, stage ``uploading``); returns the session's description."""
        s = self.settings
        chunk_size = chunk_size or min(50 * 1024 * 1024, s.upload_max_chunk_bytes)
        if total_size <= 0:
            raise BadRequest("bad_total_size", "total_size must be a positive number of bytes.")
        if total_size > s.upload_max_bytes:
            raise PayloadTooLarge("file_too_large",
                                  f"The file is {total_size} bytes; at most {s.upload_max_bytes} bytes are allowed.")
        if not 0 < chunk_size <= s.upload_max_chunk_bytes:
            raise BadRequest("bad_chunk_size", f"chunk_size must be 1-{s.upload_max_chunk_bytes} bytes.")
        if -(-total_size // chunk_size) > MAX_CHUNKS:
            raise BadRequest("too_many_chunks", f"Use a larger chunk_size: at most {MAX_CHUNKS} chunks.")
        digest = _check_sha(sha256, "sha256")
        self._check_quotas(case_id, total_size)
        name = sanitize_filename(filename)
        count = -(-total_size // chunk_size)
        batch_id = self.batches.create(
            case_id, "chunked", name, items_total=count, bytes_total=total_size, stage_progress=0.0,
            message=f"Waiting for {count} chunks of {name} ({mb(total_size)} MB)",
        )
        upload_id = new_id()
        self._dir(upload_id).mkdir(parents=True)
        sessions.insert(self.db, upload_id, case_id=case_id, batch_id=batch_id, filename=name, total_size=total_size,
                        chunk_size=chunk_size, sha256=digest, created_at=utc_now_iso(),
                        expires_at=time.time() + min(s.upload_idle_ttl, s.upload_ttl))
        return self.describe(upload_id)

    def _check_quotas(self, case_id: str, total_size: int) -> None:
        """Per case owner: open sessions (429), their declared bytes (413: this also bounds the bytes parked in
        unfinished sessions, since every chunk must match the declared size) and, when configured, stored plus
        uploading bytes (507). One member's parked sessions never count against another's."""
        s = self.settings
        count, declared = sessions.open_usage(self.db, case_id)
        if count >= s.upload_max_sessions_per_user:
            raise RateLimited("too_many_uploads", f"You have {count} unfinished uploads; finish or cancel some "
                              f"first (at most {s.upload_max_sessions_per_user}).",
                              retry_after=60, limit="upload_max_sessions_per_user")
        if declared + total_size > s.upload_max_open_bytes_per_user:
            raise PayloadTooLarge("upload_quota_exceeded", f"Your unfinished uploads declare {declared} bytes; this "
                                  f"one would bring them over the {s.upload_max_open_bytes_per_user}-byte limit. "
                                  "Finish or cancel some first.", limit="upload_max_open_bytes_per_user")
        if s.storage_quota_bytes and (sessions.stored_bytes(self.db, case_id) + declared + total_size
                                      > s.storage_quota_bytes):
            raise InsufficientStorage("storage_quota_exceeded", f"This upload would exceed your storage quota of "
                                      f"{s.storage_quota_bytes} bytes; delete documents first.",
                                      limit="storage_quota_bytes")

    def describe(self, upload_id: str) -> dict[str, Any]:
        """Which chunks the server has and which are missing (GET /uploads/{id})."""
        row = self._session(upload_id)
        count = self._chunk_count(row)
        present = self._present(upload_id) if row["status"] in ("open", "assembling") else []
        have = set(present)
        received_bytes = sum(self._expected(row, i) for i in present)
        return {
            "upload_id": row["id"], "case_id": row["case_id"], "batch_id": row["batch_id"],
            "filename": row["filename"], "status": row["status"], "total_size": row["total_size"],
            "chunk_size": row["chunk_size"], "chunk_count": count, "sha256": row["sha256"],
            "received": present, "missing": [i for i in range(count) if i not in have],
            "received_bytes": received_bytes, "created_at": row["created_at"],
            "expires_in_seconds": max(0.0, round(row["expires_at"] - time.time(), 1)),
            "result": json.loads(row["result"]) if row["result"] else None,
        }

    async def put_chunk(self, upload_id: str, index: int, body: AsyncIterator[bytes],
                        sha256: str | None) -> dict[str, Any]:
        """Store one chunk (idempotent: re-sending replaces it with identical bytes)."""
        row = self._open_session(upload_id)
        count = self._chunk_count(row)
        if not 0 <= index < count:
            raise BadRequest("bad_chunk_index", f"Chunk index must be 0-{count - 1}, got {index}.")
        expected = self._expected(row, index)
        want = _check_sha(sha256, "X-Chunk-SHA256")
        self._touch(upload_id)
        folder = self._dir(upload_id)
        tmp = folder / f"{index:06d}.{new_id()}.tmp"
        digest = hashlib.sha256()
        size = 0
        try:
            async with aiofiles.open(tmp, "xb") as out:
                buffer = bytearray()
                async for piece in body:
                    size += len(piece)
                    if size > expected:
                        raise PayloadTooLarge("chunk_too_large",
                                              f"Chunk {index} must be exactly {expected} bytes; more arrived.")
                    digest.update(piece)
                    buffer += piece
                    if len(buffer) >= BLOCK:
                        await out.write(bytes(buffer))
                        buffer.clear()
                if buffer:
                    await out.write(bytes(buffer))
            if size != expected:
                raise BadRequest("chunk_size_mismatch", f"Chunk {index} must be {expected} bytes; got {size}.")
            if want is not None and digest.hexdigest() != want:
                raise BadRequest("chunk_checksum_mismatch",
                                 f"Chunk {index} does not match its X-Chunk-SHA256; send it again.")
            if self._session(upload_id)["status"] != "open":  # expired or finished while we were receiving
                raise Conflict("upload_not_open", "The upload session closed while this chunk was arriving.")
            os.replace(tmp, folder / f"{index:06d}.chunk")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.Path(tmp).unlink(missing_ok=True)
            raise
        self._touch(upload_id)
        present = self._present(upload_id)
        received = sum(self._expected(row, i) for i in present)
        self._uploading(upload_id, row, received, len(present), count)
        return {"upload_id": upload_id, "index": index, "size": size, "sha256": digest.hexdigest(),
                "received_count": len(present), "chunk_count": count, "received_bytes": received,
                "complete": len(present) == count}

    def _uploading(self, upload_id: str, row: Any, bytes_done: int, chunks_done: int, chunks_total: int) -> None:
        """One chunk arrived: an ``uploading`` batch event with MB and %, ETA from the observed bytes/s."""
        now = time.monotonic()
        t0, b0 = self._rates.setdefault(upload_id, (now, bytes_done))
        bytes_total = int(row["total_size"])
        eta = None
        if now > t0 and bytes_done > b0:
            eta = (bytes_total - bytes_done) / ((bytes_done - b0) / (now - t0))
        share = bytes_done / max(bytes_total, 1)
        self.batches.report(row["batch_id"], "uploading", share, items_total=chunks_total, items_done=chunks_done,
                            eta=eta, message=f"Uploading {row['filename']}: chunk {chunks_done}/{chunks_total}, "
                                         f"{mb(bytes_done)} of {mb(bytes_total)} MB ({100 * share:.0f}%)")

    async def complete(self, upload_id: str, duplicates: str = "skip") -> dict[str, Any]:
        """Assemble the chunks into one file and hand it to the batch; a repeated call returns the same body."""
        row = self._session(upload_id)
        if row["status"] == "completed" and row["result"]:
            result: dict[str, Any] = json.loads(row["result"])
            return result
        row = self._open_session(upload_id)
        count = self._chunk_count(row)
        missing = sorted(set(range(count)) - set(self._present(upload_id)))
        if missing:
            raise Conflict("chunks_missing", f"{len(missing)} of {count} chunks are missing; send them first.",
                           missing=missing[:1000])
        self._set_status(upload_id, "assembling")
        incoming = await self.files.new_incoming()
        try:
            folder = self._dir(upload_id)
            for index in range(count):
                async with aiofiles.open(folder / f"{index:06d}.chunk", "rb") as chunk:
                    while block := await chunk.read(BLOCK):
                        await incoming.write(block)
            await incoming.close()
            if row["sha256"] and incoming.sha256 != row["sha256"]:
                raise BadRequest("checksum_mismatch",
                                 "The assembled file does not match the sha256 given when the upload started; "
                                 "re-send the chunks (with X-Chunk-SHA256 to find the bad one) and finish again.")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await incoming.discard()
                self._set_status(upload_id, "open")
            raise
        try:
            body = await self.intake.accept_assembled(row["case_id"], row["batch_id"], row["filename"], incoming,
                                                      duplicates)
        except AppError:
            self._set_status(upload_id, "refused")
            await self._remove_dir(upload_id)
            raise
        body = {**body, "upload_id": upload_id}
        self._set_status(upload_id, "completed", body)
        await self._remove_dir(upload_id)
        return body

    async def cancel(self, upload_id: str) -> None:
        """Abandon a session: delete its chunks and fail its batch."""
        row = self._open_session(upload_id)
        self._set_status(upload_id, "cancelled")
        await self._remove_dir(upload_id)
        self.batches.fail(row["batch_id"], "upload_cancelled", f"The upload of {row['filename']} was cancelled.")

    async def _remove_dir(self, upload_id: str) -> None:
        await anyio.to_thread.run_sync(shutil.rmtree, self._dir(upload_id), True)

    # expiry
    async def sweep(self) -> int:
        """Expire sessions idle past the TTL and delete stray directories; returns how many expired."""
        rows = sessions.stale(self.db, time.time())
        for row in rows:
            ttl = self.settings.upload_ttl if self._present(row["id"]) else min(self.settings.upload_idle_ttl,
                                                                                  self.settings.upload_ttl)
            self._set_status(row["id"], "expired")
            await self._remove_dir(row["id"])
            self.batches.fail(row["batch_id"], "upload_expired",
                              f"The upload of {row['filename']} expired after {ttl:g} s "
                              "without a chunk; its chunks were deleted.")
            log.info("upload session %s expired", row["id"])
        entries = await anyio.to_thread.run_sync(os.listdir, self.root)
        # Read the live sessions after listing: a session created meanwhile is not in the listing either.
        live = sessions.live_ids(self.db)
        for entry in entries:
            if entry not in live:
                await self._remove_dir(entry)
        return len(rows)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Put back sessions a restart caught assembling, then sweep every ``upload_sweep_interval``."""
        sessions.reopen_assembling(self.db)
        task_status.started()
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("upload sweep failed")
            await anyio.sleep(self.settings.upload_sweep_interval)
