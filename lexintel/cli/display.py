"""The live view on stderr: one batch line always, rows only for active and failed documents; and the summary.

Drawing a bar per document made every redraw cost O(files) and adding a thousand of them O(files²) (rich's
``Progress`` redraws all its tasks on each change). Here a frame has at most ``MAX_ACTIVE + MAX_FAILED + 3``
rows whatever the number of files, events only update counters (:class:`~lexintel.cli.board.Tally`), and the
screen is redrawn by a ticker at most ``FPS`` times a second from the event loop (no thread, no lock).

On a stderr that is not a terminal nothing is drawn live (and no final snapshot is printed): each document's end,
each batch's end and a progress line every few seconds are printed as plain lines instead. Stdout carries only
the summary (a table, or one JSON object with ``--json``) so scripts can capture it.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from lexintel.cli.board import BatchState, DocState, Tally
from lexintel.pipeline.stages import counts_pages, words

__all__ = ["Board", "eta_text", "stage_label", "summary_table"]

FPS = 10
MAX_ACTIVE = 8
MAX_FAILED = 5
PLAIN_EVERY = 5.0  # seconds between plain progress lines
STATUS_STYLES = {"indexed": "green", "failed": "red", "needs_ocr": "dark_orange"}
STATUS_WORDS = {"needs_ocr": "no text: needs OCR"}  # never shown like a ready document
TABLE_ROWS = 100  # above this many documents the summary lists only those not indexed


def stage_label(stage: str) -> str:
    """A stage as people read it, in the stage registry's words (the CLI ships with the server's code)."""
    return words(stage)


def eta_text(seconds: float | None) -> str:
    """An ETA in words ("" when unknown)."""
    if seconds is None or seconds < 1:
        return ""
    if seconds < 90:
        return f"~{seconds:.0f}s left"
    return f"~{seconds / 60:.0f}min left"


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f}"


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


class Board:
    """The tally of one command and its view (live on a terminal, plain lines otherwise)."""

    def __init__(self, err: Console, title: str = "") -> None:
        self.err = err
        self.title = title
        self.tally = Tally()
        self.live = err.is_terminal
        self.reconnecting = False
        self._view: Live | None = None
        self._dirty = True
        self._last_plain = time.monotonic()
        self._plain_seen: tuple[int, int] = (-1, -1)

    # lifecycle ---------------------------------------------------------------------------------------
    def __enter__(self) -> Board:
        if self.live:
            self._view = Live(self, console=self.err, auto_refresh=False, transient=True, redirect_stdout=False,
                              redirect_stderr=False)
            self._view.start(refresh=True)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._view is not None:
            self._view.stop()
            self._view = None

    async def tick(self) -> None:
        """Redraw when something changed, at most ``FPS`` times a second (run it in the command's task group)."""
        while True:
            await anyio.sleep(1 / FPS)
            if self._view is not None and self._dirty:
                self._dirty = False
                self._view.refresh()
            elif not self.live:
                self._plain_progress()

    def note(self, text: str, style: str = "") -> None:
        """A line above the live view (or a plain line)."""
        self.err.print(Text(text, style=style) if self.live else text, markup=False, highlight=False,
                       soft_wrap=not self.live)  # a plain line is one line, whatever its length

    # events ------------------------------------------------------------------------------------------
    def transfer(self, key: str, sent: int, total: int) -> None:
        """Bytes sent of one request or chunked upload ((0, 0) once answered)."""
        self._dirty = True
        self.tally.transfer(key, sent, total)

    def add_batch(self, batch_id: str, label: str) -> BatchState:
        self._dirty = True
        return self.tally.add_batch(batch_id, label)

    def add_document(self, doc: DocState) -> DocState:
        self._dirty = True
        known = len(self.tally.docs) + len(self.tally.refused)
        doc = self.tally.add_document(doc)
        if not self.live and doc.status == "failed" and len(self.tally.docs) + len(self.tally.refused) > known:
            self.note(_plain_end(doc))  # refused at upload: it will have no event of its own to announce it
        return doc

    def on_event(self, data: dict[str, Any]) -> None:
        """Route a stream event (a document's or a batch's)."""
        self._dirty = True
        if data.get("document_id"):
            changed = self.tally.on_document_event(data)
            if changed is not None and not self.live:
                doc, (status, _stage) = changed
                if doc.terminal and status != doc.status:
                    self.note(_plain_end(doc))
        elif data.get("batch_id"):
            batch, before = self.tally.on_batch_event(data)
            if batch.status != "processing" and before == "processing" and not self.live:
                self.note(f"batch {batch.id} {batch.status}: {batch.error or batch.message}")

    def set_reconnecting(self, down: bool) -> None:
        """The server went away (the batch line says so) or came back."""
        self.reconnecting, self._dirty = down, True

    # drawing -----------------------------------------------------------------------------------------
    def batch_line(self) -> str:
        """The one line that is always there: documents done and failed of the total, upload, ETA."""
        t = self.tally
        parts = [f"{t.done}/{t.total} done"]
        if t.failures:
            parts.append(f"{t.failures} failed")
        if t.counts["needs_ocr"]:
            parts.append(f"{t.counts['needs_ocr']} no text: needs OCR")
        if t.counts["processing"]:
            parts.append(f"{t.counts['processing']} active")
        sent, to_send = t.upload
        if to_send:
            parts.append(f"uploading {_mb(sent)}/{_mb(to_send)} MB")
        if self.reconnecting:
            parts.append("waiting for the server…")
        elif t.done < t.total and (eta := eta_text(t.eta)):
            parts.append(eta)
        return " · ".join(parts)

    def final_line(self) -> str:
        """The batch line once everything has ended."""
        t = self.tally
        indexed = t.counts["indexed"]  # (refused files count as failed)
        ocr = f", {t.counts['needs_ocr']} need OCR" if t.counts["needs_ocr"] else ""
        return (f"{self.title + ': ' if self.title else ''}{indexed} indexed{ocr}, {t.failures} failed of {t.total}"
                f" in {time.monotonic() - t.started:.0f} s")

    def __rich__(self) -> RenderableType:
        t = self.tally
        head = Table.grid(padding=(0, 1))
        head.add_row(Text(_short(self.title or "batch", 30), style="bold"), ProgressBar(100, 100 * t.fraction, 30),
                     Text(f"{100 * t.fraction:3.0f}%"), Text(self.batch_line()))
        rows = Table.grid(padding=(0, 1))
        active = list(_first(t.active, MAX_ACTIVE))
        for doc_id in active:
            doc = t.docs[doc_id]
            rows.add_row(Text("  " + _short(doc.filename)), ProgressBar(100, doc.progress, 20),
                         Text(f"{doc.progress:3.0f}%"), Text(stage_label(doc.stage), style="cyan"),
                         Text(_doc_note(doc), style="dim"))
        parts: list[RenderableType] = [head, rows]
        if len(t.active) > len(active):
            parts.append(Text(f"    … {len(t.active) - len(active)} more active", style="dim"))
        shown = t.failed[-MAX_FAILED:]
        for doc in shown:
            parts.append(Text(f"  ✗ {_short(doc.filename)}: {(doc.error or 'failed')[:80]}", style="red"))
        if len(t.failed) > len(shown):
            parts.append(Text(f"    … {len(t.failed) - len(shown)} more failed (all listed at the end)", style="red"))
        return Group(*parts)

    def _plain_progress(self) -> None:
        t = self.tally
        now = time.monotonic()
        seen = (t.done, t.total)
        if now - self._last_plain >= PLAIN_EVERY and seen != self._plain_seen and t.total:
            self._last_plain, self._plain_seen = now, seen
            self.note(f"progress: {self.batch_line()}")


def _first(keys: dict[str, None], n: int) -> Any:
    for i, key in enumerate(keys):
        if i == n:
            return
        yield key


def _doc_note(doc: DocState) -> str:
    if counts_pages(doc.stage) and doc.pages:
        return f"page {doc.pages_done}/{doc.pages} {eta_text(doc.eta)}".rstrip()
    return eta_text(doc.eta)


def _plain_end(doc: DocState) -> str:
    if doc.status == "failed":
        return f"failed   {doc.filename}: {doc.error or doc.message}"
    if doc.status == "needs_ocr":
        return f"no text  {doc.filename}: {doc.error or doc.message}"
    pages = f" ({doc.pages} page{'s' if doc.pages != 1 else ''})" if doc.pages is not None else ""
    return f"indexed  {doc.filename}{pages}"


def summary_table(docs: list[DocState], title: str, batches: list[BatchState] | None = None) -> Table:
    """One row per document: file, status, pages, the reason when it failed, and its id (for ``watch``/``text``).

    Past ``TABLE_ROWS`` documents only those not indexed get a row (``--json`` lists all)."""
    table = Table(title=title, title_justify="left")
    table.add_column("File", overflow="fold", min_width=min(40, max((len(d.filename) for d in docs), default=4)))
    table.add_column("Status")
    table.add_column("Pages", justify="right")
    table.add_column("Details", overflow="fold")
    table.add_column("Id", no_wrap=True, style="dim")
    listed = docs if len(docs) <= TABLE_ROWS else [d for d in docs if d.status != "indexed"]
    for doc in listed:
        style = STATUS_STYLES.get(doc.status, "yellow")
        details = doc.error or ("" if doc.status == "indexed" else doc.message)
        table.add_row(Text(doc.filename), Text(STATUS_WORDS.get(doc.status, doc.status), style=style),
                      "" if doc.pages is None else str(doc.pages), Text(details), doc.id or "")
    if len(listed) < len(docs):
        table.caption = f"{len(docs) - len(listed)} indexed documents not listed (--json lists every document)"
        table.caption_justify = "left"
    return table
