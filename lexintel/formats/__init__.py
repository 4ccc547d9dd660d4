"""The format registry: every type of file LexIntel recognises, in the order detection tries them.

Everything that asks "what is this file?" asks here: the upload check (:func:`lexintel.upload.intake.judge`),
ZIP unpacking (which entries are kept or skipped, and why) and the extraction worker (which step reads a
stored ``kind``). Detection is by content only, never by name or the client's content-type.

Adding a format: write one module that defines a :class:`Format` (how it is recognised, whether it is a
container, its extraction step, how its errors read) and add it to :data:`FORMATS` below. Order matters
where formats overlap: the ZIP-based documents come before ZIP, and ZIP before PDF (an archive that stores a
PDF uncompressed has ``%PDF-`` in its first KiB); images, whose signature is at byte 0, before PDF, which
may start up to 1 KiB in. HTML and email are text with a recognisable start, so they come before plain
text, the fallback, which comes last.
"""

from __future__ import annotations

from pathlib import Path

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.docx import WORD
from lexintel.formats.eml import EMAIL
from lexintel.formats.html import HTML
from lexintel.formats.image import JPEG, PNG, TIFF
from lexintel.formats.odf import ODF_PRESENTATION, ODF_SPREADSHEET, ODF_TEXT
from lexintel.formats.ooxml import EXCEL, POWERPOINT
from lexintel.formats.pdf import PDF
from lexintel.formats.text import TEXT
from lexintel.formats.zip import ZIP

__all__ = [
    "FORMATS",
    "ExtractOptions",
    "Failure",
    "Format",
    "Probe",
    "StepResult",
    "by_kind",
    "detect",
    "not_recognised",
    "refusal",
]

FORMATS: tuple[Format, ...] = (
    WORD,
    EXCEL,
    POWERPOINT,
    ODF_TEXT,
    ODF_SPREADSHEET,
    ODF_PRESENTATION,
    ZIP,
    PNG,
    JPEG,
    TIFF,
    PDF,
    HTML,
    EMAIL,
    TEXT,
)

_BY_KIND = {fmt.kind: fmt for fmt in FORMATS}
assert len(_BY_KIND) == len(FORMATS), "two formats share a kind"


def detect(head: bytes, path: Path | None = None) -> Format | None:
    """The format of a file from its first bytes (and, for a ZIP on disk at ``path``, its entry names).

    Without ``path`` a Word file is only "a ZIP": pass the path whenever the file is on disk.
    """
    probe = Probe(head, path)
    return next((fmt for fmt in FORMATS if fmt.matches(probe)), None)


def by_kind(kind: str) -> Format | None:
    """The format a stored ``kind`` names, or None for a kind this version does not know."""
    return _BY_KIND.get(kind)


def not_recognised() -> str:
    """Why content no format matched is refused, as a phrase after "<name> is".

    "not a PDF or plain-text file, Word document, HTML page, email or image": the two oldest formats first,
    then the others by their titles; formats sharing a noun (PNG, JPEG, TIFF: "image") are named once by it.
    """
    readable = [fmt for fmt in FORMATS if fmt.readable and fmt not in (PDF, TEXT)]
    shared = {fmt.noun for fmt in readable if sum(f.noun == fmt.noun for f in readable) > 1}
    others = list(dict.fromkeys(fmt.noun if fmt.noun in shared else fmt.title.split(" ", 1)[1] for fmt in readable))
    listed = f"{PDF.noun} or {TEXT.noun} file"
    if others:
        listed += ", " + (others[0] if len(others) == 1 else f"{', '.join(others[:-1])} or {others[-1]}")
    return f"not {PDF.title.split(' ', 1)[0]} {listed} (judged by its content, not its name)"


def refusal(filename: str, size: int, fmt: Format | None) -> Failure | None:
    """Why an uploaded file cannot become a document, or None when it can.

    A container is refused as a document: it is unpacked only when uploaded on its own, which the caller
    checks before asking.
    """
    if size == 0:
        return Failure("empty_file", f"{filename} is empty.")
    if fmt is None:
        return Failure("unsupported_type", f"{filename} is {not_recognised()}.")
    if fmt.container:
        return Failure("unsupported_type", f"{filename} is {fmt.title}; upload it on its own to unpack it.")
    if not fmt.readable:
        return Failure("unsupported_type", f"{filename} is {fmt.not_readable_yet}.")
    return None
