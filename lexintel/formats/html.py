"""HTML: the text a browser shows, in paragraphs, with scripts, styles and markup dropped, entities decoded.

Recognised by the WHATWG MIME-sniffing rule for HTML (the first tag, after whitespace, is one of the tags that
only HTML starts with: ``<!DOCTYPE HTML``, ``<html``, ``<head``, ``<body``, ``<p``, ``<div``, … or a comment;
not ``<script`` or ``<iframe``, which start injection payloads rather than documents),
so it is listed before plain text, which would otherwise take it. Read with the standard library's tolerant
``html.parser``: block elements end paragraphs, table rows become one line with cells joined by " | ", list
items get a bullet, ``<pre>`` keeps its spacing. Text in ``script``, ``style``, ``template``, ``noscript``,
``svg``, ``iframe`` and ``select`` is not shown as page text by browsers, so it is not indexed; the
``<title>`` opens the first page.

Pages: CSS page breaks (``page-break-before/after: always``, ``break-before/after: page``) where the file has
them, as SEC filings do; otherwise by size, labelled by paragraphs (:mod:`lexintel.formats.paginate`).
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.normalize import searchable
from lexintel.formats.paginate import Block, paginate
from lexintel.formats.text import TextDecodeError

__all__ = ["HTML", "decode_html", "html_blocks"]

_WS = b"\t\n\x0c\r "
# WHATWG's list less <script and <iframe: a file that starts with one is a payload, not a page to read (kept as
# plain text, so it is searchable and never treated as markup).
_STARTS = (b"<!doctype html", b"<html", b"<head", b"<h1", b"<div", b"<font", b"<table", b"<a", b"<style", b"<title",
           b"<b", b"<body", b"<br", b"<p", b"<!--")
_TERMINATOR = b" >"
_XML_DECL = re.compile(rb"^<\?xml[^>]{0,200}\?>")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)

_HIDDEN = {"script", "style", "template", "noscript", "svg", "math", "iframe", "select"}
_BLOCK = {"p", "div", "section", "article", "main", "header", "footer", "nav", "aside", "address", "blockquote",
          "figure", "figcaption", "form", "fieldset", "legend", "details", "summary", "center", "table", "caption",
          "thead", "tbody", "tfoot", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre",
          "body", "html"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
_BREAK_BEFORE = re.compile(r"(page-)?break-before\s*:\s*(always|page|left|right)", re.IGNORECASE)
_BREAK_AFTER = re.compile(r"(page-)?break-after\s*:\s*(always|page|left|right)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_LINE = "\x00"  # a <br> until spaces are collapsed (NUL is not whitespace, and is dropped from the text)


def _matches(probe: Probe) -> bool:
    head = probe.head[3:] if probe.head.startswith(codecs.BOM_UTF8) else probe.head
    head = head.lstrip(_WS)
    declared = _XML_DECL.match(head)  # XHTML: an XML declaration, then the html element
    if declared:
        head = head[declared.end():].lstrip(_WS)
    lowered = head[:16].lower()
    for start in _STARTS:
        if lowered.startswith(start) and (start == b"<!--" or head[len(start):len(start) + 1] in
                                          (b" ", b">", b"\t", b"\n", b"\r")):
            return not declared or start in (b"<!doctype html", b"<html")
    return False


def decode_html(data: bytes) -> str:
    """Decode as a browser would, simplified: BOM, then ``<meta charset>`` in the first KiB, then UTF-8, else
    Windows-1252 (what browsers assume for legacy Western pages)."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                       (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, "replace")
    found = _META_CHARSET.search(data[:1024])
    if found:
        try:
            return data.decode(codecs.lookup(found.group(1).decode("ascii")).name, "replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if b"\x00" in data[:8192]:
            raise TextDecodeError("the page holds binary data, not text") from None
        return data.decode("cp1252", "replace")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._line: list[str] = []
        self._cells: list[str] | None = None
        self._hidden = 0  # depth inside elements whose text is not shown
        self._in_title = False
        self._pre = 0
        self._after: list[bool] = []  # per open element: a page break follows it
        self._break_next = False

    def _flush(self) -> None:
        text = "".join(self._line)
        text = text.strip() if self._pre else _SPACES.sub(" ", text).strip()
        self._line = []
        if self._cells is not None:
            if text:
                self._cells.append(text)
            return
        if text:
            self.blocks.append(Block(text, page_before=self._break_next))
            self._break_next = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        style = next((v or "" for k, v in attrs if k == "style"), "")
        if tag == "title":
            self._in_title = True
        elif tag in _HIDDEN:
            self._hidden += 1
        if tag in _VOID:
            if tag == "br":
                self._line.append("\n" if self._pre else _LINE)
            elif tag == "hr":
                self._flush()
            if _BREAK_BEFORE.search(style) or _BREAK_AFTER.search(style):
                self._flush()
                self._break_next = True
            return
        if _BREAK_BEFORE.search(style):
            self._flush()
            self._break_next = True
        self._after.append(bool(_BREAK_AFTER.search(style)))
        if tag in _BLOCK or tag == "li":
            self._flush()
            if tag == "pre":
                self._pre += 1
            if tag == "li":
                self._line.append("• ")
        elif tag == "tr":
            self._flush()
            self._cells = []
        elif tag in {"td", "th"}:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _HIDDEN:
            self._hidden = max(self._hidden - 1, 0)
        if tag in _VOID:
            return
        if tag in _BLOCK or tag == "li" or tag in {"td", "th"}:
            self._flush()
            if tag == "pre":
                self._pre = max(self._pre - 1, 0)
        elif tag == "tr" and self._cells is not None:
            self._flush()
            cells, self._cells = self._cells, None
            if cells:
                self.blocks.append(Block(" | ".join(cells), page_before=self._break_next))
                self._break_next = False
        if self._after and self._after.pop():
            self._flush()
            self._break_next = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._hidden:
            self._line.append(data.replace(_LINE, ""))

    def close(self) -> None:
        super().close()
        if self._cells is not None:  # a table row left open at the end of the file
            self.handle_endtag("tr")
        self._flush()


def html_blocks(markup: str) -> tuple[list[Block], str]:
    """The paragraphs a browser shows for ``markup``, and the page title."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    for block in parser.blocks:
        block.text = "\n".join(line.strip() for line in block.text.split(_LINE))
    return parser.blocks, _SPACES.sub(" ", parser.title).strip()


def extract_html(path: str, start: int, budget_s: float, options: ExtractOptions) -> StepResult:
    """The whole page in one step; the title opens the first page."""
    with open(path, "rb") as fp:
        data = fp.read()
    blocks, title = html_blocks(decode_html(data))
    cut = paginate(blocks, head=title)
    pages = [(number, searchable(text)) for number, text in cut.pages]
    result: StepResult = {"pages": pages, "total": len(pages), "next": None, "error": None}
    if cut.labels:
        result["labels"] = cut.labels
    return result


def _classify(exc: BaseException) -> Failure | None:
    if isinstance(exc, TextDecodeError):
        return Failure("undecodable_text", f"Cannot read this HTML page: {exc}.")
    return None


HTML = Format(kind="html", title="an HTML page", noun="HTML", matches=_matches, extract=extract_html,
              classify=_classify)
