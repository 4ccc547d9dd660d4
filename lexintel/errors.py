"""The application's error tree and its JSON mapping.

    AppError                (500)   base: every error carries a stable ``code`` and a human ``detail``
    ├── BadRequest          (400)
    ├── NotFound            (404)   also used for things the caller may not know exist
    ├── Conflict            (409)
    ├── PayloadTooLarge     (413)
    ├── UnsupportedType     (415)
    ├── InsufficientStorage (507)   the disk (or the data dir's size limit) is full
    └── ServiceUnavailable  (503)   shutting down: retry later (elsewhere)

Handlers raise these; :func:`app_error_handler` turns them into ``{"status_code", "code", "detail"}``, the
same shape Litestar uses for its own HTTP errors, so clients parse one format. :func:`storage_error_handler`
turns "no space left" from the file system or SQLite, wherever it surfaces, into a 507 that says so.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from typing import Any, ClassVar

from litestar import Request, Response

__all__ = [
    "AppError",
    "BadRequest",
    "Conflict",
    "InsufficientStorage",
    "NotFound",
    "PayloadTooLarge",
    "ServiceUnavailable",
    "UnsupportedType",
    "app_error_handler",
    "is_disk_full",
    "storage_error_handler",
]

log = logging.getLogger(__name__)
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class AppError(Exception):
    """Base of every error a client may see."""

    status_code: ClassVar[int] = 500

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class BadRequest(AppError):
    status_code = 400


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class PayloadTooLarge(AppError):
    status_code = 413


class UnsupportedType(AppError):
    status_code = 415


class ServiceUnavailable(AppError):
    status_code = 503


class InsufficientStorage(AppError):
    status_code = 507


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space" errors: ENOSPC/EFBIG (a size limit)/EDQUOT, SQLite's "database or disk is full", and
    SQLite's "disk I/O error" (what a write past a file-size limit or quota turns into inside SQLite)."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    message = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("disk is full" in message or "disk I/O error" in message)


def storage_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """OSError/sqlite3.Error raised by a handler: 507 ``disk_full`` when storage is full, else 500 (logged)."""
    if is_disk_full(exc):
        log.error("storage full: %s", exc)
        err: AppError = InsufficientStorage(
            "disk_full", "The server's storage is full; nothing was saved. Free space in the data directory "
            "(or raise its limit) and try again.",
        )
    else:
        log.error("storage error", exc_info=exc)
        err = AppError("internal_error", f"The server could not read or write its storage ({type(exc).__name__}).")
    return app_error_handler(request, err)


def app_error_handler(_: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    """Render an :class:`AppError` as JSON."""
    body = {"status_code": exc.status_code, "code": exc.code, "detail": exc.detail, **exc.extra}
    return Response(body, status_code=exc.status_code)
