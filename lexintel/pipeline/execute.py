"""Running one claimed document through the registered stages, in order, and ending it.

Each stage gets its share of the document's progress from the registry; its duration goes to the stage
observers (the metrics histogram, labelled with the stage's name). Whatever goes wrong ends the document as
``failed`` with a reason a person can act on, never a Python exception name alone.
"""

from __future__ import annotations

import logging
import time

from lexintel.errors import is_disk_full
from lexintel.pipeline.context import DocumentFailed, Lifecycle, StageContext
from lexintel.pipeline.stages import document_share, document_stages

__all__ = ["execute"]

log = logging.getLogger(__name__)


async def execute(ctx: StageContext, lifecycle: Lifecycle) -> None:
    """Run every document stage, then complete the document; a failure fails it instead."""
    doc = ctx.doc
    try:
        await _run_stages(ctx)
    except DocumentFailed as failure:
        _fail(ctx, lifecycle, failure.code, failure.detail)
        return
    except Exception as exc:
        if is_disk_full(exc):  # a clear reason instead of "internal_error" (the failure write may fail too)
            log.error("document %s: storage full: %s", doc.id, exc)
            _fail(ctx, lifecycle, "disk_full", "The server ran out of disk space while storing this document; "
                  "free space in its data directory, then retry it.")
        else:
            log.exception("document %s failed unexpectedly", doc.id)
            _fail(ctx, lifecycle, "internal_error", f"Unexpected error while processing: {type(exc).__name__}")
        return
    doc.advance(100.0)
    ctx.stats.documents_indexed += 1
    lifecycle.complete(doc, _outcome(ctx))


def _outcome(ctx: StageContext) -> str:
    """The last message: pages and passages, and what OCR could not do (``needs_ocr`` says why, page by page)."""
    doc = ctx.doc
    if doc.ocr_problem is not None:
        scanned = len(set(doc.ocr_pages))
        message = f"{doc.filename}: {doc.ocr_problem} ({scanned} of {doc.pages_total} pages are scans without text"
        found = f"{len(doc.chunks)} passage{'s' if len(doc.chunks) != 1 else ''}"
        verb = "is" if len(doc.chunks) == 1 else "are"
        return message + (f"; {found} from the others {verb} searchable)" if doc.chunks else ")")
    if doc.chunks:
        pages, passages = doc.pages_total or 0, len(doc.chunks)  # webui: "1 page, 1 passage"
        message = (f"Indexed {doc.filename}: {pages} page{'' if pages == 1 else 's'}, "
                   f"{passages} passage{'' if passages == 1 else 's'}")
    else:
        message = f"Indexed {doc.filename}: no text found"
    if doc.ocr_notes:
        message += f" ({len(doc.ocr_notes)} pages unread: {doc.ocr_notes[0]})"
    return message


async def _run_stages(ctx: StageContext) -> None:
    for stage in document_stages():
        start, weight = document_share(stage.name)
        ctx.enter(stage.name, start, weight)
        began = time.monotonic()
        assert stage.run is not None  # the registry checks that every document stage has one
        await stage.run(ctx)
        ctx.stats.observe(stage.name, time.monotonic() - began)
        ctx.doc.advance(start + weight)


def _fail(ctx: StageContext, lifecycle: Lifecycle, code: str, detail: str) -> None:
    ctx.stats.documents_failed += 1
    lifecycle.fail(ctx.doc, code, detail)
