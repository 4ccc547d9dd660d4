"""``lexintel watch DOCUMENT_OR_BATCH --server URL``: follow one document's or one batch's live progress.

The id is tried as a document first (``/progress/documents/{id}/stream``), then as a batch
(``/batches/{id}/stream``). The stream is resumed by Last-Event-ID after drops. Exit status: 0 when it ended
well, 1 when the document (or any document of the batch) failed, 2 for usage or connection problems.
"""

from __future__ import annotations

from rich.console import Console

from lexintel.cli.api import NotFoundError, check, make_client, request
from lexintel.cli.display import Board, DocState, summary_table
from lexintel.cli.sse_client import StreamEvent, follow

__all__ = ["run_watch"]


async def run_watch(server: str, ident: str, *, give_up_after: float = 120.0, out: Console | None = None,
                    err: Console | None = None) -> int:
    """The whole command; returns the exit status."""
    out = out or Console()
    err = err or Console(stderr=True)
    async with make_client(server) as client:
        with Board(err) as board:

            async def on_event(event: StreamEvent) -> None:
                if event.data.get("document_id"):
                    board.on_document_event(event.data)
                elif event.data.get("batch_id"):
                    board.on_batch_event(event.data)

            kind = "document"
            try:
                last = await follow(client, f"/progress/documents/{ident}/stream?events=named", on_event,
                                    give_up_after=give_up_after, on_state=board.note_connection)
            except NotFoundError:
                kind = "batch"
                last = await follow(client, f"/batches/{ident}/stream", on_event, give_up_after=give_up_after,
                                    on_state=board.note_connection)
            # Settle from the status endpoint: covers a stream that ended with 204 (already finished).
            ids = [ident] if kind == "document" else list(board.docs)
            for doc_id in ids:
                body = check(await request(client, "GET", f"/documents/{doc_id}/status"))
                doc = board.docs.get(doc_id) or DocState(doc_id, body["filename"])
                board.add_document(doc)
                doc.status, doc.stage, doc.message = body["status"], body["stage"], body["message"] or ""
                doc.error, doc.pages = body.get("error_message"), body.get("pages_total")
    docs = list(board.docs.values())
    failed = [d for d in docs if d.status != "indexed"]
    batch_failed = kind == "batch" and last is not None and last.name == "error"
    out.print(summary_table(docs, f"{kind} {ident}: {len(docs) - len(failed)} of {len(docs)} indexed"))
    return 1 if failed or batch_failed else 0
