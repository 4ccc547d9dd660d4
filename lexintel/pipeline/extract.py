"""Text extraction, run inside worker processes (``anyio.to_process``).

Everything here must be importable at top level and exchange only plain data: pdfminer layout objects do not
pickle. A document is extracted in *steps*: each call returns the pages it managed within a small time
budget plus where to continue, which gives per-page progress without a side channel back to the server.
A worker keeps the open document between steps, so a continuation that lands on the same worker does not
re-parse the file; one that lands elsewhere re-opens it and skips ahead (cheap: pages are not interpreted).

Each worker caps its own address space (``RLIMIT_AS``) so a decompression bomb raises MemoryError in the
worker instead of exhausting the machine; the server kills a worker that runs past the document time limit.
"""

from __future__ import annotations

import io
import os
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any, BinaryIO

__all__ = ["ExtractStep", "extract_step", "pdf_text_whole"]

ExtractStep = dict[str, Any]  # {"pages": [(n, text)], "total": int, "next": int | None, "error": ...}

_memory_limit_applied = -1


def _apply_memory_limit(memory_mb: int) -> None:
    global _memory_limit_applied
    if memory_mb == _memory_limit_applied or memory_mb <= 0:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _memory_limit_applied = memory_mb


def _searchable(text: str) -> str:
    """NFKC: PDF fonts often encode ligatures ("ﬁ", "ﬃ") and full-width forms as single characters, which the
    full-text tokenizer keeps as-is, so "official" would not match "oﬃcial". Normalised once here, the stored
    page text, the passages and the snippets all agree."""
    return unicodedata.normalize("NFKC", text)


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
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.fp.close()


_cursor: _PdfCursor | None = None


def _open_pdf(path: str, boxes_flow: float | None) -> _PdfCursor:
    from pdfminer.converter import TextConverter
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    fp = open(path, "rb")  # noqa: SIM115 - kept open across steps, closed by _PdfCursor.close
    try:
        document = PDFDocument(PDFParser(fp))
        total = 0
        try:
            pages_dict = resolve1(document.catalog.get("Pages"))
            total = int(resolve1(pages_dict.get("Count", 0))) if isinstance(pages_dict, dict) else 0
        except Exception:
            total = 0
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


def _classify(exc: BaseException) -> tuple[str, str]:
    """A stable error code and a sentence a paralegal can act on."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException

    if isinstance(exc, PDFPasswordIncorrect):
        return "encrypted_pdf", "The PDF is password-protected; upload a copy without a password."
    if isinstance(exc, PDFEncryptionError):
        return "encrypted_pdf", f"The PDF is encrypted in a way LexIntel cannot open ({exc})."
    if isinstance(exc, MemoryError):
        return "too_large", "Extracting this PDF needed more memory than the worker limit allows."
    if isinstance(exc, PDFSyntaxError | PSException):
        return "corrupt_pdf", f"The PDF is damaged and cannot be read ({type(exc).__name__}: {exc})."
    return "extraction_error", f"Text extraction failed ({type(exc).__name__}: {exc})."


def _pdf_step(path: str, start: int, budget_s: float, boxes_flow: float | None) -> ExtractStep:
    global _cursor
    if _cursor is None or _cursor.path != path or _cursor.next_index != start:
        if _cursor is not None:
            _cursor.close()
            _cursor = None
        _cursor = _open_pdf(path, boxes_flow)
        for _ in range(start):  # skip pages a previous step (on another worker) already did
            next(_cursor.pages, None)
        _cursor.next_index = start
    cur = _cursor
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
            text = _searchable(cur.out.getvalue().rstrip("\f"))  # TextConverter ends pages with a form feed
        except MemoryError:
            raise
        except Exception as exc:  # one bad page does not lose the others
            text = ""
            cur.warnings.append(f"page {cur.next_index}: {type(exc).__name__}")
        pages.append((cur.next_index, text))
    if done or (cur.next_index >= cur.total and _at_end(cur)):
        total = max(cur.total, cur.next_index)
        warnings = cur.warnings
        cur.close()
        _cursor = None
        return {"pages": pages, "total": total, "next": None, "error": None, "warnings": warnings}
    return {"pages": pages, "total": max(cur.total, cur.next_index), "next": cur.next_index, "error": None}


def _at_end(cur: _PdfCursor) -> bool:
    """Peek whether the page iterator is exhausted (a wrong /Count must not cut the document short)."""
    import itertools

    nxt = next(cur.pages, None)
    if nxt is None:
        return True
    cur.pages = itertools.chain([nxt], cur.pages)
    return False


def _text_step(path: str) -> ExtractStep:
    from lexintel.upload.sniff import TextDecodeError, decode_text

    with open(path, "rb") as fp:
        data = fp.read()
    try:
        text = decode_text(data)
    except TextDecodeError as exc:
        return {"pages": [], "total": 0, "next": None, "error": ("undecodable_text", f"Cannot read text: {exc}.")}
    parts = _searchable(text).replace("\r\n", "\n").split("\f")
    pages = [(i + 1, part) for i, part in enumerate(parts)]
    return {"pages": pages, "total": len(pages), "next": None, "error": None}


def extract_step(
    path: str, kind: str, start: int, budget_s: float, memory_mb: int, boxes_flow: float | None
) -> ExtractStep:
    """Extract the next pages of ``path`` starting at 0-based page ``start``; errors come back as data."""
    global _cursor
    _apply_memory_limit(memory_mb)
    try:
        if kind == "text":
            return _text_step(path)
        return _pdf_step(path, start, budget_s, boxes_flow)
    except BaseException as exc:
        if _cursor is not None:
            _cursor.close()
            _cursor = None
        if not isinstance(exc, Exception | MemoryError):
            raise
        code, detail = _classify(exc)
        return {"pages": [], "total": 0, "next": None, "error": (code, detail)}


def pdf_text_whole(path: str, boxes_flow: float | None = None) -> int:
    """Raw pdfminer.six over one file, for the benchmark baseline; returns the page count."""
    from pdfminer.high_level import extract_text

    text = extract_text(path, laparams=_laparams(boxes_flow))
    return text.count("\f") or 1


if __name__ == "__main__":  # pragma: no cover - manual check: python -m lexintel.pipeline.extract FILE
    import sys

    step = extract_step(sys.argv[1], "pdf", 0, 3600.0, 0, None)
    print(os.path.basename(sys.argv[1]), step["total"], step["error"], sum(len(t) for _, t in step["pages"]))
