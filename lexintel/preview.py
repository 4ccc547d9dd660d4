"""Worker side of the page viewer: one PDF page rendered by PDFium into a PNG of a bounded size.

Runs in a worker process (``anyio.to_process``, called from :mod:`lexintel.api.document_files`), like
extraction: PDFium parses untrusted files, so a page that hangs it or eats memory costs one killed worker and
a 4xx for that picture, never the server. Results are plain data (bytes, or a (code, sentence) pair).
"""

from __future__ import annotations

import io
import resource

from lexintel.worker_priority import yield_to_server

__all__ = ["MAX_PIXELS", "render_page_png"]

MAX_PIXELS = 12_000_000
"""The largest picture made (a 1,600-pixel-wide page stays far under it; a very long page is scaled down)."""


def _cap_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    limit = memory_mb * 1024 * 1024
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def render_page_png(path: str, page: int, width: int, memory_mb: int) -> tuple[bytes | None, tuple[str, str] | None]:
    """Page ``page`` (1-based) of the PDF at ``path``, ``width`` pixels wide, as PNG bytes; or why not."""
    _cap_memory(memory_mb)
    yield_to_server()
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            return None, ("encrypted_pdf", "The PDF is password-protected, so its pages cannot be shown.")
        return None, ("corrupt_pdf", "The PDF is damaged: its pages cannot be shown.")
    try:
        if not 1 <= page <= len(pdf):
            return None, ("page_not_found", f"The document has {len(pdf)} pages; there is no page {page}.")
        doc_page = pdf[page - 1]
        try:
            w, h = doc_page.get_size()
            scale = width / max(w, 1.0)
            if (w * scale) * (h * scale) > MAX_PIXELS:
                scale = (MAX_PIXELS / max(w * h, 1.0)) ** 0.5
            bitmap = doc_page.render(scale=scale)
            out = io.BytesIO()
            bitmap.to_pil().save(out, "PNG", compress_level=6)
            return out.getvalue(), None
        except pdfium.PdfiumError:
            return None, ("corrupt_pdf", f"Page {page} is damaged: it cannot be shown. Its text may still be read.")
        finally:
            doc_page.close()
    finally:
        pdf.close()
