"""Page-aware chunking: passages never cross a page, so every search hit cites exactly one page.

Default size (1,200 characters, about 250-300 tokens) and overlap (200) follow common retrieval practice:
small enough for precise hits and snippets, large enough to keep a clause with its context. Cuts prefer a
paragraph break, then a sentence end, then a space, within the last half of the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["chunk_page", "chunk_pages", "normalize"]

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BREAKS = ("\n\n", ". ", "? ", "! ", "; ", "\n", " ")


def normalize(text: str) -> str:
    """Collapse runs of spaces and blank lines; keep paragraph breaks; drop form feeds."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def chunk_page(text: str, size: int, overlap: int) -> list[str]:
    """Split one page's text into overlapping passages of at most ``size`` characters."""
    text = normalize(text)
    if not text:
        return []
    if len(text) <= size:
        return [text]
    chunks: list[str] = []
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
            chunks.append(piece)
        if end >= length:
            break
        nxt = max(end - overlap, start + 1)
        space = text.find(" ", nxt, end)  # begin the overlap on a word boundary
        start = space + 1 if space != -1 else nxt
    return chunks


def chunk_pages(pages: Iterable[tuple[int, str]], size: int, overlap: int) -> list[tuple[int, str]]:
    """``(page, passage)`` for every passage of every page, in reading order."""
    return [(page, piece) for page, text in pages for piece in chunk_page(text, size, overlap)]
