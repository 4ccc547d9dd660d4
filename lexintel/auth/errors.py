"""Access errors, kept importable here for the auth code's readers; they live in :mod:`lexintel.errors`.

    NotAuthenticated (Unauthorized)  no credentials, or unknown/expired ones
    Forbidden                        the caller may read the thing but not do this (CSRF refusal, not the owner)

Cases, documents, batches and streams the caller may not read are *not* Forbidden: they are ``NotFound``, with
the same body as an id that does not exist, so an id tells an outsider nothing.
"""

from __future__ import annotations

from lexintel.errors import Forbidden, NotAuthenticated, Unauthorized

__all__ = ["Forbidden", "NotAuthenticated", "Unauthorized"]
