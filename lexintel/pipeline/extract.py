"""The worker entry points (run through ``anyio.to_process``): extraction by format, and OCR.

Everything here must be importable at top level and exchange only plain data. Each format's step lives in
its module under :mod:`lexintel.formats`; this module adds what every step needs in a worker process: the
memory cap, the lookup by stored ``kind``, and errors returned as data (a code and a human reason) instead
of raised, so the server never unpickles a library's exception.

:func:`extract_step` keeps the signature the runner calls today; :func:`extract_pages` takes the whole
:class:`ExtractOptions` (an email's attachments directory, ...). :func:`ocr_step` reads listed pages by OCR in
the same step shape (see :mod:`lexintel.formats.ocrstep`).

Each worker caps its own address space (``RLIMIT_AS``) so a decompression bomb raises MemoryError in the
worker instead of exhausting the machine; the server kills a worker that runs past the document time limit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from lexintel.formats import ExtractOptions, StepResult, by_kind
from lexintel.formats.ocr import OcrOptions
from lexintel.pipeline.workerdeath import is_memory_error, note_worker
from lexintel.worker_priority import yield_to_server

__all__ = ["ExtractStep", "extract_pages", "extract_step", "ocr_step"]

ExtractStep = StepResult

_memory_limit_applied = -1


def _apply_memory_limit(memory_mb: int) -> None:
    global _memory_limit_applied
    yield_to_server()  # (every worker entry point comes through here first)
    if memory_mb == _memory_limit_applied or memory_mb <= 0:
        return
    import resource

    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _memory_limit_applied = memory_mb


def _failed(code: str, detail: str) -> StepResult:
    return {"pages": [], "total": 0, "next": None, "error": (code, detail)}


def extract_step(
    path: str, kind: str, start: int, budget_s: float, memory_mb: int, boxes_flow: float | None
) -> StepResult:
    """Extract the next pages of ``path`` starting at 0-based page ``start``; errors come back as data."""
    return extract_pages(path, kind, start, budget_s, memory_mb, ExtractOptions(boxes_flow=boxes_flow))


def extract_pages(path: str, kind: str, start: int, budget_s: float, memory_mb: int,
                  options: ExtractOptions, notes: str | None = None) -> StepResult:
    """:func:`extract_step` with every extraction option (attachments directory, limits); ``notes``: where the
    worker leaves what explains its death (:mod:`lexintel.pipeline.workerdeath`)."""
    note_worker(notes)
    _apply_memory_limit(memory_mb)
    fmt = by_kind(kind)
    if fmt is None or fmt.extract is None:
        if fmt is None:
            return _failed("unsupported_type", f"This file's stored type ({kind}) is not one LexIntel knows.")
        return _failed("unsupported_type", f"This file is {fmt.not_readable_yet}.")
    try:
        return fmt.extract(path, start, budget_s, options)
    except Exception as exc:  # MemoryError included; KeyboardInterrupt and SystemExit end the worker
        if is_memory_error(exc, memory_mb):  # before the format's classifier, which may need memory itself
            return _failed("too_large", _out_of_memory(fmt.this, memory_mb))
        try:
            code, detail = fmt.failure(exc)
        except Exception as again:  # the classifier's own import failed: the worker is out of something
            if is_memory_error(again, memory_mb):
                return _failed("too_large", _out_of_memory(fmt.this, memory_mb))
            code, detail = "extraction_error", (f"LexIntel could not read {fmt.this}: it is damaged, or built in a "
                                                "way its reader does not handle.")
        return _failed(code, detail)


def _out_of_memory(what: str, memory_mb: int) -> str:
    return (f"Reading {what} needed more memory than the {memory_mb:,} MB a worker may use "
            "(LEXINTEL_WORKER_MEMORY_MB).")


def ocr_step(path: str, kind: str, pages: Sequence[int], start: int, budget_s: float, memory_mb: int,
             options: OcrOptions, notes: str | None = None) -> StepResult:
    """OCR ``pages[start:]`` (1-based page numbers of ``path``) for about ``budget_s`` seconds; errors as data.

    ``total`` is ``len(pages)`` and ``next`` an index into ``pages``; ``ocr`` carries each page's mean word
    confidence, ``page_errors`` the pages that could not be read (the document goes on without them).
    """
    note_worker(notes)
    _apply_memory_limit(memory_mb)
    fmt = by_kind(kind)
    try:
        from lexintel.formats import render
        from lexintel.formats.ocrstep import ocr_pages

        return ocr_pages(path, kind, list(pages), start, budget_s, options)
    except Exception as exc:
        if is_memory_error(exc, memory_mb):
            return _failed("too_large", _out_of_memory(fmt.this if fmt else "this file", memory_mb))
        from lexintel.formats import render

        known = render.classify(exc)
        if known is None and fmt is not None:
            known = fmt.failure(exc)
        code, detail = known or ("ocr_failed", "LexIntel could not read this file by OCR.")
        return _failed(code, detail)


if __name__ == "__main__":  # pragma: no cover - manual check: python -m lexintel.pipeline.extract FILE
    import sys
    from pathlib import Path

    from lexintel.formats import detect

    with open(sys.argv[1], "rb") as head:
        found = detect(head.read(8192), Path(sys.argv[1]))
    step = extract_step(sys.argv[1], found.kind if found else "unknown", 0, 3600.0, 0, None)
    print(os.path.basename(sys.argv[1]), step["total"], step["error"], sum(len(t) for _, t in step["pages"]))
