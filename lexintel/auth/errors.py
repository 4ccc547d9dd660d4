"""Access errors. They extend the app's error tree so they render as the same JSON body.

    AppError
    ├── Unauthorized  (401)  no credentials, or unknown/expired ones
    └── Forbidden     (403)  the caller may read the thing but not do this (CSRF refusal, not the owner)

Cases, documents, batches and streams the caller may not read are *not* 403: they are ``NotFound``, with the
same body as an id that does not exist, so an id tells an outsider nothing.
"""

from __future__ import annotations

from lexintel.errors import AppError

__all__ = ["Forbidden", "Unauthorized"]


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403
