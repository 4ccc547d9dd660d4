"""``lexintel watch DOCUMENT_OR_BATCH``: follow one document's or one batch's live progress.

The id is looked up as a document, then as a batch (one honest message when it is neither), and its stream
followed with the same view as ``upload``, resumed by Last-Event-ID across drops and server restarts. Exit
status: 0 when it ended well, 1 when the document (or any document of the batch) failed, 2 for usage or
connection problems.
"""

from __future__ import annotations

import anyio
from rich.console import Console

from lexintel.cli.api import NotFoundError, check, segment
from lexintel.cli.board import DocState
from lexintel.cli.connection import Connection
from lexintel.cli.display import Board
from lexintel.cli.session import Session
from lexintel.cli.sse_client import StreamEvent, follow
from lexintel.cli.upload import report, settle_batch, settle_document

__all__ = ["run_watch"]


async def _kind(conn: Connection, ident: str) -> str:
    """``document`` or ``batch``; :class:`NotFoundError` when the server has neither (or not for this caller)."""
    for kind, path in (("document", f"/documents/{segment(ident)}"), ("batch", f"/batches/{segment(ident)}")):
        resp = await conn.request("GET", path)
        if resp.status_code != 404:
            check(resp)
            return kind
    raise NotFoundError(f"No document or batch with id {ident!r}")


async def run_watch(session: Session, ident: str, *, json_out: bool = False, out: Console | None = None,
                    err: Console | None = None) -> int:
    """The whole command; returns the exit status."""
    out = out or Console()
    err = err or Console(stderr=True)
    board = Board(err)
    async with session.connect(board) as conn:
        kind = await _kind(conn, ident)
        board.title = f"{kind} {ident}"
        stream = f"/progress/documents/{segment(ident)}/stream?events=named" if kind == "document" else \
            f"/batches/{segment(ident)}/stream"
        if kind == "batch":
            board.add_batch(ident, "batch")
        notes: list[str] = []

        def on_event(event: StreamEvent) -> None:
            board.on_event(event.data)

        with board:
            async with anyio.create_task_group() as tg:
                tg.start_soon(board.tick)
                await follow(conn, stream, on_event)
                tg.cancel_scope.cancel()
        # Settle from the server: covers a stream that ended with 204 (already finished) and gives pages.
        if kind == "document":
            body = check(await conn.request("GET", f"/documents/{segment(ident)}/status"))
            doc = board.add_document(DocState(ident, body["filename"], batch_id=body.get("batch_id")))
            settle_document(board, doc, body)
        else:
            body = check(await conn.request("GET", f"/batches/{segment(ident)}/progress"))
            if settle_batch(board, ident, body):
                notes.append(body.get("message") or "")
    return report(board, out, err, notes, json_out, None)
