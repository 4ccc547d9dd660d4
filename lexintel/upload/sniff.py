"""Decide a file's type from its content, never from its name or the client's content-type.

Also decodes plain text, shared by the upload check (first 8 KiB) and the extraction worker (whole file).
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Kind", "TextDecodeError", "decode_text", "sniff"]

Kind = Literal["pdf", "zip", "text"]
_BOMS_UTF16 = (b"\xff\xfe", b"\xfe\xff")
# Control characters other than tab, newline, carriage return and form feed mark binary data.
_CONTROL = bytes(set(range(32)) - {9, 10, 12, 13}) + b"\x7f"


class TextDecodeError(ValueError):
    """The bytes are not text we can read; the message says where and why."""


def _looks_binary(data: bytes) -> bool:
    if not data:
        return False
    controls = sum(data.count(bytes([c])) for c in _CONTROL)
    return b"\x00" in data or controls / len(data) > 0.01


def sniff(head: bytes) -> Kind | None:
    """The type of a file from its first bytes, or None when it is none we accept."""
    # ZIP first: an archive that stores (does not compress) a PDF has "%PDF-" within its first KiB too.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if b"%PDF-" in head[:1024]:  # the PDF spec allows junk before the header, within the first 1024 bytes
        return "pdf"
    if head.startswith(_BOMS_UTF16):
        return "text"
    if _looks_binary(head):
        return None
    try:
        # The head may end inside a multi-byte character: allow a cut-off tail.
        head.decode("utf-8") if len(head) < 8192 else head[:-4].decode("utf-8")
    except UnicodeDecodeError:
        return "text"  # no NULs, few controls: legacy 8-bit text (decoded as Latin-1)
    return "text"


def decode_text(data: bytes) -> str:
    """Decode a whole text file: UTF-16 by BOM, else UTF-8 (BOM optional), else Latin-1 if it is text."""
    if data.startswith(_BOMS_UTF16):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise TextDecodeError(f"invalid UTF-16 at byte {exc.start}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _looks_binary(data):
            raise TextDecodeError(
                f"undecodable bytes at offset {exc.start}: the file is binary, not UTF-8 or Latin-1 text"
            ) from None
        return data.decode("latin-1")
