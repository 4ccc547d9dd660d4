"""Errors as HTTP: the one mapping from domain errors to statuses, and the JSON body every error answer has.

Every error answer, whoever raised it, is ``{"status_code", "code", "detail"}`` (plus an error's extra fields), so
clients parse one shape and branch on ``code``:

- a domain error (:mod:`lexintel.errors`) gets the status of its class in :data:`STATUS_OF`: one status per class,
  so one status per code;
- Litestar's own errors (a failed validation, an unknown route, a wrong method, a body over the limit) get a code
  for their status (:data:`FRAMEWORK_CODES`), keeping Litestar's ``detail``, ``extra`` and headers (``Allow``);
- "no space left" from the file system or SQLite, wherever it surfaces, is a 507 ``disk_full`` that says so;
- anything else is a bug: 500 ``internal_error``, logged with its traceback by the app, no internals in the body.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from msgspec import UNSET, UnsetType

from lexintel.errors import (
    AppError,
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    RateLimited,
    StorageFull,
    TooLarge,
    Unavailable,
    UnsupportedType,
    is_disk_full,
)

__all__ = [
    "EXCEPTION_HANDLERS",
    "FRAMEWORK_CODES",
    "STATUS_OF",
    "ErrorBody",
    "ValidationProblem",
    "app_error_handler",
    "error_responses",
    "http_error_handler",
    "internal_error_handler",
    "status_of",
    "storage_error_handler",
]

log = logging.getLogger("lexintel.errors")

STATUS_OF: dict[type[AppError], int] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooLarge: 413,
    UnsupportedType: 415,
    RateLimited: 429,
    Unavailable: 503,
    StorageFull: 507,
}
"""Domain error class -> HTTP status (a subclass takes its nearest listed base's status)."""

FRAMEWORK_CODES: dict[int, str] = {
    400: "validation_error",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
    503: "service_unavailable",
}
"""Litestar's HTTP errors by status -> the ``code`` they carry (any other status: ``http_<status>``)."""

UNAVAILABLE_RETRY_AFTER = 5
"""Seconds a client should wait before retrying a 503 that did not say: a draining instance is gone by then and
the load balancer sends the retry to another one."""


class ValidationProblem(msgspec.Struct):
    """One reason Litestar refused a request's parameters or body."""

    message: str
    key: str | UnsetType = UNSET
    """The parameter or body field at fault (``data`` for the body as a whole)."""
    source: str | UnsetType = UNSET
    """``body``, ``query``, ``path``, ``header`` or ``cookie``."""


class ErrorBody(msgspec.Struct, forbid_unknown_fields=True):
    """The body of every error answer."""

    status_code: int
    """The HTTP status, repeated for clients that only see the body."""
    code: str
    """Stable and machine-readable (``case_not_found``, ``validation_error``, ``shutting_down``...): branch on it."""
    detail: str
    """For people: what went wrong and, where it helps, what to do."""
    extra: list[ValidationProblem] | dict[str, Any] | UnsetType = UNSET
    """``validation_error``: what failed validation, field by field (Litestar's own ``extra``)."""
    missing: list[int] | UnsetType = UNSET
    """``chunks_missing``: the indexes of the chunks still to send (the first 1000)."""


def status_of(error: type[AppError]) -> int:
    """The HTTP status of a domain error class (500 for one with no listed base: a bug to fix here)."""
    for cls in error.__mro__:
        status = STATUS_OF.get(cls)
        if status is not None:
            return status
    return HTTP_500_INTERNAL_SERVER_ERROR


def _answer(status: int, code: str, detail: str, fields: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    body = {"status_code": status, "code": code, "detail": detail, **(fields or {})}
    return Response(body, status_code=status, headers=headers, media_type=MediaType.JSON)


def app_error_handler(_: Request[Any, Any, Any], exc: AppError) -> Response[dict[str, Any]]:
    """A domain error as JSON, with ``Retry-After`` when the error says when to retry (always for a 503)."""
    status = status_of(type(exc))
    retry_after = exc.retry_after
    if retry_after is None and status == 503:
        retry_after = UNAVAILABLE_RETRY_AFTER
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _answer(status, exc.code, exc.detail, exc.extra, headers)


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """One of Litestar's errors (validation, 404 for an unknown route, 405, 413...) in the app's shape."""
    status = exc.status_code
    if status == HTTP_500_INTERNAL_SERVER_ERROR:
        return _internal_answer()
    fields = {"extra": exc.extra} if exc.extra is not None else None
    return _answer(status, FRAMEWORK_CODES.get(status, f"http_{status}"), exc.detail, fields, exc.headers)


def storage_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """OSError/sqlite3.Error raised by a handler: 507 ``disk_full`` when storage is full, else 500 (logged)."""
    if is_disk_full(exc):
        log.error("storage full: %s", exc)
        full = StorageFull("disk_full", "The server's storage is full; nothing was saved. Free space in the data "
                           "directory (or raise its limit) and try again.")
        return app_error_handler(request, full)
    log.error("storage error", exc_info=exc)
    return _answer(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error",
                   f"The server could not read or write its storage ({type(exc).__name__}).")


def internal_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Anything else a handler raised: a bug. The app's ``after_exception`` hook logs it with its traceback."""
    return _internal_answer()


def _internal_answer() -> Response[dict[str, Any]]:
    return _answer(HTTP_500_INTERNAL_SERVER_ERROR, "internal_error", "Internal Server Error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    AppError: app_error_handler,
    HTTPException: http_error_handler,
    OSError: storage_error_handler,
    sqlite3.OperationalError: storage_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,  # Litestar: the default for every other exception
}


_ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: `validation_error` (Litestar's checks of parameters and body, with `extra`) or a specific "
         "code such as `empty_query`, `invalid_name`, `bad_multipart`.",
    401: "Not authenticated: `not_authenticated`, `invalid_token`, `invalid_stream_token`, `session_expired`, "
         "`invalid_credentials`.",
    403: "Authenticated, but not allowed: `csrf_failed` (send `X-CSRF-Token` with a cookie session), `not_owner`.",
    404: "Not found: `case_not_found`, `document_not_found`, `batch_not_found`, `upload_not_found`... A thing the "
         "caller may not read gets the very same answer as a missing one.",
    409: "Not in a state that allows this now: `not_failed`, `no_file`, `chunks_missing` (with `missing`), "
         "`upload_finished`...",
    410: "The upload session expired or was cancelled: `upload_expired`, `upload_cancelled`.",
    413: "Over a size limit: `file_too_large`, `request_too_large`, `chunk_too_large`, `too_many_files`...",
    415: "Not a kind of file LexIntel processes (judged by content), or a login that is not JSON.",
    429: "Too many at once: `too_many_attempts` (failed logins), `too_many_streams`, `too_many_uploads`, "
         "`too_many_uploads_in_flight`; `Retry-After` says when to try again.",
    503: "Shutting down: `shutting_down`; `Retry-After` says when to retry (another instance may answer).",
    507: "The server's storage is full: `disk_full`; nothing was saved.",
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the error answers an operation may give, all with the :class:`ErrorBody` shape."""
    return {status: ResponseSpec(data_container=ErrorBody, description=_ERROR_DESCRIPTIONS[status],
                                 generate_examples=False) for status in statuses}
