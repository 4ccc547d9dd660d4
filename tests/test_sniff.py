"""Type by content: magic bytes and text decoding, whatever the name says (through the format registry)."""

from __future__ import annotations

import io
import zipfile

import pytest

from lexintel import formats
from lexintel.formats.text import TextDecodeError, decode_text
from tests.support import corpus


def kind_of(head: bytes) -> str | None:
    found = formats.detect(head)
    return found.kind if found else None


def test_a_stored_zip_holding_a_pdf_is_a_zip() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("a.pdf", corpus("minimal-document").read_bytes())
    head = buf.getvalue()[:8192]
    assert b"%PDF-" in head[:1024]
    assert kind_of(head) == "zip"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"\r\n\r\njunk before the header %PDF-1.4\n", "pdf"),
        (b"PK\x05\x06" + b"\x00" * 18, "zip"),
        ("Schriftsatz über Räumung\n".encode(), "text"),
        ("déclaration".encode("latin-1"), "text"),
        ("\ufeffBOM text".encode("utf-16"), "text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(64)), None),  # the signature without its IHDR chunk
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", None),
        (b"\n  <!DOCTYPE html>\n<html><body>x</body></html>", "html"),
        (b"\xef\xbb\xbf<html lang=en>", "html"),
        (b"<?xml version='1.0'?>\n<html xmlns='http://www.w3.org/1999/xhtml'>", "html"),
        (b"<?xml version='1.0'?>\n<invoice/>", "text"),  # XML that is not XHTML stays text
        (b"<p>A fragment", "html"),
        (b"<pre>not one of the tags only HTML starts with", "text"),
        (b"<script>alert(document.cookie)</script>", "text"),  # a payload, not a page
        (b"1 < 2 and <html> later", "text"),
        (b"From: Alice <a@example.com>\r\nTo: Bob <b@example.com>\r\nSubject: Lease\r\n\r\nHello", "eml"),
        (b"Received: from mx\n\tby host\nFrom: a@example.com\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nx", "eml"),
        (b"From: the desk of the clerk\nRe: the lease\n\nA memo, not an email.", "text"),
        (b"Subject: no sender\nDate: today\n\nbody", "text"),
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 50, None),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
    ],
)
def test_sniff(head: bytes, kind: str | None) -> None:
    assert kind_of(head) == kind


def test_decode_text_utf8_latin1_and_binary() -> None:
    assert decode_text("\ufeffvertrag".encode()) == "vertrag"
    assert decode_text("Genève".encode("latin-1")) == "Genève"
    with pytest.raises(TextDecodeError, match="offset 12"):
        decode_text(b"hello world \xff\x00\x00\x01\x02" * 10)
