"""Page-aware chunking: passages never cross a page, so every search hit cites exactly one page.

Each passage also carries where it is in the page's text as stored (``char_start``/``char_end``, what
``GET /documents/{id}/text`` returns), so a search hit can be highlighted in the viewer and judged against
character spans although the passage itself is normalised (spaces collapsed).

Default size (1,200 characters, about 250-300 tokens) and overlap (200) follow common retrieval practice:
small enough for precise hits and snippets, large enough to keep a clause with its context. Cuts prefer a
paragraph break, then a sentence end, then a space, within the last half of the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ChunkSpan", "chunk_page", "chunk_page_spans", "chunk_pages", "normalize", "normalize_with_origin"]

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BREAKS = ("\n\n", ". ", "? ", "! ", "; ", "\n", " ")


def normalize(text: str) -> str:
    """Collapse runs of spaces and blank lines; keep paragraph breaks; drop form feeds."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


class ChunkSpan(tuple[int, str]):
    """``(page, passage)`` as before (it compares equal to the plain pair), plus ``char_start``/``char_end``: the
    passage's half-open range in the page's stored text. A tuple subclass so every caller of the pair keeps
    working unchanged."""

    char_start: int
    char_end: int

    def __new__(cls, page: int, text: str, char_start: int, char_end: int) -> ChunkSpan:
        obj = super().__new__(cls, (page, text))
        obj.char_start, obj.char_end = char_start, char_end
        return obj


def _sub(pattern: re.Pattern[str], repl: str, text: str, origin: list[int]) -> tuple[str, list[int]]:
    """``pattern.sub(repl, text)`` keeping, for every output character, the index of the input character it
    comes from (a replacement maps to its match's first character)."""
    out: list[str] = []
    where: list[int] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(text[last:match.start()])
        where.extend(origin[last:match.start()])
        out.append(repl)
        where.extend([origin[match.start()]] * len(repl))
        last = match.end()
    out.append(text[last:])
    where.extend(origin[last:])
    return "".join(out), where


_CRLF = re.compile(r"\r\n")
_CR_FF = re.compile(r"[\r\f]")
_LINE_EDGES = re.compile(r"^[^\S\n]+|[^\S\n]+$", re.MULTILINE)


def normalize_with_origin(text: str) -> tuple[str, list[int]]:
    """:func:`normalize`'s result and, per character of it, its index in ``text`` (the same steps, tracked)."""
    origin = list(range(len(text)))
    text, origin = _sub(_CRLF, "\n", text, origin)
    text, origin = _sub(_CR_FF, "\n", text, origin)
    text, origin = _sub(_SPACES, " ", text, origin)
    text, origin = _sub(_BLANK_LINES, "\n\n", text, origin)
    text, origin = _sub(_LINE_EDGES, "", text, origin)
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    return text[start:end], origin[start:end]


def chunk_page(text: str, size: int, overlap: int) -> list[str]:
    """Split one page's text into overlapping passages of at most ``size`` characters."""
    return [piece for _, _, piece in _cut(normalize(text), size, overlap)]


def chunk_page_spans(text: str, size: int, overlap: int) -> list[tuple[int, int, str]]:
    """``(char_start, char_end, passage)`` for each passage of one page, the range being in ``text`` itself."""
    normal, origin = normalize_with_origin(text)
    return [(origin[start], origin[end - 1] + 1, piece) for start, end, piece in _cut(normal, size, overlap)]


def _cut(text: str, size: int, overlap: int) -> list[tuple[int, int, str]]:
    """The passages of normalised ``text`` with their ranges in it."""
    if not text:
        return []
    if len(text) <= size:
        return [(0, len(text), text)]
    chunks: list[tuple[int, int, str]] = []
    start = 0
    length = len(text)
    while start < length:
        end = min(start + size, length)
        if end < length:
            window = text[start + size // 2 : end]
            for sep in _BREAKS:
                cut = window.rfind(sep)
                if cut != -1:
                    end = start + size // 2 + cut + len(sep)
                    break
        piece = text[start:end].strip()
        if piece:
            lead = len(text[start:end]) - len(text[start:end].lstrip())
            chunks.append((start + lead, start + lead + len(piece), piece))
        if end >= length:
            break
        nxt = max(end - overlap, start + 1)
        space = text.find(" ", nxt, end)  # begin the overlap on a word boundary
        start = space + 1 if space != -1 else nxt
    return chunks


def chunk_pages(pages: Iterable[tuple[int, str]], size: int, overlap: int) -> list[tuple[int, str]]:
    """``(page, passage)`` for every passage of every page, in reading order (each a :class:`ChunkSpan`)."""
    return [ChunkSpan(page, piece, start, end) for page, text in pages
            for start, end, piece in chunk_page_spans(text, size, overlap)]
