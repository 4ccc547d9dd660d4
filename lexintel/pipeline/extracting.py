"""The extraction stage: text out of the file in the process pool, step by step under a wall-clock limit.

Each worker call extracts for at most ``STEP_BUDGET`` seconds and says where to continue, so pages arrive
(and are stored, and reported) while a long PDF is still being read. A run interrupted by a shutdown or a
crash resumes after the pages it stored (``DocumentRun.next_page``): no page is extracted twice in a run.
A timeout or a crashed worker fails only this document.

Pages without a usable text layer are stored marked ``needs_ocr`` (in the same transaction as their text) for
the OCR stage that follows; with ``LEXINTEL_OCR=force`` every page of a PDF or an image is. An email's
attachments are written by the worker to a directory of the data dir's ``incoming`` area and become documents
of their own (:meth:`lexintel.pipeline.context.StageContext.add_attachments`).
"""

from __future__ import annotations

import shutil
import sqlite3
import time

import anyio
import anyio.to_process

from lexintel.formats import ExtractOptions
from lexintel.formats.ocrstep import IMAGE_KINDS
from lexintel.pipeline.context import DocumentFailed, StageContext
from lexintel.pipeline.extract import extract_pages
from lexintel.pipeline.workerdeath import WorkerNotes, worker_death
from lexintel.store import documents as rows

__all__ = ["STEP_BUDGET", "run"]

STEP_BUDGET = 0.2  # seconds of extraction per worker call: bounds progress latency and call overhead
OCR_KINDS = frozenset({"pdf"}) | IMAGE_KINDS  # what OCR can read (LEXINTEL_OCR=force reads every page of these)


async def run(ctx: StageContext) -> None:
    """Extract every page of ``ctx.doc`` into ``ctx.doc.pages`` (and the ``pages`` table)."""
    doc, settings = ctx.doc, ctx.settings
    doc.paced_since = time.monotonic()
    start = doc.next_page
    if start and doc.pages_total and start >= doc.pages_total:  # interrupted after its last page
        ctx.begin(f"{doc.filename}: every page was extracted before the restart ({doc.pages_done}/{doc.pages_total})",
                  items_total=doc.pages_total, items_done=doc.pages_done)
        return
    if start:
        ctx.begin(f"Resuming {doc.filename} at page {start + 1}", items_total=doc.pages_total,
                  items_done=doc.pages_done)
    else:
        ctx.begin(f"Extracting text from {doc.filename}", items_total=doc.pages_total)
    attachments_dir = settings.data_dir / "incoming" / f"attachments-{doc.id}"
    options = ExtractOptions(boxes_flow=settings.pdf_boxes_flow, attachments_dir=str(attachments_dir),
                             max_attachments=settings.max_attachments)
    notes = WorkerNotes.for_document(settings.data_dir, doc.id)
    force = settings.ocr == "force" and doc.kind in OCR_KINDS
    try:
        with anyio.fail_after(settings.document_timeout):
            while True:
                step = await anyio.to_process.run_sync(
                    extract_pages, doc.storage_path, doc.kind, start, STEP_BUDGET, settings.worker_memory_mb,
                    options, notes.path, cancellable=True, limiter=ctx.limiter,
                )
                if step["error"] is not None:
                    raise DocumentFailed(*step["error"])
                # a format that cannot start mid-file returns its pages from the first: keep only new ones
                new_pages = [page for page in step["pages"] if page[0] > doc.next_page]
                fresh = {number for number, _ in new_pages}
                needs = [n for n in step.get("needs_ocr", []) if n in fresh]
                if force:
                    needs = sorted(fresh)
                for number, _code, detail in step.get("page_errors", []):
                    if number in fresh:
                        doc.ocr_notes.append(detail if detail.startswith("Page") else f"Page {number}: {detail}")
                if step.get("attachments"):
                    await ctx.add_attachments(list(step.get("attachments", [])))
                _pages_done(ctx, new_pages, needs, int(step["total"]), final=step["next"] is None)
                doc.pages.extend(new_pages)
                doc.ocr_pages.extend(needs)
                if step["next"] is None:
                    return
                start = int(step["next"])
    except TimeoutError:
        ctx.stats.worker_restarts += 1
        raise DocumentFailed(
            "timeout",
            f"Extraction did not finish within {settings.document_timeout:g} s (the PDF may be malformed); "
            "its worker process was stopped.",
        ) from None
    # anyio raises ProcessLookupError instead of BrokenWorkerProcess when a worker dies during its start-up
    except (anyio.BrokenWorkerProcess, ProcessLookupError):
        ctx.stats.worker_restarts += 1
        raise DocumentFailed(*worker_death(notes, settings.worker_memory_mb, "extraction")) from None
    finally:
        notes.remove()
        shutil.rmtree(attachments_dir, ignore_errors=True)


def _pages_done(ctx: StageContext, new_pages: list[tuple[int, str]], needs_ocr: list[int], total: int, *,
                final: bool) -> None:
    """Store new pages (and which of them need OCR) with the page counts; the event is throttled (the last one
    always goes out)."""
    doc = ctx.doc
    doc.pages_total = total
    doc.pages_done += len(new_pages)
    ctx.stats.pages_extracted += len(new_pages)
    document_id = doc.id

    def store_pages(conn: sqlite3.Connection) -> None:
        rows.store_pages(conn, document_id, new_pages)
        if needs_ocr:
            rows.mark_needs_ocr(conn, document_id, needs_ocr)

    ctx.report(doc.pages_done / max(total, 1), f"Extracting page {doc.pages_done}/{total} from {doc.filename}",
               items_total=total, items_done=doc.pages_done, final=final, write=store_pages,
               counts={"pages_done": doc.pages_done, "pages_total": total})
