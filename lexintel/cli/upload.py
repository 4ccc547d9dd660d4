"""``lexintel upload FILE_OR_DIR... --case NAME``: upload, follow progress from the first answer, summarise.

Files go up in multipart requests of at most ``FILES_PER_REQUEST`` files and ``REQUEST_TARGET`` bytes (under the
server's per-request limit): several files in one request make a batch, and the batch stream is opened as soon
as a request is answered, while the next requests upload, so the first documents are processed (and shown)
while the rest are still on their way. A ZIP always goes in a request of its own (the server unpacks only a ZIP
sent alone); a file above the per-request limit goes through the resumable chunked upload
(:mod:`lexintel.cli.chunked`). The command ends with a summary on stdout (``--json``: one JSON object). Exit
status: 0 when every document was indexed, 1 when any failed, 2 for usage or connection problems.
"""

from __future__ import annotations

import io
import json
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import TaskGroup, TaskStatus
from rich.console import Console
from rich.text import Text

from lexintel.cli.api import CliError, check, first_error, segment
from lexintel.cli.board import DocState
from lexintel.cli.cases import find_or_create_case
from lexintel.cli.chunked import upload_chunked
from lexintel.cli.connection import Connection, ServerGone
from lexintel.cli.display import TABLE_ROWS, Board, summary_table
from lexintel.cli.memo import UploadMemo
from lexintel.cli.session import Session
from lexintel.cli.sse_client import StreamEvent, follow

__all__ = ["Plan", "collect_files", "plan_upload", "run_upload"]

MB = 1024 * 1024
MULTIPART_MARGIN = 64 * 1024  # headers and boundaries of a multipart body, generously
FILES_PER_REQUEST = 200  # also bounds the files open at once while a request streams
REQUEST_TARGET = 50 * MB  # a request's size to aim for: answers (and the stream) come early
REQUEST_TIMEOUT = httpx.Timeout(60.0, write=600.0, read=600.0)
CLI_MAX_STREAMS = 16  # document streams followed at once: well under LEXINTEL_MAX_STREAMS_PER_USER (64)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # what the server itself looks at (by content, never by name)


def collect_files(paths: Sequence[Path]) -> list[Path]:
    """The files named, and every file under the directories named (hidden ones skipped), in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(Path(root) / name for name in sorted(files) if not name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise CliError(f"{path}: no such file or directory")
    if not found:
        raise CliError("nothing to upload: the directories named hold no files")
    return found


def is_zip(path: Path) -> bool:
    """Whether the server will treat ``path`` as a ZIP archive (judged, like the server does, by content)."""
    try:
        with path.open("rb") as fh:
            return fh.read(4).startswith(ZIP_MAGIC)
    except OSError:
        return False


@dataclass
class Plan:
    """What to send: multipart requests (a ZIP always alone), then files for the chunked upload."""

    requests: list[list[Path]] = field(default_factory=list)
    chunked: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(map(len, self.requests)) + len(self.chunked)


def plan_upload(files: Sequence[Path], max_request_bytes: int, *, max_files: int = FILES_PER_REQUEST,
                target_bytes: int = REQUEST_TARGET) -> Plan:
    """Pack files into requests under the limits; ZIPs in requests of their own; too-big files chunked."""
    budget = max_request_bytes - MULTIPART_MARGIN
    target = min(budget, target_bytes)
    plan = Plan()
    current: list[Path] = []
    size = 0
    for path in files:
        n = path.stat().st_size
        if n > budget:
            plan.chunked.append(path)
        elif is_zip(path):
            plan.requests.append([path])
        else:
            if current and (size + n > target or len(current) >= max_files):
                plan.requests.append(current)
                current, size = [], 0
            current.append(path)
            size += n
    if current:
        plan.requests.append(current)
    return plan


class CountingReader(io.BufferedReader):
    """A file whose reads report how many bytes went out (httpx streams multipart files in chunks)."""

    def __init__(self, path: Path, on_read: Callable[[int], None]) -> None:
        super().__init__(io.FileIO(path, "rb"))
        self._on_read = on_read

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self._on_read(len(data))
        return data


@dataclass
class Upload:
    """State of one ``lexintel upload`` run; follower tasks run in ``tg`` next to the uploads."""

    conn: Connection
    board: Board
    case_id: str
    tg: TaskGroup | None = None  # where followers run: set while the uploads run
    memo: UploadMemo = field(default_factory=UploadMemo)
    followed: set[str] = field(default_factory=set)
    batch_notes: list[str] = field(default_factory=list)
    chunking: Path | None = None  # the file whose chunked upload is under way
    _requests: int = 0
    _stream_slots: anyio.Semaphore | None = None

    @property
    def _group(self) -> TaskGroup:
        assert self.tg is not None, "followers start only while the uploads run"
        return self.tg

    def resume_hint(self, case_name: str) -> str:
        """What to do after giving up: chunked sessions resume on a rerun; accepted files are already there."""
        if self.chunking is not None:
            return f"run the same command again to resume the upload of {self.chunking.name}"
        accepted = len(self.board.tally.docs)
        return (f"{accepted} document{' was' if accepted == 1 else 's were'} accepted before that "
                f"(`lexintel docs {shlex.quote(case_name)}` lists them)")

    async def run(self, plan: Plan) -> None:
        """Every request, one after the other (the streams of answered ones are followed meanwhile)."""
        for group in plan.requests:
            await self.send(group)
        for path in plan.chunked:
            self.chunking = path
            await upload_chunked(self, path)
            self.chunking = None

    async def send(self, group: list[Path]) -> None:
        """One multipart request with ``group``, sent again (files re-read) if the server drops it."""
        self._requests += 1
        key = f"request:{self._requests}"
        total = sum(p.stat().st_size for p in group)
        label = group[0].name if len(group) == 1 else f"{len(group)} files"

        async def once() -> httpx.Response:
            sent = 0

            def counted(n: int) -> None:
                nonlocal sent
                sent += n
                self.board.transfer(key, sent, total)

            self.board.transfer(key, 0, total)
            readers = [CountingReader(path, counted) for path in group]
            try:
                files = [("files", (p.name, r, "application/octet-stream"))
                         for p, r in zip(group, readers, strict=True)]
                return await self.conn.client.post(f"/cases/{segment(self.case_id)}/documents", files=files,
                                                   timeout=REQUEST_TIMEOUT)
            finally:
                for reader in readers:
                    reader.close()

        resp = await self.conn.attempt(once)
        self.board.transfer(key, 0, 0)
        if resp.status_code in (400, 413, 415) and len(group) == 1:
            # A single refused file: the server judged it and said why; record it as failed, carry on.
            body = resp.json() if resp.content else {}
            self.board.tally.pending_files -= 1
            self.board.add_document(DocState(None, group[0].name, status="failed", stage="failed",
                                             error=body.get("detail") or f"refused ({resp.status_code})",
                                             error_code=body.get("code")))
            return
        await self.accepted(check(resp, expected=(202,)), label, planned=len(group))

    async def accepted(self, body: dict[str, Any], label: str, *, planned: int) -> None:
        """Track the documents of a 202 answer, print the ids to watch, and follow their streams."""
        batch_id = body.get("batch_id")
        self.board.tally.pending_files -= planned
        if batch_id:
            self.board.add_batch(batch_id, label)  # first, so its documents count through it
        for item in body["documents"]:
            self.board.add_document(DocState(item["id"], item["filename"], batch_id=batch_id, status=item["status"],
                                             stage="failed" if item["status"] == "failed" else "queued",
                                             error=item.get("error_message"), error_code=item.get("error_code")))
        if batch_id:
            await self.follow_batch(batch_id, label)
            return
        for item in body["documents"]:
            self.board.note(f"document {item['id']}: {item['filename']}  (lexintel watch {item['id']})")
            if item["status"] != "failed":
                self._group.start_soon(self._follow_document, f"/progress/documents/{segment(item['id'])}/stream"
                                       "?events=named")

    async def follow_batch(self, batch_id: str, label: str) -> None:
        """Follow a batch's stream (once), returning as soon as it is open (the reading goes on in ``tg``), so
        its first events are on screen before the next request goes out."""
        if batch_id in self.followed:
            return
        self.followed.add(batch_id)
        self.board.add_batch(batch_id, label)
        self.board.note(f"batch {batch_id}: {label}  (lexintel watch {batch_id})")
        await self._group.start(self._follow, f"/batches/{segment(batch_id)}/stream")

    async def _follow(self, path: str, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await follow(self.conn, path, self.on_event, task_status=task_status)

    async def _follow_document(self, path: str) -> None:
        """Follow one document's stream, at most CLI_MAX_STREAMS at once (a queued one replays from its start, so
        nothing is missed by waiting); a thousand large single-file requests stay under the server's per-user cap."""
        if self._stream_slots is None:
            self._stream_slots = anyio.Semaphore(CLI_MAX_STREAMS)
        async with self._stream_slots:
            await follow(self.conn, path, self.on_event)

    def on_event(self, event: StreamEvent) -> None:
        self.board.on_event(event.data)

    async def settle(self) -> None:
        """Settle every document from the server (the authority, also for pages and error text): one request
        per batch, one per document outside a batch."""
        tally = self.board.tally
        for batch_id, batch in list(tally.batches.items()):
            body = check(await self.conn.request("GET", f"/batches/{segment(batch_id)}/progress"))
            if settle_batch(self.board, batch_id, body):
                self.batch_notes.append(f"{batch.label}: {body.get('message') or ''}")
        for doc in [d for d in tally.docs.values() if not d.in_batch and d.id]:
            body = check(await self.conn.request("GET", f"/documents/{segment(doc.id or '')}/status"))
            settle_document(self.board, doc, body)


def settle_batch(board: Board, batch_id: str, body: dict[str, Any]) -> bool:
    """Apply ``/batches/{id}/progress`` to the batch and its documents; whether entries were skipped (files a
    ZIP held but did not use: worth a line at the end)."""
    batch = board.tally.batches[batch_id]
    batch.status = body["status"] if body["status"] in ("completed", "failed") else batch.status
    batch.message = body.get("message") or batch.message
    if batch.status == "failed":
        batch.error, batch.error_code = body.get("error_message") or batch.error, body.get("error_code")
    for item in body["documents"]:
        doc = board.add_document(DocState(item["document_id"], item["filename"], batch_id=batch_id))
        settle_document(board, doc, item)
    return bool((body.get("counts") or {}).get("skipped"))


def settle_document(board: Board, doc: DocState, body: dict[str, Any]) -> None:
    """Apply a status body (``/documents/{id}/status`` or an entry of ``/batches/{id}/progress``)."""
    board.tally.update_document(doc, status=body["status"], stage=body["stage"], progress=float(body["progress"]),
                                message=body.get("message") or doc.message, error=body.get("error_message"),
                                error_code=body.get("error_code"))
    doc.pages = body.get("pages_total")


async def run_upload(session: Session, paths: Sequence[Path], case_name: str, *, max_request_mb: int = 200,
                     json_out: bool = False, out: Console | None = None, err: Console | None = None) -> int:
    """The whole command; returns the exit status."""
    out = out or Console()
    err = err or Console(stderr=True)
    plan = plan_upload(collect_files(paths), max_request_mb * MB)
    board = Board(err)
    async with session.connect(board) as conn:
        case, created = await find_or_create_case(conn, case_name)
        err.print(Text.assemble(f"{'Created' if created else 'Using'} case ", (case["name"], "bold"),
                                f" ({case['id']})"), highlight=False, soft_wrap=True)
        board.title = case["name"]
        board.tally.pending_files = plan.files  # the batch line counts them from its first frame
        job = Upload(conn, board, case["id"])
        try:
            with board:
                async with anyio.create_task_group() as outer:
                    outer.start_soon(board.tick)
                    async with anyio.create_task_group() as tg:
                        job.tg = tg
                        await job.run(plan)
                    await job.settle()
                    outer.cancel_scope.cancel()
        except BaseException as exc:
            gone = first_error(exc)
            if isinstance(gone, ServerGone):
                raise ServerGone(f"{gone}; {job.resume_hint(case['name'])}") from None
            raise
    return report(board, out, err, job.batch_notes, json_out,
                  {"id": case["id"], "name": case["name"], "created": created})


def report(board: Board, out: Console, err: Console, notes: list[str], json_out: bool,
           case: dict[str, Any] | None) -> int:
    """The end of ``upload`` and ``watch``: the final line, the summary or the JSON object; the exit status."""
    tally = board.tally
    docs = [*tally.docs.values(), *tally.refused]
    failed_batches = [b for b in tally.batches.values() if b.status == "failed"]
    status = 1 if tally.failures or failed_batches or any(d.status != "indexed" for d in docs) else 0
    err.print(board.final_line(), markup=False, highlight=False, soft_wrap=True)
    if json_out:
        body = {"case": case, "batches": [b.json() for b in tally.batches.values()],
                "documents": [d.json() for d in docs],
                "counts": {"documents": len(docs), "indexed": tally.counts["indexed"],
                           "needs_ocr": tally.counts["needs_ocr"], "failed": tally.failures}}
        out.file.write(json.dumps(body) + "\n")
        out.file.flush()
        return status
    indexed = sum(d.status == "indexed" for d in docs)
    title = f"{board.title}: {indexed} of {len(docs)} indexed"
    if len(docs) > TABLE_ROWS and indexed == len(docs):
        out.print(f"{title} (--json lists every document)", markup=False, highlight=False)
    else:
        out.print(summary_table(docs, title))
    for note in notes:
        out.print(note, highlight=False, markup=False)
    for batch in failed_batches:
        out.print(Text.assemble(("batch failed:", "red"), f" {batch.error or batch.message}"), highlight=False)
    return status
