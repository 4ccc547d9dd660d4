"""PDF: recognised by ``%PDF-`` within the first KiB, read page by page with pdfminer.six in a worker process.

A document is extracted in *steps*: each call returns the pages it managed within a small time budget plus
where to continue, which gives per-page progress without a side channel back to the server. A worker keeps
the open document between steps, so a continuation that lands on the same worker does not re-parse the
file; one that lands elsewhere re-opens it and skips ahead (cheap: pages are not interpreted). pdfminer's
layout objects do not pickle: only ``(page, text)`` pairs leave the worker.
"""

from __future__ import annotations

import io
import itertools
import time
from dataclasses import dataclass
from typing import Any, BinaryIO

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.normalize import searchable

__all__ = ["PDF", "classify", "extract_pdf", "pdf_text_whole"]


def _matches(probe: Probe) -> bool:
    return b"%PDF-" in probe.head[:1024]  # the PDF spec allows junk before the header, within the first 1024 bytes


def _laparams(boxes_flow: float | None) -> Any:
    from pdfminer.layout import LAParams

    return LAParams(boxes_flow=boxes_flow)


@dataclass
class _PdfCursor:
    """An open PDF positioned before page ``next_index`` (0-based)."""

    path: str
    fp: BinaryIO
    total: int
    pages: Any  # iterator of PDFPage
    interpreter: Any
    out: io.StringIO
    next_index: int = 0

    def close(self) -> None:
        self.fp.close()


_cursor: _PdfCursor | None = None  # this worker process's open document, kept between steps


def _declared_count(document: Any) -> int:
    from pdfminer.pdftypes import resolve1

    try:
        pages_dict = resolve1(document.catalog.get("Pages"))
        return int(resolve1(pages_dict.get("Count", 0))) if isinstance(pages_dict, dict) else 0
    except Exception:
        return 0


def _open_pdf(path: str, boxes_flow: float | None) -> _PdfCursor:
    from pdfminer.converter import TextConverter
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    fp = open(path, "rb")  # noqa: SIM115 - kept open across steps, closed by _PdfCursor.close
    try:
        document = PDFDocument(PDFParser(fp))
        total = _declared_count(document)
        if total <= 0:  # no usable /Count: count the page tree
            total = sum(1 for _ in PDFPage.create_pages(document))
        manager = PDFResourceManager(caching=True)
        out = io.StringIO()
        device = TextConverter(manager, out, laparams=_laparams(boxes_flow))
        interpreter = PDFPageInterpreter(manager, device)
        return _PdfCursor(path, fp, total, iter(PDFPage.create_pages(document)), interpreter, out)
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


def _step(cur: _PdfCursor, budget_s: float) -> StepResult:
    pages: list[tuple[int, str]] = []
    deadline = time.monotonic() + budget_s
    done = False
    while not pages or time.monotonic() < deadline:
        page = next(cur.pages, None)
        if page is None:
            done = True
            break
        cur.next_index += 1
        cur.out.seek(0)
        cur.out.truncate()
        try:
            cur.interpreter.process_page(page)
            text = searchable(cur.out.getvalue().rstrip("\f"))  # TextConverter ends pages with a form feed
        except MemoryError:
            raise
        except Exception:  # one bad page does not lose the others: it is stored empty
            text = ""
        pages.append((cur.next_index, text))
    total = max(cur.total, cur.next_index)
    if done or (cur.next_index >= cur.total and _at_end(cur)):
        _close()
        return {"pages": pages, "total": total, "next": None, "error": None}
    return {"pages": pages, "total": total, "next": cur.next_index, "error": None}


def _at_end(cur: _PdfCursor) -> bool:
    """Peek whether the page iterator is exhausted (a wrong /Count must not cut the document short)."""
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
