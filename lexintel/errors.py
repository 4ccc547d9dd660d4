"""The application's error tree and its JSON mapping.

    AppError                (500)   base: every error carries a stable ``code`` and a human ``detail``
    ├── BadRequest          (400)
    ├── NotFound            (404)   also used for things the caller may not know exist
    ├── Conflict            (409)
    ├── PayloadTooLarge     (413)
    └── UnsupportedType     (415)

Handlers raise these; :func:`app_error_handler` turns them into ``{"status_code", "code", "detail"}``, the
same shape Litestar uses for its own HTTP errors, so clients parse one format.
"""

from __future__ import annotations

from typing import Any, ClassVar

from litestar import Request, Response

__all__ = [
    "AppError",
    "BadRequest",
    "Conflict",
    "NotFound",
    "PayloadTooLarge",
    "UnsupportedType",
    "app_error_handler",
]


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


def app_error_handler(_: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    """Render an :class:`AppError` as JSON."""
    body = {"status_code": exc.status_code, "code": exc.code, "detail": exc.detail, **exc.extra}
    return Response(body, status_code=exc.status_code)
