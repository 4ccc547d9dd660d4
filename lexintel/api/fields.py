"""Length caps on the text fields people type (names, file names): a 4xx naming the field, not a 9 MB echo.

The cap is checked before anything is stored or echoed back, and the answer says which field and how long it
may be: ``{"status_code": 400, "code": "too_long", "detail": "name is longer than 200 characters.",
"field": "name", "max_length": 200}``.
"""

from __future__ import annotations

from lexintel.errors import InvalidInput

__all__ = ["FILENAME_MAX", "JSON_BODY_MAX", "NAME_MAX", "bounded"]

NAME_MAX = 200  # a case name, a token name
FILENAME_MAX = 255  # what the file system and the stored display name keep
JSON_BODY_MAX = 1024 * 1024  # bytes of the account endpoints' small JSON bodies (names, passwords): 413 past it


def bounded(field: str, value: str, max_length: int) -> str:
    """``value`` stripped; InvalidInput ``too_long`` naming ``field`` when longer than ``max_length``."""
    if len(value) > max_length:
        raise InvalidInput("too_long", f"{field} is longer than {max_length} characters.", field=field,
                           max_length=max_length)
    return value.strip()
