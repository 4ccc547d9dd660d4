"""Pages for formats that have none fixed in the file (Word, HTML, email): how their hits are cited.

A search hit cites one page (chunks never cross a page), so these formats need pages too. Where the file
says where its pages break, those breaks are used: Word's own ``lastRenderedPageBreak`` marks (the layout
Word last saved, so "page 7" is what the author saw), else explicit page and section breaks, HTML's CSS
``page-break-before/after: always`` (how SEC filings and court e-filings mark printed pages). Between such
breaks, or where there are none, a new page starts at the first paragraph end past ``TARGET`` characters
(about one printed page), and such a page is labelled by its paragraphs ("paragraphs 12-30") so a citation
still leads to the place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TARGET", "Block", "Pages", "paginate"]

TARGET = 3000  # characters: a printed page of dense legal text is 2,500-3,500


@dataclass
class Block:
    """A paragraph (or table row, list item, heading) of a document without fixed pages."""

    text: str
    page_before: bool = False  # the file breaks the page before this block
    continued: bool = False  # the same paragraph as the block before, split by a page break inside it
    notes: list[str] = field(default_factory=list)  # footnotes it refers to: printed at the end of its page


@dataclass
class Pages:
    """The result: (page, text) pairs and, for pages cut by size, how a citation names them."""

    pages: list[tuple[int, str]]
    labels: list[tuple[int, str]]


def _label(first: int, last: int) -> str:
    return f"paragraph {first}" if first == last else f"paragraphs {first}-{last}"


def paginate(blocks: list[Block], *, rendered: bool = False, target: int = TARGET,
             head: str = "", tail: str = "") -> Pages:
    """Cut ``blocks`` into pages. ``rendered``: the breaks are the real layout, so pages are never cut by size
    and need no label. ``head`` and ``tail`` go on the first and last page (headers, footers, endnotes)."""
    pages: list[tuple[int, str]] = []
    labels: list[tuple[int, str]] = []
    texts: list[str] = []
    notes: list[str] = []
    span: list[int] = []  # paragraph numbers on the current page
    paragraph = 0

    def flush() -> None:
        number = len(pages) + 1
        text = "\n\n".join(part for part in texts if part)
        if notes:
            text = f"{text}\n\n" + "\n".join(notes)
        pages.append((number, text.strip()))
        if not rendered and span:
            labels.append((number, _label(span[0], span[-1])))
        texts.clear()
        notes.clear()
        span.clear()

    size = 0
    for block in blocks:
        full = not rendered and not block.continued and size >= target
        if texts and (block.page_before or full):
            flush()
            size = 0
        if not block.continued or not span:
            paragraph += 0 if block.continued else 1
            span.append(max(paragraph, 1))
        texts.append(block.text)
        notes.extend(block.notes)
        size += len(block.text)
    if texts or not pages:
        flush()
    if head:
        pages[0] = (1, f"{head}\n\n{pages[0][1]}".strip())
    if tail:
        pages[-1] = (len(pages), f"{pages[-1][1]}\n\n{tail}".strip())
    return Pages(pages, labels)
