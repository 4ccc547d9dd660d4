"""The HTTP API's request and response bodies as ``msgspec.Struct``s, one module per resource.

Litestar decodes requests into them and documents them in ``/schema/openapi.json``; handlers return them and
msgspec encodes them to the same JSON clients read today (field order is wire order; ``None`` is sent as
``null``; an ``UNSET`` field is left out, for keys a body has only sometimes).

Response bodies extend :class:`Body`, which refuses undeclared keys: a handler that turns a service's dict
into its model with ``msgspec.convert`` fails loudly (500, logged) if the dict gained a key the model does not
document, instead of silently dropping it from the answer.
"""

from __future__ import annotations

import msgspec

__all__ = ["Body"]


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Base of every response body."""
