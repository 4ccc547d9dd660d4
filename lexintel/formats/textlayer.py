"""Whether a page's text layer is worth indexing, and the same text with pdfminer's placeholders removed.

pdfminer writes ``(cid:N)`` for a glyph its font does not map to Unicode (no ``ToUnicode``, a subset font with
private codes). Indexed, those become words ("cid" found 50+ passages of one petition in issue 15), so they
are always removed. A page whose text is mostly such placeholders or other garbage (the replacement
character, private-use code points, control characters: removed too) has no *usable* text layer: like a page
with no text at all it is a candidate for OCR. A page is only sent to OCR if it draws something (an image, a
figure, a path): a blank separator page has nothing to read.
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["CID", "PageText", "assess", "strip_cids"]

CID = re.compile(r"\(cid:\d+\)")
_GARBAGE = re.compile("[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00-\x08\x0b\x0e-\x1f\x7f]")
_SPACE = re.compile(r"\s+")
_SPACED_OUT = re.compile(r"[ \t]+\n|\n{3,}")

MIN_CHARACTERS = 3  # fewer visible characters than this is no text layer ("7", a stray dash)
MOSTLY = 0.5  # placeholders and garbage above this share of all glyphs: unusable


class PageText(NamedTuple):
    """A page's text ready to store, and whether it can stand without OCR."""

    text: str
    usable: bool
    placeholders: int  # (cid:N) removed


def strip_cids(text: str) -> tuple[str, int]:
    """``text`` without ``(cid:N)`` placeholders (and without the blank lines they leave), and how many."""
    stripped, count = CID.subn("", text)
    if count:
        stripped = _SPACED_OUT.sub(lambda m: "\n\n" if m.group().count("\n") > 1 else "\n", stripped)
    return stripped, count


def assess(raw: str) -> PageText:
    """Strip placeholders and judge what is left: usable unless (almost) empty or mostly garbage."""
    text, placeholders = strip_cids(raw)
    visible = _SPACE.sub("", text)
    garbage = len(_GARBAGE.findall(visible))
    glyphs = len(visible) + placeholders
    readable = len(visible) - garbage
    usable = readable >= MIN_CHARACTERS and (placeholders + garbage) <= MOSTLY * glyphs
    if garbage:
        text = _GARBAGE.sub("", text)
    return PageText(text, usable, placeholders)
