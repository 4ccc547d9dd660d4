"""Office Open XML (Word, Excel, PowerPoint): ZIPs recognised by their central directory, not readable yet.

An OOXML package always has ``[Content_Types].xml`` at its root; the main part says which application wrote
it. Without these formats a ``.docx`` would be unpacked as an archive into "text" documents of raw XML.
Until the formats work (issue 15) adds an ``extract`` step, such files are refused with a sentence naming
the type.
"""

from __future__ import annotations

from collections.abc import Callable

from lexintel.formats.base import Format, Probe

__all__ = ["EXCEL", "POWERPOINT", "WORD"]


def _package_with(main_part: str) -> Callable[[Probe], bool]:
    def matches(probe: Probe) -> bool:
        return probe.is_zip and {"[Content_Types].xml", main_part} <= probe.zip_names

    return matches


WORD = Format(kind="docx", title="a Word document", noun="Word", matches=_package_with("word/document.xml"))
EXCEL = Format(kind="xlsx", title="an Excel workbook", noun="Excel", matches=_package_with("xl/workbook.xml"))
POWERPOINT = Format(kind="pptx", title="a PowerPoint presentation", noun="PowerPoint",
                    matches=_package_with("ppt/presentation.xml"))
