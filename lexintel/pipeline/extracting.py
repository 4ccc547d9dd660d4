"""The extraction stage: text out of the file in the process pool, step by step under a wall-clock limit.

Each worker call extracts for at most ``STEP_BUDGET`` seconds and says where to continue, so pages arrive
(and are stored, and reported) while a long PDF is still being read. A run interrupted by a shutdown or a
crash resumes after the pages it stored (``DocumentRun.next_page``): no page is extracted twice in a run.
A timeout or a crashed worker fails only this document.
"""

from __future__ import annotations

import sqlite3
import time

import anyio
import anyio.to_process

from lexintel.pipeline.context import DocumentFailed, StageContext
from lexintel.pipeline.extract import extract_step
from lexintel.store import documents as rows

__all__ = ["STEP_BUDGET", "run"]

STEP_BUDGET = 0.2  # seconds of extraction per worker call: bounds progress latency and call overhead


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
    try:
        with anyio.fail_after(settings.document_timeout):
            while True:
                step = await anyio.to_process.run_sync(
                    extract_step, doc.storage_path, doc.kind, start, STEP_BUDGET, settings.worker_memory_mb,
                    settings.pdf_boxes_flow, cancellable=True, limiter=ctx.limiter,
                )
                if step["error"] is not None:
                    raise DocumentFailed(*step["error"])
                # a format that cannot start mid-file returns its pages from the first: keep only new ones
                new_pages = [page for page in step["pages"] if page[0] > doc.next_page]
                _pages_done(ctx, new_pages, int(step["total"]), final=step["next"] is None)
                doc.pages.extend(new_pages)
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
        raise DocumentFailed(
            "worker_crashed", "The extraction worker process crashed on this file; other documents are unaffected."
        ) from None


def _pages_done(ctx: StageContext, new_pages: list[tuple[int, str]], total: int, *, final: bool) -> None:
    """Store new pages with the page counts; the event is throttled (the last one always goes out)."""
    doc = ctx.doc
    doc.pages_total = total
    doc.pages_done += len(new_pages)
    ctx.stats.pages_extracted += len(new_pages)
    document_id = doc.id

    def store_pages(conn: sqlite3.Connection) -> None:
        rows.store_pages(conn, document_id, new_pages)

    ctx.report(doc.pages_done / max(total, 1), f"Extracting page {doc.pages_done}/{total} from {doc.filename}",
               items_total=total, items_done=doc.pages_done, final=final, write=store_pages,
               counts={"pages_done": doc.pages_done, "pages_total": total})
