"""Opening a PDF for pdfminer the way viewers do: from its ``%PDF-`` header, and counting its real pages.

*Junk before the header.* The PDF format allows bytes before ``%PDF-`` within the first 1024 (mail gateways and
court e-filing systems add them), and the byte offsets in the file count from the header. pdfminer counts
from byte 0, so a file with a classic cross-reference table still opens through its fallback scan, but one
with a cross-reference *stream* (PDF 1.5+) has no ``trailer`` for that scan to find and fails with "No /Root
object!". :class:`HeaderView` shows pdfminer the file as starting at the header; if a writer counted its
offsets from byte 0 after all, the file is opened a second time as it is.

*Page count.* ``/Count`` in the page tree is what the file claims (one real file claims 213,804,087 pages
for 1); progress needs the pages that will actually be read, so :func:`count_pages` walks ``/Kids`` the way
pdfminer's page iterator does, touching only the page-tree dictionaries (not contents or resources).
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO, cast

__all__ = ["HeaderView", "count_pages", "header_offset", "open_document"]

HEADER_WINDOW = 1024


def header_offset(path: str) -> int:
    """Where ``%PDF-`` starts within the first 1024 bytes (0 when it is not there: the file is read as is)."""
    with open(path, "rb") as fp:
        head = fp.read(HEADER_WINDOW + 5)
    found = head.find(b"%PDF-")
    return found if 0 < found <= HEADER_WINDOW else 0


class HeaderView(io.RawIOBase):
    """A read-only view of a file that starts ``offset`` bytes in: position 0 is the ``%PDF-`` header."""

    def __init__(self, raw: io.FileIO, offset: int) -> None:
        super().__init__()
        self._raw = raw
        self._offset = offset
        raw.seek(offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._raw.readinto(buffer) or 0

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = max(pos, 0) + self._offset
        return max(self._raw.seek(pos, whence) - self._offset, 0)

    def tell(self) -> int:
        return self._raw.tell() - self._offset

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_at(path: str, offset: int) -> tuple[BinaryIO, Any]:
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser

    raw = io.FileIO(path, "rb")
    fp = cast(BinaryIO, io.BufferedReader(HeaderView(raw, offset)) if offset else io.BufferedReader(raw))
    try:
        return fp, PDFDocument(PDFParser(fp))
    except BaseException:
        fp.close()
        raise


def open_document(path: str) -> tuple[BinaryIO, Any]:
    """An open file and its ``PDFDocument``, read from the header; the caller closes the file."""
    offset = header_offset(path)
    if not offset:
        return _open_at(path, 0)
    try:
        return _open_at(path, offset)
    except Exception as from_header:
        try:  # offsets counted from byte 0 after all
            return _open_at(path, 0)
        except Exception:
            raise from_header from None


def count_pages(document: Any) -> int:
    """The pages pdfminer's ``PDFPage.create_pages`` will yield, without building them (``/Count`` ignored).

    The same walk: depth first through ``/Kids``, a node visited once (a loop is not followed twice), a
    ``/Pages`` node with ``/Kids`` descended into, a ``/Page`` counted; with no page tree, every page object in
    the cross-reference table. Where the tree is malformed in a way pdfminer stops on, so does this count
    (the same error, so it is reported the same way).
    """
    from pdfminer.pdfpage import LITERAL_PAGE, LITERAL_PAGES
    from pdfminer.pdftypes import PDFObjectNotFound, dict_value, list_value

    visited: set[Any] = set()
    count = 0
    stack: list[Any] = []
    if "Pages" in document.catalog:
        stack.append(document.catalog["Pages"])
    while stack:
        obj = stack.pop()
        if isinstance(obj, int):
            object_id, node = obj, dict_value(document.getobj(obj))
        else:
            object_id, node = obj.objid, dict_value(obj)
        if object_id in visited:
            continue
        visited.add(object_id)
        kind = node.get("Type") or node.get("type")
        if kind is LITERAL_PAGES and "Kids" in node:
            stack.extend(reversed(list_value(node["Kids"])))
        elif kind is LITERAL_PAGE:
            count += 1
    if count:
        return count
    for xref in document.xrefs:  # pdfminer's fallback when the tree gives no page
        for objid in xref.get_objids():
            try:
                obj = document.getobj(objid)
            except PDFObjectNotFound:
                continue
            if isinstance(obj, dict) and obj.get("Type") is LITERAL_PAGE:
                count += 1
    return count
