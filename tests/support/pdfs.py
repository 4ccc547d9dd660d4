"""PDFs built in memory for tests and the fault suite: text pages, slow pages, decompression bombs."""

from __future__ import annotations

import zlib

__all__ = ["bomb_pdf", "make_pdf", "slow_pdf", "text_page", "text_pdf"]


def assemble(objects: list[bytes]) -> bytes:
    """Number the objects 1..n, write them with a correct xref table and trailer (object 1 is the catalog)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def stream_object(data: bytes, *, flate: bool) -> bytes:
    flt = b" /Filter /FlateDecode" if flate else b""
    return b"<< /Length %d%s >>\nstream\n" % (len(data), flt) + data + b"\nendstream"


def _pages(streams: list[bytes]) -> list[bytes]:
    """Catalog, page tree, Helvetica as F1, then a page and its (already encoded) content stream per entry."""
    page_ids = [4 + 2 * i for i in range(len(streams))]
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(streams)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, stream in zip(page_ids, streams, strict=True):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(stream)
    return objects


def make_pdf(contents: list[bytes], *, compress: bool = True) -> bytes:
    """A valid PDF with one page per content stream (Helvetica as F1), with a correct xref table."""
    streams = [stream_object(zlib.compress(c, 9) if compress else c, flate=compress) for c in contents]
    return assemble(_pages(streams))


def text_page(*lines: str) -> bytes:
    """A content stream showing ``lines`` top to bottom."""
    ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
    for line in lines:
        safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        ops.append(b"(%s) Tj T*" % safe)
    ops.append(b"ET")
    return b"\n".join(ops)


def slow_pdf(operations: int = 2_000_000) -> bytes:
    """One page whose (compressed, small) content stream holds millions of text operators: pdfminer spends
    minutes on it, like the hanging files in its issue tracker."""
    return make_pdf([b"BT /F1 1 Tf " + b"1 0 Td (x) Tj " * operations + b"ET"])


def bomb_pdf(inflated_mb: int = 1024) -> bytes:
    """One page whose content stream inflates to ``inflated_mb`` MiB of spaces (pdfminer inflates it whole)."""
    compressor = zlib.compressobj(9)
    block = b" " * (1024 * 1024)
    data = b"".join(compressor.compress(block) for _ in range(inflated_mb)) + compressor.flush()
    return assemble(_pages([stream_object(data, flate=True)]))


def text_pdf(pages: int, tag: str) -> bytes:
    """``pages`` pages of contract-like text (about 40 lines each), ``tag`` in every line: a realistic load."""
    contents = []
    for n in range(1, pages + 1):
        ops = [b"BT /F1 10 Tf 50 760 Td 12 TL"]
        for line in range(40):
            ops.append(b"(%s page %d clause %d: the lessee shall indemnify the lessor against all claims.) Tj T*"
                       % (tag.encode(), n, line))
        ops.append(b"ET")
        contents.append(b"\n".join(ops))
    return make_pdf(contents)
