"""A document's original file (download) and its pages as pictures (the page viewer).

    GET /documents/{id}/file                     the uploaded bytes, as an attachment under their file name
    GET /documents/{id}/pages/{n}/image?width=W  page n of a PDF as a PNG, W pixels wide (snapped to 400-1600)

Both are access-checked like the text (the ``document_id`` path parameter: the auth guard). A picture is
rendered once per (page, width) in a worker process and cached under ``<data>/previews/`` (deleted with its
document); widths are snapped to four sizes and the pixel count is capped, so neither a caller nor a file can
make the cache or a render unbounded. Only PDFs have pages to draw: other formats are read as text.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import anyio.to_process
from litestar import get
from litestar.params import Parameter
from litestar.response import File, Response

from lexintel.api.errors import error_responses
from lexintel.clock import new_id
from lexintel.errors import Conflict, InvalidInput, NotFound, TooLarge, Unavailable
from lexintel.preview import render_page_png
from lexintel.services import Services, Svc

__all__ = ["WIDTHS", "document_file_handlers"]

WIDTHS = (400, 800, 1200, 1600)
RENDER_SECONDS = 30
MAX_PAGES = 100_000
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html; charset=utf-8",
    "eml": "message/rfc822",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
}
# The file is someone's upload: never let a browser run or sniff it, even opened from the address bar.
FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer"}

_limiter: anyio.CapacityLimiter | None = None


def _render_limiter() -> anyio.CapacityLimiter:
    """At most one page rendered at a time: pictures must not starve extraction of its workers."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(1)
    return _limiter


def _stored_file(svc: Services, document_id: str) -> tuple[Path, str, str]:
    row = svc.records.document(document_id)
    path = Path(row["storage_path"]) if row["storage_path"] else None
    if path is None or not path.is_file():
        raise NotFound("file_not_kept", f"{row['filename']} was refused at upload, so its file was not kept.")
    return path, row["filename"], row["kind"]


def _snap(width: int) -> int:
    return next((w for w in WIDTHS if w >= width), WIDTHS[-1])


@get("/documents/{document_id:str}/file", tags=["documents"], responses=error_responses(404))
async def document_file(document_id: str, svc: Svc) -> File:
    """The original file as uploaded, to save (``Content-Disposition: attachment`` with its name)."""
    path, filename, kind = _stored_file(svc, document_id)
    return File(path, filename=filename, media_type=MEDIA_TYPES.get(kind, "application/octet-stream"),
                content_disposition_type="attachment", headers=FILE_HEADERS)


@get("/documents/{document_id:str}/pages/{page:int}/image", tags=["documents"],
     responses=error_responses(400, 404, 409, 413, 503), media_type="image/png")
async def page_image(document_id: str, page: int, svc: Svc,
                     width: int = Parameter(default=800, ge=1, le=4000,
                                            description="Wanted width in pixels; snapped up to 400, 800, 1200 "
                                                        "or 1600")) -> Response[bytes]:
    """Page ``page`` (1-based) of a PDF as a PNG, for the viewer beside the page's text."""
    path, filename, kind = _stored_file(svc, document_id)
    if kind != "pdf":
        raise NotFound("no_page_image", f"{filename} is not a PDF: it has no pages to show as pictures; "
                                        "read its text instead.")
    if page < 1:
        raise InvalidInput("bad_page", "Pages are numbered from 1.")
    if page > MAX_PAGES:
        raise NotFound("page_not_found", f"There is no page {page}: documents have at most {MAX_PAGES:,} pages.")
    size = _snap(width)
    cached = svc.files.preview_dir(document_id) / f"p{page}-w{size}.png"
    if not cached.is_file():
        await _render(svc, path, page, size, cached)
    return Response(await anyio.Path(cached).read_bytes(), media_type="image/png",
                    headers={**FILE_HEADERS, "Cache-Control": "private, max-age=3600"})


async def _render(svc: Services, path: Path, page: int, width: int, target: Path) -> None:
    try:
        with anyio.fail_after(RENDER_SECONDS):
            png, problem = await anyio.to_process.run_sync(
                render_page_png, str(path), page, width, svc.settings.worker_memory_mb, cancellable=True,
                limiter=_render_limiter())
    except TimeoutError:
        raise Unavailable("render_timeout", f"Page {page} took longer than {RENDER_SECONDS} s to draw; "
                                            "its text is still readable.") from None
    except MemoryError:
        raise TooLarge("page_too_large", f"Page {page} needs more memory to draw than a worker may use.") from None
    except (anyio.BrokenWorkerProcess, ProcessLookupError):
        raise Unavailable("render_crashed", f"Drawing page {page} stopped its worker; its text is still "
                                            "readable.") from None
    if problem is not None:
        code, detail = problem
        raise (NotFound if code == "page_not_found" else Conflict)(code, detail)
    assert png is not None
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_name(f"{target.name}.{new_id()}.tmp")
    await anyio.Path(tmp).write_bytes(png)
    os.replace(tmp, target)  # readers see the whole picture or none


document_file_handlers = [document_file, page_image]
