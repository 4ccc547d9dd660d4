"""The OCR step: read listed pages of a PDF or an image file by OCR, as many as fit in a time budget.

Same shape as extraction (:data:`lexintel.formats.base.StepFunction`): the caller passes where to continue and
gets back the pages done, ``total`` and ``next``, so the pipeline can show "Reading scanned page 12/80". The
pages to read are the caller's list, usually the ``needs_ocr`` pages extraction reported (every frame of an
image file, the scanned pages of a mixed PDF); ``start`` and ``next`` index into that list. At least one page is
read per call, and a page runs at most ``page_timeout`` seconds.

A page that cannot be read (too large, timed out, Tesseract crashed) is listed in ``page_errors`` with its
reason and stored empty; the document goes on. Only "OCR cannot run here" (no Tesseract, no language data)
fails the step, with the message the document should show.

The open file is kept in the worker between steps, like a PDF's extraction cursor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from lexintel.formats.base import StepResult
from lexintel.formats.ocr import OcrOptions, OcrUnavailable, read_picture, tesseract_problem
from lexintel.formats.render import ImageFrames, PageFailed, PdfPages

__all__ = ["IMAGE_KINDS", "ocr_pages"]

IMAGE_KINDS = frozenset({"png", "jpeg", "tiff"})


@dataclass
class _Open:
    path: str
    source: PdfPages | ImageFrames


_open: _Open | None = None  # this worker's open file, kept between steps


def _source(path: str, kind: str, options: OcrOptions) -> PdfPages | ImageFrames:
    global _open
    if _open is not None and _open.path == path:
        return _open.source
    _close()
    source: PdfPages | ImageFrames = ImageFrames(path, options.max_pixels) if kind in IMAGE_KINDS else PdfPages(path)
    _open = _Open(path, source)
    return source


def _close() -> None:
    global _open
    if _open is not None:
        _open.source.close()
        _open = None


def _picture(source: PdfPages | ImageFrames, number: int, options: OcrOptions) -> tuple[bytes, int | None]:
    if isinstance(source, PdfPages):
        return source.picture(number, options.dpi, options.min_dpi, options.max_pixels)
    return source.picture(number)


def ocr_pages(path: str, kind: str, pages: Sequence[int], start: int, budget_s: float,
              options: OcrOptions) -> StepResult:
    """OCR ``pages[start:]`` (1-based page numbers) for ``budget_s`` seconds, at least one page."""
    problem = tesseract_problem(options.tesseract, options.languages)
    if problem is not None:
        _close()
        return {"pages": [], "total": len(pages), "next": None, "error": ("ocr_unavailable", problem)}
    done: list[tuple[int, str]] = []
    confidence: list[tuple[int, float | None]] = []
    failed: list[tuple[int, str, str]] = []
    deadline = time.monotonic() + budget_s
    index = start
    try:
        source = _source(path, kind, options) if start < len(pages) else None
        while source is not None and index < len(pages) and (not done or time.monotonic() < deadline):
            number = pages[index]
            index += 1
            try:
                picture, dpi = _picture(source, number, options)
                text, conf = read_picture(picture, dpi, number, options)
            except PageFailed as page_failed:
                failed.append((number, page_failed.code, page_failed.detail))
                done.append((number, ""))
                continue
            done.append((number, text))
            confidence.append((number, conf))
    except OcrUnavailable as unavailable:
        _close()
        return {"pages": [], "total": len(pages), "next": None, "error": ("ocr_unavailable", str(unavailable))}
    except PageFailed as unreadable:  # the file itself (an image that is a decompression bomb)
        _close()
        return {"pages": [], "total": len(pages), "next": None, "error": (unreadable.code, unreadable.detail)}
    except BaseException:
        _close()
        raise
    finished = index >= len(pages)
    if finished:
        _close()
    result: StepResult = {"pages": done, "total": len(pages), "next": None if finished else index, "error": None,
                          "ocr": confidence}
    if failed:
        result["page_errors"] = failed
    return result
