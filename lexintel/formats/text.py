"""Plain text: UTF-16 by BOM, UTF-8 (BOM optional), else Latin-1 when the bytes look like text at all.

The same decoding judges an upload's first 8 KiB and reads the whole file in the worker, so a file accepted
at upload fails later only when binary bytes hide deeper in it (with the offset in the reason). Form feeds
separate pages, as in the text files other tools export.
"""

from __future__ import annotations

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.normalize import searchable

__all__ = ["TEXT", "TextDecodeError", "decode_text"]

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


def _matches(probe: Probe) -> bool:
    """UTF-16 by BOM, or bytes without NULs and with few control characters (UTF-8 or legacy 8-bit text)."""
    return probe.head.startswith(_BOMS_UTF16) or not _looks_binary(probe.head)


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


def extract_text(path: str, start: int, budget_s: float, options: ExtractOptions) -> StepResult:
    """The whole file in one step (text is cheap to read); pages split on form feeds."""
    with open(path, "rb") as fp:
        data = fp.read()
    parts = searchable(decode_text(data)).replace("\r\n", "\n").split("\f")
    pages = [(i + 1, part) for i, part in enumerate(parts)]
    return {"pages": pages, "total": len(pages), "next": None, "error": None}


def classify(exc: BaseException) -> Failure | None:
    """Our own decoding errors already read as sentences."""
    if isinstance(exc, TextDecodeError):
        return Failure("undecodable_text", f"Cannot read text: {exc}.")
    return None


TEXT = Format(
    kind="text",
    title="a plain-text file",
    noun="plain-text",
    matches=_matches,
    extract=extract_text,
    classify=classify,
)
