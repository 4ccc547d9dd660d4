"""The web page: ``GET /`` and its few static files, shipped inside the package (no build step, no CDN).

Every response here carries a strict Content-Security-Policy (``default-src 'self'``, no ``unsafe-inline``):
the page has no inline scripts or styles, so an injected ``<script>`` or ``style=`` in a file name or a
snippet would not run. Only the named files are served, so no path from the URL ever reaches the disk.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from litestar import get
from litestar.response import Response

from lexintel.errors import NotFound

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
STATIC = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "icon.svg": "image/svg+xml",
}


@cache
def _read(name: str) -> bytes:
    """A packaged web file's bytes (read once per process)."""
    return resources.files("lexintel").joinpath("web", name).read_bytes()


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


web_handlers = [index, static_file]
