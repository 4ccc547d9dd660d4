"""Hostile uploads against an app with auth on: limits while streaming, content sniffing, polyglots, names.

Every refusal is a 4xx JSON naming the problem, leaves no partial file behind, and the server stays healthy.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from lexintel.settings import Settings
from lexintel.upload.multipart import sanitize_filename
from tests.auth_helpers import Account, add_account
from tests.support import corpus, wait_for
from tests.support.pdfs import make_pdf, text_page

KB = 1024
BOUNDARY = "hostile-boundary-7f3a"


@pytest.fixture
def hostile(make_client: Callable[..., TestClient], settings: Settings) -> tuple[TestClient, Account, str, Path]:  # type: ignore[type-arg]
    s = settings.with_overrides(auth="on", max_file_bytes=64 * KB, max_request_bytes=160 * KB)
    alice = add_account(s, "alice")
    client = make_client(s)
    case_id = client.post("/cases", json={"name": "Hostile"}, headers=alice.headers).json()["id"]
    return client, alice, case_id, s.data_dir


def multipart(parts: list[tuple[bytes, bytes]]) -> bytes:
    """A multipart body built by hand, so file names can carry any bytes (NUL, RTL, paths)."""
    out = b""
    for raw_name, data in parts:
        out += (f"--{BOUNDARY}\r\n".encode() + b'Content-Disposition: form-data; name="files"; filename="' + raw_name
                + b'"\r\nContent-Type: application/pdf\r\n\r\n' + data + b"\r\n")
    return out + f"--{BOUNDARY}--\r\n".encode()


def post(client: TestClient, alice: Account, case_id: str, body: bytes | Iterator[bytes]) -> Any:  # type: ignore[type-arg]
    return client.post(f"/cases/{case_id}/documents", content=body,
                       headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})


def leftovers(data_dir: Path) -> list[str]:
    return os.listdir(data_dir / "incoming")


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "files").rglob("*") if p.is_file()]


def documents(client: TestClient, alice: Account, case_id: str) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    docs: list[dict[str, Any]] = client.get(f"/cases/{case_id}/documents", headers=alice.headers).json()
    return docs


def test_oversize_file_is_413_while_streaming_and_leaves_nothing(hostile: Any) -> None:
    client, alice, case_id, data_dir = hostile

    def body() -> Iterator[bytes]:  # no Content-Length: the limit must bite while the bytes arrive
        yield f"--{BOUNDARY}\r\n".encode() + b'Content-Disposition: form-data; name="files"; filename="big.txt"\r\n\r\n'
        for _ in range(100):
            yield b"a" * KB

    resp = post(client, alice, case_id, body())
    assert resp.status_code == 413 and resp.json()["code"] == "file_too_large"
    assert "big.txt" in resp.json()["detail"]
    assert leftovers(data_dir) == [] and stored_files(data_dir) == []
    assert documents(client, alice, case_id) == []


def test_oversize_request_is_413_and_removes_earlier_files(hostile: Any) -> None:
    client, alice, case_id, data_dir = hostile
    parts = [(f"part{n}.txt".encode(), b"b" * (60 * KB)) for n in range(3)]  # each fits, together they don't
    resp = post(client, alice, case_id, multipart(parts))
    assert resp.status_code == 413 and resp.json()["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:
        data = multipart(parts)
        for i in range(0, len(data), 8 * KB):
            yield data[i:i + 8 * KB]

    resp = post(client, alice, case_id, chunks())  # same, streamed without Content-Length
    assert resp.status_code == 413 and resp.json()["code"] == "request_too_large"
    assert leftovers(data_dir) == [] and stored_files(data_dir) == []
    assert documents(client, alice, case_id) == []
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(("name", "data"), [
    ("contract.pdf", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),  # a PNG named .pdf, sent as application/pdf
    ("notes.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4),  # an executable named .txt
    ("empty.pdf", b""),
])
def test_wrong_magic_is_refused_by_content_not_name(hostile: Any, name: str, data: bytes) -> None:
    client, alice, case_id, data_dir = hostile
    resp = post(client, alice, case_id, multipart([(name.encode(), data)]))
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["code"] in {"unsupported_type", "empty_file"}
    assert name in resp.json()["detail"]
    assert leftovers(data_dir) == [] and stored_files(data_dir) == []


def test_polyglots_are_typed_by_their_first_magic(hostile: Any) -> None:
    client, alice, case_id, _ = hostile
    inner = BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("payload.txt", "unpack me")
    pdf_zip = make_pdf([text_page("Polyglot page")]) + inner.getvalue()  # a PDF with a ZIP appended
    gif_zip = b"GIF89a\x01\x00\x01\x00\x80\x00\x00" + inner.getvalue()  # GIFAR-style: image header + archive
    html_pdf = b"<script>alert(document.cookie)</script>\n" + b"x" * 2000  # HTML named .pdf
    resp = post(client, alice, case_id, multipart([(b"poly.pdf", pdf_zip), (b"gifar.zip", gif_zip),
                                                   (b"page.pdf", html_pdf)]))
    assert resp.status_code == 202, resp.text

    def settled() -> list[dict[str, Any]] | None:
        docs = documents(client, alice, case_id)
        return docs if docs and all(d["status"] in ("indexed", "failed") for d in docs) else None

    by_name = {d["filename"]: d for d in wait_for(settled, timeout=60, what="documents settled")}
    assert set(by_name) == {"poly.pdf", "gifar.zip", "page.pdf"}  # the appended ZIP was never unpacked
    assert by_name["poly.pdf"]["kind"] == "pdf" and by_name["poly.pdf"]["status"] == "indexed"
    assert by_name["gifar.zip"]["status"] == "failed" and by_name["gifar.zip"]["error_code"] == "unsupported_type"
    assert by_name["page.pdf"]["kind"] == "text"  # stored as text to search, never served as HTML or PDF
    text = client.get(f"/documents/{by_name['page.pdf']['id']}/text", headers=alice.headers)
    assert text.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(("raw", "shown"), [
    (b"../../../../etc/passwd", "passwd"),
    (b"..\\..\\windows\\system32\\evil.txt", "evil.txt"),
    (b"C:\\Users\\victim\\brief.txt", "brief.txt"),
    ("invoice\u202etxt.exe".encode(), "invoicetxt.exe"),  # RTL override: would display as invoiceexe.txt
    ("a\u200bb\u2066c\u2028d.txt".encode(), "abcd.txt"),  # zero-width, isolate and line-separator characters
    (b"nul\x00byte.txt", "nulbyte.txt"),
    (b"..", "unnamed"),
    (b"x" * 1000 + b".txt", "x" * 255),
    (b"y" * 20000 + b".txt", None),  # longer than the parser's header limit: refused whole
])
def test_hostile_names_are_display_metadata_only(hostile: Any, raw: bytes, shown: str | None) -> None:
    client, alice, case_id, data_dir = hostile
    resp = post(client, alice, case_id, multipart([(raw, b"plain text of a hostile name\n")]))
    assert resp.status_code in (202, 400), resp.text
    if resp.status_code == 400:  # the parser may refuse a header with a NUL, or an enormous one, outright
        assert resp.json()["code"] == "bad_multipart" and (b"\x00" in raw or shown is None)
        assert leftovers(data_dir) == [] and stored_files(data_dir) == []
        return
    (doc,) = documents(client, alice, case_id)
    assert doc["filename"] == shown
    files = stored_files(data_dir)
    assert [p.name for p in files] == [doc["id"]]  # stored under the generated id, inside files/
    assert files[0].resolve().is_relative_to((data_dir / "files").resolve())
    assert "storage_path" not in doc


def test_sanitize_filename_rules() -> None:
    assert sanitize_filename(None) == "unnamed"
    assert sanitize_filename("  .hidden ") == "hidden"
    assert sanitize_filename("a/b/\u202ec.pdf") == "c.pdf"
    assert sanitize_filename("\u2029report.pdf\r\n") == "report.pdf"
    assert len(sanitize_filename("é" * 1000)) == 255


def test_real_pdf_still_goes_through(hostile: Any) -> None:
    client, alice, case_id, _ = hostile
    small = min((p for p in corpus("").parent.glob("*.pdf")), key=lambda p: p.stat().st_size)
    if small.stat().st_size > 60 * KB:
        pytest.skip("no corpus PDF under the test's 64 KiB limit")
    resp = post(client, alice, case_id, multipart([(small.name.encode(), small.read_bytes())]))
    assert resp.status_code == 202, resp.text
