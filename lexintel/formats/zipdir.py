"""Entry names from a ZIP's central directory, read within a byte budget.

Why not :mod:`zipfile`: it parses the whole central directory (a hostile archive declares millions of entries)
and detection runs on the event loop for every upload that starts with ``PK``. Here at most the end record
area (64 KiB plus a little) and ``budget`` bytes of the directory are read; Office and OpenDocument files
keep their few dozen names well inside that. Anything unreadable yields the names found so far: detection
then falls back to "a ZIP", and :func:`lexintel.upload.archive.inspect` judges the archive properly.
"""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["member_names"]

_END = struct.Struct("<4s4H2LH")  # signature, disk numbers, entry counts, directory size, offset, comment length
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64 = struct.Struct("<4sQ2H2L4Q")  # ..., entries on disk, entries, directory size, directory offset
_ENTRY = struct.Struct("<4s6H3L5H2L")  # a central directory file header (46 bytes)
_MAX_TAIL = _END.size + 0xFFFF + _END64_LOCATOR.size + _END64.size  # the longest comment, ZIP64 records
_UTF8_NAME = 0x800


def member_names(path: Path, budget: int = 256 * 1024) -> frozenset[str]:
    """The names in the archive's central directory, as far as ``budget`` bytes of it reach."""
    try:
        with open(path, "rb") as fp:
            size = fp.seek(0, 2)
            tail_start = max(0, size - _MAX_TAIL)
            fp.seek(tail_start)
            tail = fp.read()
            found = _directory(tail, tail_start)
            if found is None:
                return frozenset()
            start, length = found
            fp.seek(start)
            return _names(fp.read(min(length, budget)))
    except (OSError, struct.error, ValueError):
        return frozenset()


def _directory(tail: bytes, tail_start: int) -> tuple[int, int] | None:
    """Where the central directory starts and how long it is, from the end record (ZIP64 aware)."""
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _END.size:
        return None
    length = _END.unpack_from(tail, at)[5]
    end_at = at
    # A ZIP64 end record, when there is one, sits just before its locator, which sits just before the end
    # record; writers add it for large archives even when the classic fields do not overflow.
    loc = at - _END64_LOCATOR.size
    if loc >= 0 and tail[loc : loc + 4] == b"PK\x06\x07":
        end64 = loc - _END64.size
        if end64 < 0 or tail[end64 : end64 + 4] != b"PK\x06\x06":
            return None
        length = _END64.unpack_from(tail, end64)[8]
        end_at = end64
    # Data prepended to the archive (a self-extractor stub) shifts every offset: trust where the directory
    # must end (just before the end record) over the offset it declares, as zipfile does.
    start = tail_start + end_at - length
    if start < 0:
        return None
    return start, length


def _names(directory: bytes) -> frozenset[str]:
    names: set[str] = set()
    pos = 0
    while pos + _ENTRY.size <= len(directory) and directory[pos : pos + 4] == b"PK\x01\x02":
        fields = _ENTRY.unpack_from(directory, pos)
        flags, name_len, extra_len, comment_len = fields[3], fields[10], fields[11], fields[12]
        raw = directory[pos + _ENTRY.size : pos + _ENTRY.size + name_len]
        if len(raw) < name_len:
            break  # the budget cut this entry short
        names.add(raw.decode("utf-8", "replace") if flags & _UTF8_NAME else raw.decode("cp437"))
        pos += _ENTRY.size + name_len + extra_len + comment_len
    return frozenset(names)
