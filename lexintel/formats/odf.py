"""OpenDocument (LibreOffice and others): ZIPs whose first entry names the type, not readable yet.

The OpenDocument standard requires the first entry to be ``mimetype``, stored uncompressed, holding the
media type, so the first bytes of the file tell text from spreadsheet from presentation with no inflating.
"""

from __future__ import annotations

from collections.abc import Callable

from lexintel.formats.base import Format, Probe

__all__ = ["ODF_PRESENTATION", "ODF_SPREADSHEET", "ODF_TEXT"]

_MEDIA_TYPE = b"application/vnd.oasis.opendocument."


def _media_type(subtype: str) -> Callable[[Probe], bool]:
    wanted = _MEDIA_TYPE + subtype.encode()

    def matches(probe: Probe) -> bool:
        first = probe.first_stored_entry
        # "text" also covers text-template and text-master: the same kind of document to a reader.
        return first is not None and first[0] == "mimetype" and first[1].startswith(wanted)

    return matches


ODF_TEXT = Format(kind="odt", title="an OpenDocument text document", noun="OpenDocument",
                  matches=_media_type("text"))
ODF_SPREADSHEET = Format(kind="ods", title="an OpenDocument spreadsheet", noun="OpenDocument",
                         matches=_media_type("spreadsheet"))
ODF_PRESENTATION = Format(kind="odp", title="an OpenDocument presentation", noun="OpenDocument",
                          matches=_media_type("presentation"))
