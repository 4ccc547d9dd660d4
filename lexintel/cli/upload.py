"""``lexintel upload FILE_OR_DIR... --case NAME --server URL``: upload, follow progress, summarise.

Files go up in as few multipart requests as the per-request limit allows (several files in one request make a
batch on the server); a file above the limit goes through the resumable chunked upload when the server has
it. Then the command follows the batch stream (or each document's stream), and prints a summary. Exit status:
0 when every document was indexed, 1 when any failed, 2 for usage or connection problems.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from rich.console import Console

from lexintel.cli.api import CliError, check, find_or_create_case, make_client, request
from lexintel.cli.display import Board, DocState, summary_table
from lexintel.cli.sse_client import StreamEvent, follow

__all__ = ["collect_files", "plan_requests", "run_upload"]

MB = 1024 * 1024
MULTIPART_MARGIN = 64 * 1024  # headers and boundaries of a multipart body, generously


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


def plan_requests(files: Sequence[Path], max_request_bytes: int, max_files: int) -> tuple[list[list[Path]], list[Path]]:
    """Pack files into multipart requests under the limits; return (requests, files too big for one request)."""
    budget = max_request_bytes - MULTIPART_MARGIN
    requests: list[list[Path]] = []
    large: list[Path] = []
    current: list[Path] = []
    size = 0
    for path in files:
        n = path.stat().st_size
        if n > budget:
            large.append(path)
            continue
        if current and (size + n > budget or len(current) >= max_files):
            requests.append(current)
            current, size = [], 0
        current.append(path)
        size += n
    if current:
        requests.append(current)
    return requests, large


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
    """State of one ``lexintel upload`` run."""

    client: httpx.AsyncClient
    board: Board
    case_id: str
    followers: list[tuple[str, str]] = field(default_factory=list)  # (stream path, label)
    batch_errors: list[str] = field(default_factory=list)
    batch_notes: list[str] = field(default_factory=list)

    async def send(self, group: list[Path]) -> None:
        """One multipart request with ``group``; records the documents and what stream to follow."""
        total = sum(p.stat().st_size for p in group)
        label = group[0].name if len(group) == 1 else f"{len(group)} files"
        bar = self.board.upload_bar(label, total)
        readers: list[CountingReader] = []
        with bar:
            task = bar.task_ids[0]
            try:
                files = []
                for path in group:
                    reader = CountingReader(path, lambda n: bar.advance(task, n))
                    readers.append(reader)
                    files.append(("files", (path.name, reader, "application/octet-stream")))
                resp = await request(self.client, "POST", f"/cases/{self.case_id}/documents", files=files,
                                     timeout=httpx.Timeout(60.0, write=600.0, read=600.0))
            finally:
                for reader in readers:
                    reader.close()
        if resp.status_code in (400, 413, 415) and len(group) == 1:
            # A single refused file: the server judged it and said why; record it as failed, carry on.
            body = resp.json() if resp.content else {}
            doc = DocState(f"refused:{group[0]}", group[0].name, status="failed", stage="failed",
                           error=body.get("detail") or f"refused ({resp.status_code})")
            self.board.add_document(doc)
            return
        self.accepted(check(resp, expected=(202,)))

    def accepted(self, body: dict[str, Any]) -> None:
        """Track the documents of a 202 answer and pick the streams to follow."""
        for item in body["documents"]:
            doc = DocState(item["id"], item["filename"], status=item["status"],
                           stage="failed" if item["status"] == "failed" else "queued",
                           error=item.get("error_message"))
            self.board.add_document(doc)
        if body.get("batch_id"):
            self.followers.append((f"/batches/{body['batch_id']}/stream", "batch"))
        else:
            self.followers.extend((f"/progress/documents/{item['id']}/stream?events=named", item["filename"])
                                  for item in body["documents"] if item["status"] != "failed")

    async def on_event(self, event: StreamEvent) -> None:
        """Route a stream event to the board."""
        if event.data.get("document_id"):
            self.board.on_document_event(event.data)
        elif event.data.get("batch_id"):
            self.board.on_batch_event(event.data)

    async def follow_all(self, give_up_after: float) -> None:
        """Follow every chosen stream to its end, concurrently."""
        async with anyio.create_task_group() as tg:
            for path, _label in self.followers:
                tg.start_soon(self._follow_one, path, give_up_after)

    async def _follow_one(self, path: str, give_up_after: float) -> None:
        last = await follow(self.client, path, self.on_event, give_up_after=give_up_after,
                            on_state=self.board.note_connection)
        if last is None or last.data.get("document_id"):
            return
        if last.name == "error":
            error = last.data.get("error") or {}
            self.batch_errors.append(error.get("detail") or last.data.get("message") or "the batch failed")
        elif last.data.get("message"):
            self.batch_notes.append(last.data["message"])  # e.g. "… 1 skipped": files a ZIP held but not used

    async def final_states(self) -> None:
        """Settle each document from the status endpoint (the authority, also for pages and error text)."""
        for doc_id in [d for d in self.board.docs if not d.startswith("refused:")]:
            body = check(await request(self.client, "GET", f"/documents/{doc_id}/status"))
            doc = self.board.docs[doc_id]
            doc.status, doc.stage, doc.message = body["status"], body["stage"], body["message"] or ""
            doc.error = body.get("error_message")
            doc.pages = body.get("pages_total")


async def run_upload(server: str, paths: Sequence[Path], case_name: str, *, max_request_mb: int = 200,
                     max_files: int = 1000, give_up_after: float = 120.0,
                     out: Console | None = None, err: Console | None = None) -> int:
    """The whole command; returns the exit status."""
    out = out or Console()
    err = err or Console(stderr=True)
    files = collect_files(paths)
    groups, large = plan_requests(files, max_request_mb * MB, max_files)
    async with make_client(server) as client:
        case, created = await find_or_create_case(client, case_name)
        err.print(f"{'Created' if created else 'Using'} case [bold]{case['name']}[/] ({case['id']})")
        with Board(err) as board:
            job = Upload(client, board, case["id"])
            for path in large:
                await upload_large(job, path)
            for group in groups:
                await job.send(group)
            await job.follow_all(give_up_after)
            await job.final_states()
        docs = list(board.docs.values())
    failed = [d for d in docs if d.status != "indexed"]
    title = f"{case['name']}: {len(docs) - len(failed)} of {len(docs)} indexed"
    out.print(summary_table(docs, title))
    for note in job.batch_notes:
        out.print(note, highlight=False, markup=False)
    for problem in job.batch_errors:
        out.print(f"[red]batch failed:[/] {problem}", highlight=False)
    return 1 if failed or job.batch_errors else 0


async def upload_large(job: Upload, path: Path, attempts: int = 5) -> None:
    """A file over the per-request limit: the resumable chunked upload (``/cases/{id}/uploads``).

    Each chunk is retried on its own; after a dropped connection the server's list of missing chunks says
    what to send again, so a flaky link costs one chunk, not the whole file.
    """
    client = job.client
    size = (await anyio.Path(path).stat()).st_size
    digest = await anyio.to_thread.run_sync(_sha256_of, path)
    resp = await request(client, "POST", f"/cases/{job.case_id}/uploads",
                         json={"filename": path.name, "total_size": size, "sha256": digest})
    if resp.status_code in (404, 405):
        raise CliError(f"{path} is larger than the per-request upload limit and this server has no chunked upload")
    session = check(resp, expected=(200, 201))
    upload_id, chunk_size = session["upload_id"], int(session["chunk_size"])
    bar = job.board.upload_bar(path.name, size)
    with bar:
        task = bar.task_ids[0]
        bar.update(task, completed=int(session.get("received_bytes") or 0))
        for _round in range(attempts):
            missing = list(session["missing"])
            if not missing:
                break
            for index in missing:
                chunk = await anyio.to_thread.run_sync(_read_chunk, path, index, chunk_size)
                headers = {"X-Chunk-SHA256": hashlib.sha256(chunk).hexdigest(),
                           "Content-Type": "application/octet-stream"}
                try:
                    put = await client.put(f"/uploads/{upload_id}/chunks/{index}", content=chunk, headers=headers,
                                           timeout=httpx.Timeout(60.0, write=600.0, read=600.0))
                except httpx.TransportError:
                    await anyio.sleep(1.0)
                    continue  # resend it next round, from the server's own list of what is missing
                check(put)
                bar.advance(task, len(chunk))
            session = check(await request(client, "GET", f"/uploads/{upload_id}"))
        if session["missing"]:
            raise CliError(f"{path}: {len(session['missing'])} chunks could not be sent after {attempts} tries")
    body = check(await request(client, "POST", f"/uploads/{upload_id}/complete",
                               timeout=httpx.Timeout(60.0, read=600.0)), expected=(200, 202))
    job.accepted(body)


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(4 * MB):
            h.update(block)
    return h.hexdigest()


def _read_chunk(path: Path, index: int, chunk_size: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(index * chunk_size)
        return fh.read(chunk_size)
