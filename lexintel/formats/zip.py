"""ZIP: a container. Uploaded on its own it is unpacked into a batch (:mod:`lexintel.upload.archive`).

Listed after the ZIP-based document formats (Word, OpenDocument), which are ZIPs too, and before PDF: an
archive that stores a PDF uncompressed has ``%PDF-`` within its first KiB.
"""

from __future__ import annotations

from lexintel.formats.base import Format, Probe

__all__ = ["ZIP"]


def _matches(probe: Probe) -> bool:
    return probe.is_zip


ZIP = Format(kind="zip", title="a ZIP archive", noun="ZIP", matches=_matches, container=True)
