"""The application's error tree: what went wrong, in domain terms, with no HTTP in it.

    AppError                 base: a stable machine ``code`` and a human ``detail`` (plus optional extra fields)
    ├── InvalidInput         the caller sent something unusable             (alias: BadRequest)
    ├── NotAuthenticated     no credentials, or unknown/expired ones        (alias: Unauthorized)
    ├── Forbidden            known caller, but not allowed to do this
    ├── NotFound             no such thing (also: a thing the caller may not know exists)
    ├── Conflict             the thing is in a state that does not allow this now
    ├── Gone                 the thing existed but is over (an expired or cancelled upload)
    ├── TooLarge             more bytes, entries or items than the limits allow (alias: PayloadTooLarge)
    ├── UnsupportedType      a file of a kind LexIntel does not process
    ├── RateLimited          too many attempts; ``retry_after`` seconds until the next is allowed
    ├── Unavailable          the instance cannot take this now (shutting down)  (alias: ServiceUnavailable)
    └── StorageFull          the disk (or the data dir's size limit) is full    (alias: InsufficientStorage)

Store, pipeline, auth and CLI code raise these and know nothing of status codes; the one place that turns them
into HTTP answers is ``lexintel.api.errors``, and the CLI prints ``detail``. ``retry_after`` is a fact about the
domain ("try again in N seconds"), which the HTTP mapping sends as ``Retry-After``.
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Any

__all__ = [
    "AppError",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "InsufficientStorage",
    "InvalidInput",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "StorageFull",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
    "UnsupportedType",
    "is_disk_full",
]

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class AppError(Exception):
    """Base of every error a client may see: ``code`` is stable (clients branch on it), ``detail`` is for people.

    ``extra`` keyword fields travel with the error to the client (e.g. ``missing`` chunk indexes).
    """

    def __init__(self, code: str, detail: str, *, retry_after: int | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.retry_after = retry_after
        self.extra = extra


class InvalidInput(AppError):
    """The caller sent something unusable (a bad name, an empty query, a malformed upload)."""


class NotAuthenticated(AppError):
    """No credentials, or unknown, expired or revoked ones."""


class Forbidden(AppError):
    """The caller is known and may see the thing, but may not do this (not the owner, CSRF refusal)."""


class NotFound(AppError):
    """No such thing; also what a thing the caller may not read looks like, so an id tells an outsider nothing."""


class Conflict(AppError):
    """The thing's current state does not allow this (retrying a document that did not fail)."""


class Gone(AppError):
    """The thing existed and is over for good (an upload session that expired or was cancelled)."""


class TooLarge(AppError):
    """More bytes, files or chunks than the configured limits allow."""


class UnsupportedType(AppError):
    """A file of a kind LexIntel does not process (judged by content)."""


class RateLimited(AppError):
    """Too many attempts; ``retry_after`` says in how many seconds the next one is allowed."""


class Unavailable(AppError):
    """The instance cannot take this now (it is shutting down); try again shortly, here or elsewhere."""


class StorageFull(AppError):
    """The data directory's disk, quota or size limit is full; nothing was saved."""


# The names of the first design, kept so every caller keeps working; they are the very same classes.
BadRequest = InvalidInput
Unauthorized = NotAuthenticated
PayloadTooLarge = TooLarge
ServiceUnavailable = Unavailable
InsufficientStorage = StorageFull


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space" errors: ENOSPC/EFBIG (a size limit)/EDQUOT, SQLite's "database or disk is full", and
    SQLite's "disk I/O error" (what a write past a file-size limit or quota turns into inside SQLite)."""
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL_ERRNOS
    message = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("disk is full" in message or "disk I/O error" in message)
