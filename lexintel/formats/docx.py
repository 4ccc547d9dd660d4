"""Word (.docx): the text of the body, tables, headers, footers, footnotes and endnotes, read from the XML.

Read with the standard library (``zipfile`` and ``xml.etree``): a .docx is a ZIP of WordprocessingML parts, and
what is needed from them is text in document order, which a walk over ``w:p``/``w:tbl`` gives. Expat (2.4.1 and
later) refuses entity-expansion bombs and ElementTree never loads external entities; each part is read
through a byte cap, so a part that inflates past ``MAX_PART`` fails the document instead of the worker.

What is read: paragraphs and table rows (cells joined by " | ") in order, including content controls and text
boxes (once: the ``mc:Fallback`` copy is skipped); inserted text of tracked changes, not deleted text
(``w:delText``) nor field codes (``w:instrText``). Headers (distinct texts, once) open the first page; each
footnote goes at the end of the page that refers to it; endnotes and footers close the last page.

Pages: see :mod:`lexintel.formats.paginate`. When LibreOffice's ``soffice`` is installed, the document is
converted to PDF and read as one, which gives the page numbers a printout has; without it (the default
install), Word's own last-rendered page breaks are used when the file has them, else page breaks and size.
"""

from __future__ import annotations

import pyexpat
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.normalize import searchable
from lexintel.formats.paginate import Block, paginate

__all__ = ["WORD", "extract_docx", "read_docx"]

MAX_PART = 256 * 1024 * 1024  # bytes of XML in one part
_SKIP = {"delText", "instrText", "Fallback", "rPr", "pPr", "tblPr", "trPr", "tcPr", "sectPr", "del"}


class DocxError(ValueError):
    """The package is not a Word document we can read; the message is a sentence."""


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr(element: ElementTree.Element, name: str) -> str | None:
    for key, value in element.attrib.items():
        if key.rsplit("}", 1)[-1] == name:
            return value
    return None


def _part(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    with archive.open(info) as fp:
        data = fp.read(MAX_PART + 1)
    if len(data) > MAX_PART:
        raise DocxError(f"its part {name} is larger than {MAX_PART // (1024 * 1024)} MB of XML")
    if pyexpat.version_info < (2, 4, 1):  # older Expat expands entity bombs ("billion laughs")
        raise DocxError("this server's XML parser is too old to read Word files safely (Expat 2.4.1 or later)")
    try:
        return ElementTree.fromstring(data)  # noqa: S314 - Expat >= 2.4.1 checked above; no external entities
    except ElementTree.ParseError:
        raise DocxError(f"its part {name} is not well-formed XML") from None


class _Reader:
    """Walks WordprocessingML into :class:`Block` s, noting page breaks and footnote references."""

    def __init__(self, footnotes: dict[str, str]) -> None:
        self.blocks: list[Block] = []
        self.footnotes = footnotes
        self.rendered = False  # the file has Word's last-rendered page breaks
        self.layout_breaks: set[int] = set()  # ids of the blocks Word's last layout started a page with
        self._break_next = False  # the paragraph before ended a section

    def body(self, element: ElementTree.Element) -> None:
        for child in element:
            name = _local(child.tag)
            if name == "p":
                self.paragraph(child)
            elif name == "tbl":
                self.table(child)
            elif name in {"sdt", "sdtContent", "customXml", "ins", "smartTag"}:
                self.body(child)

    def table(self, table: ElementTree.Element) -> None:
        for row in (r for r in table if _local(r.tag) == "tr"):
            cells = [self.cell_text(c) for c in row if _local(c.tag) in {"tc", "sdt"}]
            if any(cells):
                self.blocks.append(Block(" | ".join(c for c in cells)))

    def cell_text(self, cell: ElementTree.Element) -> str:
        inner = _Reader(self.footnotes)
        inner.body(cell)
        self.rendered |= inner.rendered
        return " ".join(b.text for b in inner.blocks if b.text)

    def paragraph(self, p: ElementTree.Element) -> None:
        parts: list[str] = []
        block = Block("", page_before=self._break_next)
        self._break_next = False
        props = next((c for c in p if _local(c.tag) == "pPr"), None)
        for prop in props if props is not None else ():
            name = _local(prop.tag)
            if name == "pageBreakBefore" and _attr(prop, "val") not in {"0", "false"}:
                block.page_before = True
            elif name == "sectPr":  # a section ends with this paragraph; most section kinds start a new page
                kind = next((_attr(c, "val") for c in prop if _local(c.tag) == "type"), "nextPage")
                self._break_next = kind != "continuous"
        self.blocks.append(block)

        def walk(element: ElementTree.Element) -> None:
            for child in element:
                name = _local(child.tag)
                if name in _SKIP:
                    continue
                if name == "t":
                    parts.append(child.text or "")
                elif name == "tab":
                    parts.append("\t")
                elif name in {"br", "cr"}:
                    if _attr(child, "type") == "page":
                        self._break(parts, rendered=False)
                    else:
                        parts.append("\n")
                elif name == "noBreakHyphen":
                    parts.append("-")
                elif name == "lastRenderedPageBreak":
                    self.rendered = True
                    self._break(parts, rendered=True)
                elif name == "footnoteReference":
                    note = self.footnotes.get(_attr(child, "id") or "")
                    if note:
                        self.blocks[-1].notes.append(note)
                elif name == "p":  # a text box's paragraph inside a drawing
                    walk(child)
                    parts.append("\n")
                else:
                    walk(child)

        walk(p)
        self.blocks[-1].text = "".join(parts).strip()

    def _break(self, parts: list[str], *, rendered: bool) -> None:
        """A page break inside the paragraph: what came before it stays on the previous page."""
        current = self.blocks[-1]
        if "".join(parts).strip():
            current.text = "".join(parts).strip()
            parts.clear()
            current = Block("", continued=True)
            self.blocks.append(current)
        if rendered:
            self.layout_breaks.add(id(current))
        else:
            current.page_before = True


def _notes(archive: zipfile.ZipFile, name: str) -> dict[str, str]:
    root = _part(archive, name)
    if root is None:
        return {}
    notes: dict[str, str] = {}
    for number, note in enumerate((n for n in root if _attr(n, "type") is None), start=1):
        reader = _Reader({})
        reader.body(note)
        text = " ".join(b.text for b in reader.blocks if b.text)
        if text:
            notes[_attr(note, "id") or ""] = f"[{number}] {text}"
    return notes


def _repeated(archive: zipfile.ZipFile, prefix: str) -> str:
    seen: list[str] = []
    for name in sorted(n for n in archive.namelist() if n.startswith(prefix) and n.endswith(".xml")):
        root = _part(archive, name)
        if root is None:
            continue
        reader = _Reader({})
        reader.body(root)
        text = "\n".join(b.text for b in reader.blocks if b.text)
        if text and text not in seen:
            seen.append(text)
    return "\n".join(seen)


def read_docx(path: str) -> StepResult:
    """The whole document in one step (Word files are read whole, in well under a step's budget per MB)."""
    with zipfile.ZipFile(path) as archive:
        body = _part(archive, "word/document.xml")
        if body is None:
            raise DocxError("it has no main document part")
        footnotes = _notes(archive, "word/footnotes.xml")
        endnotes = _notes(archive, "word/endnotes.xml")
        reader = _Reader(footnotes)
        main = next((c for c in body if _local(c.tag) == "body"), body)
        reader.body(main)
        head = _repeated(archive, "word/header")
        tail = "\n".join(filter(None, ["\n".join(endnotes.values()), _repeated(archive, "word/footer")]))
    if reader.rendered:  # Word's last layout wins over explicit breaks (it marks those pages too)
        for block in reader.blocks:
            block.page_before = id(block) in reader.layout_breaks
    cut = paginate(reader.blocks, rendered=reader.rendered, head=head, tail=tail)
    pages = [(number, searchable(text)) for number, text in cut.pages]
    result: StepResult = {"pages": pages, "total": len(pages), "next": None, "error": None}
    if cut.labels:
        result["labels"] = cut.labels
    return result


def _via_soffice(path: str, options: ExtractOptions) -> StepResult | None:
    """Convert with LibreOffice and read the PDF (real page numbers); None when soffice is not installed."""
    program = shutil.which(options.soffice) if options.soffice else None
    if program is None:
        return None
    from lexintel.formats.pdf import extract_pdf

    with tempfile.TemporaryDirectory(prefix="lexintel-docx-") as tmp:
        source = Path(tmp) / "document.docx"  # stored files have no extension; LibreOffice wants one
        shutil.copyfile(path, source)
        profile = Path(tmp) / "profile"  # a private profile: conversions in parallel workers do not collide
        subprocess.run([program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                        "--convert-to", "pdf", "--outdir", tmp, str(source)],
                       capture_output=True, timeout=options.soffice_timeout, check=False)
        converted = Path(tmp) / "document.pdf"
        if not converted.exists():
            return None  # fall back to reading the XML
        pages: list[tuple[int, str]] = []
        start: int | None = 0
        step: StepResult = {"pages": [], "total": 0, "next": None, "error": None}
        while start is not None:
            step = extract_pdf(str(converted), start, 60.0, options)
            pages += step["pages"]
            start = step["next"]
    return {"pages": pages, "total": len(pages), "next": None, "error": None}


def extract_docx(path: str, start: int, budget_s: float, options: ExtractOptions) -> StepResult:
    """The Word document in one step: through LibreOffice when installed, else from its XML."""
    try:
        converted = _via_soffice(path, options)
    except (OSError, subprocess.TimeoutExpired):
        converted = None
    return converted if converted is not None else read_docx(path)


def _classify(exc: BaseException) -> Failure | None:
    if isinstance(exc, DocxError):
        return Failure("corrupt_document", f"The Word document cannot be read: {exc}.")
    if isinstance(exc, zipfile.BadZipFile | zipfile.LargeZipFile | EOFError):
        return Failure("corrupt_document", "The Word document is damaged (its ZIP package cannot be read); "
                                           "saving it again in Word usually helps.")
    return None


def _matches(probe: Probe) -> bool:
    return probe.is_zip and {"[Content_Types].xml", "word/document.xml"} <= probe.zip_names


WORD = Format(kind="docx", title="a Word document", noun="Word", matches=_matches, extract=extract_docx,
              classify=_classify)
