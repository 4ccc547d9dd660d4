"""The OCR stage: scanned pages read by Tesseract in the process pool, page by page, after extraction.

Only the pages extraction found without a usable text layer are read (``DocumentRun.ocr_pages``, kept in the
``pages`` table so a restart resumes with the pages left); with ``LEXINTEL_OCR=force`` extraction lists every
page of a PDF or an image. A document without such pages passes through without an event.

Each worker call reads pages for about ``STEP_BUDGET`` seconds (at least one), so progress says "Reading
scanned page 12/80" with an ETA from the pace of this document's OCR so far. The OCR text replaces the page's
text, with any text layer it had after it (a Bates stamp over a scan), and its confidence is stored with it.

When OCR cannot run (``LEXINTEL_OCR=off``, no Tesseract, no language data) the pages stay without text, the rest
of the document is indexed, and it ends ``needs_ocr`` with the reason (never a green "ready"). Time: each page
has ``LEXINTEL_OCR_PAGE_TIMEOUT`` seconds of Tesseract; the stage as a whole has that per page plus
``LEXINTEL_DOCUMENT_TIMEOUT`` (for rendering), separate from extraction's own limit.
"""

from __future__ import annotations

import sqlite3
import time

import anyio
import anyio.to_process

from lexintel.formats.ocr import OcrOptions, merge_ocr, tesseract_problem
from lexintel.formats.ocrstep import IMAGE_KINDS
from lexintel.pipeline.context import DocumentFailed, StageContext
from lexintel.pipeline.extract import ocr_step
from lexintel.pipeline.workerdeath import WorkerNotes, worker_death
from lexintel.settings import Settings
from lexintel.store import documents as rows

__all__ = ["OCR_OFF", "STEP_BUDGET", "options", "problem", "run", "startup_check"]

STEP_BUDGET = 1.0  # seconds of OCR per worker call: a page takes 1-3 s, so usually one page per call
OCR_OFF = "needs OCR: OCR is turned off (LEXINTEL_OCR=off)"


def options(settings: Settings) -> OcrOptions:
    """The OCR options the settings give."""
    return OcrOptions(languages=settings.ocr_languages, dpi=settings.ocr_dpi, page_timeout=settings.ocr_page_timeout,
                      tesseract=settings.tesseract)


def problem(settings: Settings) -> str | None:
    """Why scanned pages cannot be read here (a document's message, ``/ready``'s ``ocr`` check), or None."""
    if settings.ocr == "off":
        return OCR_OFF
    return tesseract_problem(settings.tesseract, settings.ocr_languages)


def startup_check(settings: Settings) -> tuple[str | None, str | None]:
    """At start: (a configuration error that stops the server, a warning to log). Languages that Tesseract
    does not have are a mistake in the configuration; no Tesseract at all is a machine without OCR, which
    stops the server only when ``LEXINTEL_OCR=force`` asks for OCR on every page."""
    found = problem(settings)
    if found is None or settings.ocr == "off":
        return None, None
    if "language" in found or settings.ocr == "force":
        return f"LEXINTEL_OCR_LANGUAGES={settings.ocr_languages!r} / LEXINTEL_OCR={settings.ocr}: {found}", None
    return None, f"{found}: scanned pages will not be searchable (LEXINTEL_TESSERACT={settings.tesseract!r})"


async def run(ctx: StageContext) -> None:
    """Read ``ctx.doc.ocr_pages`` by OCR into the document's pages."""
    doc, settings = ctx.doc, ctx.settings
    pages = sorted(set(doc.ocr_pages))
    if not pages:
        return
    if doc.kind not in IMAGE_KINDS and doc.kind != "pdf":  # a format that has no pictures to read
        return
    reason = problem(settings)
    if reason is not None:
        doc.ocr_problem = reason
        ctx.begin(f"{doc.filename}: {_count(pages)} without text; {reason}", items_total=len(pages))
        return
    total = len(pages)
    ctx.begin(f"Reading scanned page 1/{total} of {doc.filename}", items_total=total)
    notes = WorkerNotes.for_document(settings.data_dir, doc.id)
    chosen = options(settings)
    began, done, index = time.monotonic(), 0, 0
    text_of = dict(doc.pages)
    try:
        with anyio.fail_after(settings.document_timeout + settings.ocr_page_timeout * total):
            while True:
                step = await anyio.to_process.run_sync(
                    ocr_step, doc.storage_path, doc.kind, pages, index, STEP_BUDGET, settings.worker_memory_mb,
                    chosen, notes.path, cancellable=True, limiter=ctx.limiter,
                )
                if step["error"] is not None:
                    code, detail = step["error"]
                    if code == "ocr_unavailable":  # Tesseract went away (or lost its languages) meanwhile
                        doc.ocr_problem = detail
                        return
                    raise DocumentFailed(code, detail)
                confidence = dict(step.get("ocr", []))
                read = [(number, merge_ocr(text_of.get(number, ""), text), confidence.get(number))
                        for number, text in step["pages"]]
                doc.ocr_notes.extend(detail for _number, _code, detail in step.get("page_errors", []))
                done += len(read)
                elapsed = time.monotonic() - began
                eta = (total - done) * elapsed / done if done else None
                _store(ctx, read, done, total, eta, final=step["next"] is None)
                for number, text, _ in read:
                    text_of[number] = text
                if step["next"] is None:
                    break
                index = int(step["next"])
    except TimeoutError:
        ctx.stats.worker_restarts += 1
        raise DocumentFailed("timeout", f"Reading {total} scanned pages did not finish within "
                                        f"{settings.document_timeout + settings.ocr_page_timeout * total:g} s; "
                                        "its worker process was stopped.") from None
    except (anyio.BrokenWorkerProcess, ProcessLookupError):
        ctx.stats.worker_restarts += 1
        raise DocumentFailed(*worker_death(notes, settings.worker_memory_mb, "OCR")) from None
    finally:
        notes.remove()
    doc.pages = [(number, text_of[number]) for number, _ in doc.pages]
    doc.ocr_pages = []


def _count(pages: list[int]) -> str:
    return "1 page" if len(pages) == 1 else f"{len(pages)} pages"


def _store(ctx: StageContext, read: list[tuple[int, str, float | None]], done: int, total: int, eta: float | None,
           *, final: bool) -> None:
    """Store pages read by OCR with their confidence, in the transaction of the event that reports them."""
    document_id = ctx.doc.id

    def write(conn: sqlite3.Connection) -> None:
        rows.store_ocr_pages(conn, document_id, read)

    shown = min(done + 1, total) if not final else total
    ctx.report(done / total, f"Reading scanned page {shown}/{total} of {ctx.doc.filename}", items_total=total,
               items_done=done, final=final, write=write, eta=eta)
