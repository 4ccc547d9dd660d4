"""What a format is: how it is recognised, whether it holds documents or is one, how it is read, how it fails.

A :class:`Format` is plain data plus module-level functions, so the worker processes that run extraction can
find a format by its ``kind`` (a string that pickles) and call its step; nothing here imports a parser. The
registry in :mod:`lexintel.formats` orders the formats, and the order settles overlaps (an Office file is a
ZIP; a ZIP that stores a PDF uncompressed has ``%PDF-`` in its first KiB).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple, NotRequired, TypedDict

from lexintel.formats.zipdir import member_names

__all__ = [
    "MAX_PIXELS",
    "ExtractOptions",
    "Failure",
    "Format",
    "Probe",
    "StepFunction",
    "StepResult",
]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # signature, version, flags, method, time, date, crc, sizes, lengths


class Failure(NamedTuple):
    """Why a file did not become text: a stable ``code`` for programs, a ``detail`` sentence for people."""

    code: str
    detail: str


class StepResult(TypedDict):
    """One extraction (or OCR) step, as it crosses back from the worker process (plain data only).

    The four required keys are all a caller must read. The others are present only when there is something
    to say, so existing callers keep working: which pages still need OCR, the OCR confidence of pages read
    from their image, pages that failed on their own (the document goes on), how the pages of a format
    without fixed pages are cited, and the files a document carries (an email's attachments).
    """

    pages: list[tuple[int, str]]  # (1-based page number, text)
    total: int  # pages in the document, as far as known (for an OCR step: pages this OCR pass reads)
    next: int | None  # where to continue (0-based), None when done
    error: tuple[str, str] | None  # a Failure as a plain tuple: the document fails
    needs_ocr: NotRequired[list[int]]  # pages with no usable text layer (none, or mostly unmapped glyphs)
    ocr: NotRequired[list[tuple[int, float | None]]]  # pages read by OCR, mean word confidence 0-100 (None: no words)
    page_errors: NotRequired[list[tuple[int, str, str]]]  # (page, code, detail): that page only, stored empty
    labels: NotRequired[list[tuple[int, str]]]  # (page, how a citation names it): "paragraphs 12-30"
    attachments: NotRequired[list[tuple[str, str]]]  # (filename as sent, path of its bytes on disk)


MAX_PIXELS = 40_000_000
"""Largest image (pixels) read or rendered for OCR: a letter page at 600 dpi is 33.7 million; 8-bit gray at this
size is 40 MB, so a worker's memory stays bounded whatever size a file declares."""


@dataclass(frozen=True)
class ExtractOptions:
    """Settings an extraction step may use; one picklable bag so new formats add fields, not parameters."""

    boxes_flow: float | None = None
    attachments_dir: str | None = None  # where an email's attachments are written (None: listed, not written)
    max_attachments: int = 100  # an email with more fails: each would become a document of its own
    max_pixels: int = MAX_PIXELS  # an image (or TIFF frame) larger than this is not read
    soffice: str = "soffice"  # LibreOffice, to give Word files real page numbers when installed ("" never)
    soffice_timeout: float = 120.0


StepFunction = Callable[[str, int, float, ExtractOptions], StepResult]
"""``step(path, start_page, budget_seconds, options)``: a module-level function, run in a worker process."""

Classifier = Callable[[BaseException], Failure | None]


@dataclass
class Probe:
    """A file's first bytes and, when it is on disk, a way to look further (a ZIP's central directory).

    The central directory is read at most once and only for files that start like a ZIP, within a byte budget
    (:mod:`lexintel.formats.zipdir`), so probing stays cheap enough for the event loop.
    """

    head: bytes
    path: Path | None = None

    @property
    def is_zip(self) -> bool:
        """Starts with a ZIP signature (a local file header, or the end record of an empty archive)."""
        return self.head.startswith(_ZIP_MAGIC)

    @cached_property
    def zip_names(self) -> frozenset[str]:
        """Entry names from the central directory (empty when not a ZIP, not on disk, or unreadable)."""
        if not self.is_zip or self.path is None:
            return frozenset()
        return member_names(self.path)

    @cached_property
    def first_stored_entry(self) -> tuple[str, bytes] | None:
        """Name and data of the archive's first entry when it is stored uncompressed within the head.

        OpenDocument requires its ``mimetype`` entry there, which names the exact type without inflating anything.
        """
        if not self.head.startswith(_ZIP_MAGIC[0]) or len(self.head) < _LOCAL_HEADER.size:
            return None
        fields = _LOCAL_HEADER.unpack_from(self.head)
        method, compressed, name_len, extra_len = fields[3], fields[7], fields[9], fields[10]
        if method != 0:
            return None
        start = _LOCAL_HEADER.size + name_len + extra_len
        if start + compressed > len(self.head):
            return None
        name = self.head[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_len].decode("cp437")
        return name, self.head[start : start + compressed]


@dataclass(frozen=True)
class Format:
    """One type of file LexIntel recognises by content.

    ``kind`` is stored in ``documents.kind`` and carried by events: never rename one. ``extract`` is None for a
    type LexIntel knows but cannot read yet; such files are refused with a sentence naming the type.
    """

    kind: str
    title: str  # how a sentence names one such file: "a PDF", "a Word document"
    noun: str  # how a list or a plural names the type: "PDF" (a PDF or plain-text file), "Word" (Word files)
    matches: Callable[[Probe], bool]
    container: bool = False  # holds documents (unpacked into a batch) instead of being one
    extract: StepFunction | None = None
    classify: Classifier | None = field(default=None, repr=False)

    @property
    def readable(self) -> bool:
        """A document LexIntel can turn into text."""
        return not self.container and self.extract is not None

    @property
    def not_readable_yet(self) -> str:
        """Why a known but unreadable document is refused, as a phrase after "<name> is"."""
        return (f"{self.title}; LexIntel cannot read {self.noun} files yet "
                "(save it as a PDF and upload the PDF instead)")

    @property
    def this(self) -> str:
        """The title with "this" for its article: "this PDF", "this Word document"."""
        return "this " + self.title.split(" ", 1)[1]

    def failure(self, exc: BaseException) -> Failure:
        """Turn an error raised while reading this format into a code and a sentence, never a Python name."""
        if isinstance(exc, MemoryError):
            return Failure("too_large", f"Extracting {self.this} needed more memory than the worker limit allows.")
        found = self.classify(exc) if self.classify is not None else None
        if found is not None:
            return found
        if isinstance(exc, OSError):
            return Failure("extraction_error", "The stored copy of this file could not be read "
                                               f"({exc.strerror or 'input/output error'}); upload it again.")
        return Failure(
            "extraction_error",
            f"LexIntel could not read {self.this}: it is damaged, or built in a way its reader does not handle. "
            "Other programs may still open it; saving it again (or printing it to a new PDF) usually helps.",
        )
