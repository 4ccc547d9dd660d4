"""PDF: recognised by ``%PDF-`` within the first KiB, read page by page with pdfminer.six in a worker process.

A document is extracted in *steps*: each call returns the pages it managed within a small time budget plus
where to continue, which gives per-page progress without a side channel back to the server. A worker keeps
the open document between steps, so a continuation that lands on the same worker does not re-parse the
file; one that lands elsewhere re-opens it and skips ahead (cheap: pages are not interpreted). pdfminer's
layout objects do not pickle: only ``(page, text)`` pairs leave the worker.

How pages are read (layout settings per page, bounded memory) is :mod:`lexintel.formats.pdftext`; opening from
the header and counting real pages is :mod:`lexintel.formats.pdfopen`. Each page's text is judged by
:mod:`lexintel.formats.textlayer`: ``(cid:N)`` placeholders never leave the worker, and a page with no usable
text layer that draws something (a scan), or a thin one over a page-sized image (a scan with a Bates stamp),
is listed in ``needs_ocr``. A page pdfminer fails on is stored empty and listed there too: the renderer
used for OCR may still read it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.normalize import searchable
from lexintel.formats.pdfopen import count_pages, open_document
from lexintel.formats.textlayer import assess

__all__ = ["PDF", "classify", "extract_pdf", "pdf_text_whole"]

SCAN_COVER = 0.5  # images over half the page ...
THIN_TEXT = 200  # ... and fewer visible characters than this: a scan with a stamp, footer or Bates number


def _matches(probe: Probe) -> bool:
    return b"%PDF-" in probe.head[:1024]  # the PDF spec allows junk before the header, within the first 1024 bytes


def _laparams(boxes_flow: float | None) -> Any:
    from pdfminer.layout import LAParams

    return LAParams(boxes_flow=boxes_flow, all_texts=True)


@dataclass
class _PdfCursor:
    """An open PDF positioned before page ``next_index`` (0-based)."""

    path: str
    fp: BinaryIO
    total: int
    pages: Any  # iterator of PDFPage
    reader: Any  # pdftext.PageReader
    next_index: int = 0

    def close(self) -> None:
        self.fp.close()


_cursor: _PdfCursor | None = None  # this worker process's open document, kept between steps


def _open_pdf(path: str, boxes_flow: float | None) -> _PdfCursor:
    from pdfminer.pdfpage import PDFPage

    from lexintel.formats.pdftext import PageReader

    fp, document = open_document(path)
    try:
        total = count_pages(document)  # the real page tree: /Count is only a claim
        return _PdfCursor(path, fp, total, iter(PDFPage.create_pages(document)), PageReader(boxes_flow))
    except BaseException:
        fp.close()
        raise


def _position(path: str, start: int, boxes_flow: float | None) -> _PdfCursor:
    """This worker's cursor on ``path`` at page ``start``, reusing the open document when it is there."""
    global _cursor
    if _cursor is not None and _cursor.path == path and _cursor.next_index == start:
        return _cursor
    _close()
    _cursor = _open_pdf(path, boxes_flow)
    for _ in range(start):  # skip pages a previous step (on another worker) already did
        next(_cursor.pages, None)
    _cursor.next_index = start
    return _cursor


def _close() -> None:
    global _cursor
    if _cursor is not None:
        _cursor.close()
        _cursor = None


def extract_pdf(path: str, start: int, budget_s: float, options: ExtractOptions) -> StepResult:
    """The pages from 0-based ``start`` that fit in ``budget_s`` (at least one); errors propagate."""
    try:
        return _step(_position(path, start, options.boxes_flow), budget_s)
    except BaseException:
        _close()
        raise


def _read_page(cur: _PdfCursor, page: Any) -> tuple[str, bool]:
    """A page's text to store and whether it should be read by OCR instead (or as well)."""
    try:
        raw, drawn, image_cover = cur.reader.read(page)
    except MemoryError:
        raise
    except Exception:  # one bad page does not lose the others: stored empty, and the renderer may read it
        return "", True
    judged = assess(searchable(raw))
    if not judged.usable:
        return "", drawn or bool(raw.strip())
    thin = sum(not c.isspace() for c in judged.text) < THIN_TEXT
    return judged.text, thin and image_cover >= SCAN_COVER


def _step(cur: _PdfCursor, budget_s: float) -> StepResult:
    pages: list[tuple[int, str]] = []
    needs_ocr: list[int] = []
    deadline = time.monotonic() + budget_s
    done = False
    while not pages or time.monotonic() < deadline:
        page = next(cur.pages, None)
        if page is None:
            done = True
            break
        cur.next_index += 1
        text, scan = _read_page(cur, page)
        pages.append((cur.next_index, text))
        if scan:
            needs_ocr.append(cur.next_index)
    total = max(cur.total, cur.next_index)
    result: StepResult = {"pages": pages, "total": total, "next": cur.next_index, "error": None}
    if needs_ocr:
        result["needs_ocr"] = needs_ocr
    if done or (cur.next_index >= cur.total and _at_end(cur)):
        _close()
        result["next"] = None
        result["total"] = cur.next_index  # the pages there were, whatever the tree walk said
    return result


def _at_end(cur: _PdfCursor) -> bool:
    """Peek whether the page iterator is exhausted (a wrong count must not cut the document short)."""
    nxt = next(cur.pages, None)
    if nxt is None:
        return True
    cur.pages = itertools.chain([nxt], cur.pages)
    return False


_DAMAGED = "The PDF is damaged and cannot be read"


def classify(exc: BaseException) -> Failure | None:
    """pdfminer's errors as a stable code and a sentence a paralegal can act on.

    pdfminer's own messages quote internal objects (``param={'Filter': /'Foo'}``, ``PDFObjectNotFound: 5``),
    so they are kept out of the sentence; the kind of damage is said in plain words instead.
    """
    from pdfminer.pdfdocument import PDFEncryptionError, PDFNoValidXRef, PDFPasswordIncorrect
    from pdfminer.pdftypes import PDFObjectNotFound
    from pdfminer.psexceptions import PSEOF, PSException

    if isinstance(exc, PDFPasswordIncorrect):
        return Failure("encrypted_pdf", "The PDF is password-protected; upload a copy without a password.")
    if isinstance(exc, PDFEncryptionError):
        return Failure("encrypted_pdf", "The PDF is encrypted with a method LexIntel cannot open; upload a copy "
                                        "without a password or encryption.")
    if not isinstance(exc, PSException):
        return None  # not pdfminer's own: the registry's general sentence
    said = str(exc)
    if isinstance(exc, PSEOF) or "EOF" in said:
        return Failure("corrupt_pdf", f"{_DAMAGED}: the file ends too early (it may be cut off; upload it again).")
    if isinstance(exc, PDFNoValidXRef) or "/Root" in said or "Catalog" in said:
        return Failure("corrupt_pdf", f"{_DAMAGED}: its table of contents (cross-reference table or catalog) "
                                      "is missing or broken.")
    if isinstance(exc, PDFObjectNotFound):
        return Failure("corrupt_pdf", f"{_DAMAGED}: it refers to parts that are not in the file.")
    return Failure("corrupt_pdf", f"{_DAMAGED}: its internal structure is malformed.")


PDF = Format(
    kind="pdf",
    title="a PDF",
    noun="PDF",
    matches=_matches,
    extract=extract_pdf,
    classify=classify,
)


def pdf_text_whole(path: str, boxes_flow: float | None = None) -> int:
    """Raw pdfminer.six over one file, for the benchmark baseline; returns the page count."""
    from pdfminer.high_level import extract_text

    text = extract_text(path, laparams=_laparams(boxes_flow))
    return text.count("\f") or 1
