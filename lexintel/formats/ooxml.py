"""Office Open XML (Excel, PowerPoint): ZIPs recognised by their central directory, not readable yet.

An OOXML package always has ``[Content_Types].xml`` at its root; the main part says which application wrote
it. Without these formats a workbook would be unpacked as an archive into "text" documents of raw XML; until
they get an ``extract`` step, such files are refused with a sentence naming the type. Word documents are
read (:mod:`lexintel.formats.docx`).
"""

from __future__ import annotations

from collections.abc import Callable

from lexintel.formats.base import Format, Probe

__all__ = ["EXCEL", "POWERPOINT"]


def _package_with(main_part: str) -> Callable[[Probe], bool]:
    def matches(probe: Probe) -> bool:
        return probe.is_zip and {"[Content_Types].xml", main_part} <= probe.zip_names

    return matches


EXCEL = Format(kind="xlsx", title="an Excel workbook", noun="Excel", matches=_package_with("xl/workbook.xml"))
POWERPOINT = Format(kind="pptx", title="a PowerPoint presentation", noun="PowerPoint",
                    matches=_package_with("ppt/presentation.xml"))
