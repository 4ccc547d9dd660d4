"""A file over the per-request limit: the resumable chunked upload (``/cases/{id}/uploads``), resumed for real.

The session id is remembered (:mod:`lexintel.cli.memo`) as soon as the server opens it, so a second run of the
same command, after a crash, a Ctrl-C or a server that stayed away too long, continues that session instead of
starting from zero. Within a run, a dropped connection is waited out (the command's retry window) and then the
server's own list of missing chunks (``GET /uploads/{id}``) says what to send: a chunk the server stored just
before it died is not sent again. The batch stream is followed from the moment the session exists.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread
import httpx

from lexintel.cli.api import CliError, check, error_code, segment
from lexintel.cli.connection import Connection, describe_failure, transient
from lexintel.cli.display import Board
from lexintel.cli.memo import UploadMemo

__all__ = ["upload_chunked"]



class Upload(Protocol):
    """What a chunked upload needs from the upload command it is part of (``lexintel.cli.upload.Upload``)."""

    conn: Connection
    board: Board
    case_id: str
    memo: UploadMemo

    async def accepted(self, body: dict[str, Any], label: str, *, planned: int) -> None: ...

    async def follow_batch(self, batch_id: str, label: str) -> None: ...


MB = 1024 * 1024
CHUNK_TIMEOUT = httpx.Timeout(60.0, write=600.0, read=600.0)


async def upload_chunked(job: Upload, path: Path) -> None:
    """Send ``path`` through a chunked session (a remembered one when there is one) and hand its answer to
    ``job``."""
    size = (await anyio.Path(path).stat()).st_size
    digest = await anyio.to_thread.run_sync(sha256_of, path)
    memo = job.memo
    key = memo.key(job.conn.server, job.case_id, digest, size)
    session = await _resume(job, memo, key, path)
    if session is None:
        where = str(await anyio.Path(path).resolve())
        resp = await job.conn.request("POST", f"/cases/{segment(job.case_id)}/uploads",
                                      json={"filename": path.name, "total_size": size, "sha256": digest})
        if resp.status_code in (404, 405) and error_code(resp) != "case_not_found":
            raise CliError(f"{path} is larger than the per-request upload limit and this server has no chunked "
                           "upload")
        session = check(resp, expected=(200, 201))
        memo.remember(key, upload_id=session["upload_id"], server=job.conn.server, case_id=job.case_id,
                      path=where, size=size, sha256=digest)
    upload_id = session["upload_id"]
    await job.follow_batch(session["batch_id"], path.name)
    if session["status"] == "completed" and session.get("result"):
        body: dict[str, Any] = session["result"]  # finished in an earlier run that did not see the answer
    else:
        body = await _finish(job, session, path)
    memo.forget(key)
    job.board.transfer(f"chunked:{upload_id}", 0, 0)
    await job.accepted(body, path.name, planned=1)


async def _resume(job: Upload, memo: UploadMemo, key: str, path: Path) -> dict[str, Any] | None:
    """The remembered session if the server still has it open (or finished it), else None."""
    entry = memo.recall(key)
    if entry is None:
        return None
    resp = await job.conn.request("GET", f"/uploads/{segment(entry['upload_id'])}")
    if resp.status_code in (404, 410):
        memo.forget(key)
        return None
    session: dict[str, Any] = check(resp)
    status = session["status"]
    if status in ("open", "assembling") or (status == "completed" and session.get("result")):
        have, count = len(session["received"]), session["chunk_count"]
        job.board.note(f"resuming upload {session['upload_id']} of {path.name}: {have} of {count} chunks "
                       "already on the server")
        return session
    memo.forget(key)  # expired, cancelled or refused: start over
    return None


async def _finish(job: Upload, session: dict[str, Any], path: Path) -> dict[str, Any]:
    """Send what is missing, then ask the server to assemble; repeat if it still misses something."""
    upload_id = session["upload_id"]
    while True:
        await _send_missing(job, session, path)
        resp = await job.conn.request("POST", f"/uploads/{segment(upload_id)}/complete",
                                      timeout=httpx.Timeout(60.0, read=600.0))
        code = error_code(resp)
        if resp.status_code == 409 and code == "upload_assembling":  # a retried finish racing the first one
            await anyio.sleep(1.0)
        elif resp.status_code != 409 or code != "chunks_missing":
            body: dict[str, Any] = check(resp, expected=(200, 202))
            return body
        session = await _describe(job, upload_id)


async def _describe(job: Upload, upload_id: str, *, heals: bool = True) -> dict[str, Any]:
    session: dict[str, Any] = check(await job.conn.request("GET", f"/uploads/{segment(upload_id)}", heals=heals))
    return session


async def _send_missing(job: Upload, session: dict[str, Any], path: Path) -> None:
    """Send every chunk the server lacks, re-reading its list after each interruption."""
    upload_id, chunk_size, size = session["upload_id"], int(session["chunk_size"]), int(session["total_size"])
    transfer = f"chunked:{upload_id}"
    failures = 0  # rounds in a row cut short; the outage's window (conn.failed) decides when to give up
    while session["status"] == "open" and session["missing"]:
        received = int(session["received_bytes"])
        job.board.transfer(transfer, received, size)
        broke = False
        for index in session["missing"]:
            chunk = await anyio.to_thread.run_sync(read_chunk, path, index, chunk_size)
            if not await _put(job, upload_id, index, chunk):
                broke = True  # the link broke: ask the server what it has once it answers again
                break
            received += len(chunk)
            job.board.transfer(transfer, received, size)
        failures = failures + 1 if broke else 0
        if broke:
            await job.conn.backoff(failures)
        session = await _describe(job, upload_id, heals=not broke)
        if session["status"] not in ("open", "assembling"):
            raise CliError(f"{path}: the upload session {upload_id} is {session['status']}; run the command again")


async def _put(job: Upload, upload_id: str, index: int, chunk: bytes) -> bool:
    """One chunk, once; False when the connection failed (the outage is recorded, and given up on in time)."""
    headers = {"X-Chunk-SHA256": hashlib.sha256(chunk).hexdigest(), "Content-Type": "application/octet-stream"}
    sent_at = time.monotonic()
    try:
        resp = await job.conn.client.put(f"/uploads/{segment(upload_id)}/chunks/{index}", content=chunk,
                                         headers=headers, timeout=CHUNK_TIMEOUT)
    except httpx.TransportError as exc:
        job.conn.failed(describe_failure(exc))
        return False
    if transient(resp):
        job.conn.failed(f"it answered {resp.status_code} (restarting?)")
        return False
    check(resp)
    job.conn.succeeded(sent_at)
    return True


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(4 * MB):
            h.update(block)
    return h.hexdigest()


def read_chunk(path: Path, index: int, chunk_size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(index * chunk_size)
        return fh.read(chunk_size)
