"""The web page: ``GET /``, its static files (ES modules, CSS, icon) shipped inside the package (no build step, no
CDN), and ``GET /web/limits`` (the upload limits the page checks before sending anything).

Every response here carries a strict Content-Security-Policy (``default-src 'self'``, no ``unsafe-inline``):
the page has no inline scripts or styles, so an injected ``<script>`` or ``style=`` in a file name or a
snippet would not run. Only the named files are served, so no path from the URL ever reaches the disk.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from litestar import get
from litestar.response import Response

from lexintel.api.models import Body
from lexintel.errors import NotFound
from lexintel.services import Svc

__all__ = ["SECURITY_HEADERS", "web_handlers"]

CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The files change with the package version; revalidating is cheap and avoids a stale page after upgrade.
    "Cache-Control": "no-cache",
}
JS = "text/javascript"
STATIC = {
    # webui: the page's modules (app.js imports the others)
    "app.js": JS, "api.js": JS, "stream.js": JS, "table.js": JS, "log.js": JS, "batches.js": JS, "upload.js": JS,
    "viewer.js": JS, "search.js": JS,
    "app.css": "text/css",
    "icon.svg": "image/svg+xml",
    # webadmin: cases, people and tokens pages
    "admin.js": JS,
    "admin.css": "text/css",
}


@cache
def _read(name: str) -> bytes:
    """A packaged web file's bytes (read once per process); a listed file missing from the package is a 404."""
    try:
        return resources.files("lexintel").joinpath("web", name).read_bytes()
    except FileNotFoundError:
        raise NotFound("static_not_found", f"No static file named {name!r}.") from None


@get("/", include_in_schema=False, opt={"public": True}, media_type="text/html")
async def index() -> Response[bytes]:
    """The single page."""
    return Response(_read("index.html"), media_type="text/html", headers=SECURITY_HEADERS)


@get("/static/{name:str}", include_in_schema=False, opt={"public": True})
async def static_file(name: str) -> Response[bytes]:
    """One of the page's static files, by exact name."""
    media_type = STATIC.get(name)
    if media_type is None:
        raise NotFound("static_not_found", f"No static file named {name!r}.")
    return Response(_read(name), media_type=media_type, headers=SECURITY_HEADERS)


class UploadLimits(Body):
    """What one upload may be (LEXINTEL_MAX_REQUEST_BYTES, _MAX_FILE_BYTES, _MAX_FILES_PER_BATCH,
    _UPLOAD_MAX_BYTES, _UPLOAD_MAX_CHUNK_BYTES)."""

    max_request_bytes: int
    """One multipart request, all its files together."""
    max_file_bytes: int
    """One file in a multipart request."""
    max_files_per_batch: int
    upload_max_bytes: int
    """One file through the chunked upload."""
    upload_max_chunk_bytes: int


@get("/web/limits", tags=["uploads"])
async def upload_limits(svc: Svc) -> UploadLimits:
    """The limits an upload is held to, so the page can say before sending that a file is too large, and send
    files above one request's limit through the chunked upload."""
    s = svc.settings
    return UploadLimits(max_request_bytes=s.max_request_bytes, max_file_bytes=s.max_file_bytes,
                        max_files_per_batch=s.max_files_per_batch, upload_max_bytes=s.upload_max_bytes,
                        upload_max_chunk_bytes=s.upload_max_chunk_bytes)


web_handlers = [index, static_file, upload_limits]
