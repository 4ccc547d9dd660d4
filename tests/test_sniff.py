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
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
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
