"""Rich progress bars (one per document, one for the batch, one per upload request) and the summary table.

Stages are shown in the stage registry's words (the CLI ships with the server's code, so it imports them).

Bars go to stderr so stdout carries only the summary (scripts can capture it); on a non-terminal stderr rich
draws nothing live, and each document's start and end are printed as plain lines instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from lexintel.pipeline.stages import lookup, words

__all__ = ["Board", "DocState", "eta_text", "summary_table"]


def eta_text(seconds: float | None) -> str:
    """The server's ETA in words ("" when unknown)."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"~{seconds:.0f}s left"
    return f"~{seconds / 60:.0f}min left"


@dataclass
class DocState:
    """What the client knows about one document, from events and the status endpoint."""

    id: str
    filename: str
    status: str = "pending"
    stage: str = "queued"
    progress: float = 0.0
    message: str = ""
    error: str | None = None
    pages: int | None = None
    run: int = 1

    @property
    def terminal(self) -> bool:
        """Indexed or failed."""
        return self.status in ("indexed", "failed")


def status_of(event: dict[str, Any]) -> str:
    """A ProgressEvent's status in document terms (pending/processing/indexed/failed)."""
    if event.get("status") == "completed":
        return "indexed"
    if event.get("status") == "failed":
        return "failed"
    return "pending" if event.get("stage") == "queued" else "processing"


@dataclass
class Board:
    """The live view: bars keyed by document id, plus the batch and upload bars."""

    err: Console
    docs: dict[str, DocState] = field(default_factory=dict)
    progress: Progress = field(init=False)
    _tasks: dict[str, TaskID] = field(default_factory=dict)
    _batch_tasks: dict[str, TaskID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", justify="left"),
            BarColumn(bar_width=30),
            TaskProgressColumn(),
            TextColumn("{task.fields[stage]}", style="cyan"),
            TextColumn("{task.fields[note]}", style="dim"),
            console=self.err,
            transient=False,
        )

    @property
    def live(self) -> bool:
        """True when bars are drawn (a terminal); otherwise plain lines are printed."""
        return self.err.is_terminal

    def __enter__(self) -> Board:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    # uploads -----------------------------------------------------------------------------------------
    def upload_bar(self, label: str, total: int) -> Progress:
        """A byte-count bar for one upload request; returns a progress with its own columns."""
        bar = Progress(TextColumn("[bold]upload[/] {task.description}"), BarColumn(bar_width=30), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn(), console=self.err, transient=True)
        bar.add_task(label, total=total)
        return bar

    # documents ---------------------------------------------------------------------------------------
    def add_document(self, doc: DocState) -> None:
        """Track a document (idempotent)."""
        if doc.id in self.docs:
            return
        self.docs[doc.id] = doc
        self._tasks[doc.id] = self.progress.add_task(_short(doc.filename), total=100, stage="", note="")
        self._render(doc)

    def on_document_event(self, event: dict[str, Any]) -> None:
        """Apply a document ProgressEvent (stale ones, from an older run, are ignored)."""
        doc_id = event["document_id"]
        if doc_id not in self.docs:
            self.add_document(DocState(doc_id, event.get("filename") or doc_id))
        doc = self.docs[doc_id]
        run = int(event.get("run") or 1)
        if run < doc.run:
            return
        before = (doc.status, doc.stage)
        doc.run = run
        doc.status = status_of(event)
        doc.stage = event.get("stage") or doc.stage
        doc.progress = float(event.get("progress") or 0)
        doc.message = event.get("message") or ""
        error = event.get("error")
        doc.error = error.get("detail") if isinstance(error, dict) else (error or None)
        stage = lookup(doc.stage)
        if stage is not None and stage.unit == "pages" and event.get("items_total"):
            doc.pages = int(event["items_total"])
        self._render(doc, eta_text(event.get("eta_seconds")))
        if not self.live and (doc.status, doc.stage) != before and (doc.terminal or before[1] == "queued"):
            self.err.print(f"{doc.filename}: {doc.error or doc.message}", markup=False, highlight=False)

    def on_batch_event(self, event: dict[str, Any]) -> None:
        """Apply a batch-level ProgressEvent (document_id null)."""
        batch_id = event["batch_id"]
        task = self._batch_tasks.get(batch_id)
        total = int(event.get("items_total") or 0)
        label = f"[bold]batch[/] {total} files" if total else "[bold]batch[/]"
        if task is None:
            task = self.progress.add_task(label, total=100, stage="", note="")
            self._batch_tasks[batch_id] = task
        note = f"{event.get('items_done', 0)}/{total} done" if total else (event.get("message") or "")
        self.progress.update(task, description=label, completed=float(event.get("progress") or 0),
                             stage=words(event.get("stage") or ""), note=note)
        if not self.live and event.get("status") in ("completed", "failed"):
            self.err.print(f"batch: {event.get('message', '')}", markup=False, highlight=False)

    def note_connection(self, state: str) -> None:
        """Show a dropped stream (and its recovery) without breaking the bars."""
        if state == "reconnecting":
            self.err.print("[yellow]stream dropped; reconnecting (resuming by Last-Event-ID)…[/]")

    def _render(self, doc: DocState, note: str = "") -> None:
        style = {"indexed": "green", "failed": "red"}.get(doc.status, "")
        stage = f"[{style}]{words(doc.stage)}[/]" if style else words(doc.stage)
        text = (doc.error or "")[:60] if doc.status == "failed" else "" if doc.terminal else note
        self.progress.update(self._tasks[doc.id], completed=100 if doc.status == "indexed" else doc.progress,
                             stage=stage, note=text)


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1):]


def summary_table(docs: list[DocState], title: str) -> Table:
    """One row per document: file, status, pages, and the reason when it failed."""
    table = Table(title=title, title_justify="left")
    table.add_column("File", overflow="fold")
    table.add_column("Status")
    table.add_column("Pages", justify="right")
    table.add_column("Details", overflow="fold")
    for doc in docs:
        style = {"indexed": "green", "failed": "red"}.get(doc.status, "yellow")
        details = doc.error or ("" if doc.status == "indexed" else doc.message)
        table.add_row(doc.filename, f"[{style}]{doc.status}[/]", "" if doc.pages is None else str(doc.pages),
                      details)
    return table
