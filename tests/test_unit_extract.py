"""Extraction outcomes through ``extract_step``, in this process (no pool, no server): text comes back page by
page, and files that cannot be read come back as data, a stable error code plus a reason a person can act on.

Every file is built here: damaged PDFs from a valid one, encrypted ones with pypdf, undecodable text by hand.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pypdf
import pytest

from lexintel.pipeline.extract import extract_step
from tests.support.pdfs import make_pdf, text_page

PY_EXCEPTION = re.compile(r"\b(?:[A-Z]\w*(?:Error|Exception|Warning)|PSEOF|Traceback)\b")
GOOD = make_pdf([text_page("Lease agreement", "between the parties"), text_page("Second page"),
                 text_page("Third page", "signed")])


def run(tmp_path: Path, data: bytes, kind: str = "pdf", name: str = "file", start: int = 0,
        budget: float = 30.0) -> dict[str, Any]:
    path = tmp_path / name
    path.write_bytes(data)
    return extract_step(str(path), kind, start, budget, 0, None)  # memory_mb=0: never cap the test process


def encrypted(user_password: str, algorithm: str) -> bytes:
    writer = pypdf.PdfWriter()
    writer.append(pypdf.PdfReader(io.BytesIO(GOOD)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def assert_failed(step: dict[str, Any], code: str) -> str:
    assert step["pages"] == [] and step["next"] is None
    assert step["error"] is not None, step
    got, reason = step["error"]
    assert got == code, reason
    assert reason[0].isupper() and reason.endswith("."), reason  # a sentence
    return str(reason)


def test_a_valid_pdf_comes_back_page_by_page(tmp_path: Path) -> None:
    step = run(tmp_path, GOOD)
    assert step["error"] is None and step["next"] is None and step["total"] == 3
    assert [n for n, _ in step["pages"]] == [1, 2, 3]
    assert "Lease agreement" in step["pages"][0][1] and "between the parties" in step["pages"][0][1]
    assert "signed" in step["pages"][2][1]


def test_a_small_budget_returns_pages_in_steps_that_add_up_to_the_whole(tmp_path: Path) -> None:
    whole = run(tmp_path, GOOD)["pages"]
    pages: list[tuple[int, str]] = []
    start: int | None = 0
    steps = 0
    while start is not None:
        step = run(tmp_path, GOOD, start=start, budget=0.0)
        assert step["error"] is None and step["total"] == 3 and step["pages"], step
        pages += step["pages"]
        start = step["next"]
        steps += 1
    assert pages == whole and steps == 3  # at least one page per step, so there is always progress


@pytest.mark.parametrize("damage", [
    pytest.param(lambda good: good[: len(good) // 3], id="truncated"),
    pytest.param(lambda _: b"%PDF-1.7\n1 0 obj << /Type /Catalog >> this is not really a PDF\n%%EOF\n", id="garbage"),
    pytest.param(lambda _: b"%PDF-1.4\n" + bytes(range(256)) * 12, id="binary-after-header"),
    pytest.param(lambda good: good.replace(b"/Root", b"/Rote"), id="no-root"),
    pytest.param(lambda _: b"", id="empty"),
])
def test_a_damaged_pdf_is_corrupt_pdf(tmp_path: Path, damage: Any) -> None:
    reason = assert_failed(run(tmp_path, damage(GOOD)), "corrupt_pdf")
    assert "damaged" in reason


def test_a_damaged_pdfs_reason_names_no_python_exception(tmp_path: Path) -> None:
    reason = assert_failed(run(tmp_path, GOOD[: len(GOOD) // 3]), "corrupt_pdf")
    assert not PY_EXCEPTION.search(reason), reason


@pytest.mark.parametrize("algorithm", ["AES-128", "RC4-40", "AES-256"])
def test_a_password_protected_pdf_is_encrypted_pdf(tmp_path: Path, algorithm: str) -> None:
    reason = assert_failed(run(tmp_path, encrypted("s3cret", algorithm)), "encrypted_pdf")
    assert "password" in reason and not PY_EXCEPTION.search(reason), reason


def test_a_pdf_encrypted_without_a_user_password_opens(tmp_path: Path) -> None:
    step = run(tmp_path, encrypted("", "AES-128"))
    assert step["error"] is None and step["total"] == 3
    assert "Lease agreement" in step["pages"][0][1]


@pytest.mark.parametrize(("data", "words"), [
    (b"\x00\x01\x02\xff\xfe\x00" * 100, "binary"),  # NULs and invalid UTF-8: not text at all
    (b"\xff\xfeA\x00\x00\xd8", "UTF-16"),  # a UTF-16 BOM, then a lone surrogate
])
def test_undecodable_text_is_undecodable_text(tmp_path: Path, data: bytes, words: str) -> None:
    reason = assert_failed(run(tmp_path, data, kind="text"), "undecodable_text")
    assert words in reason and not PY_EXCEPTION.search(reason), reason


def test_text_files_decode_normalise_and_split_pages_at_form_feeds(tmp_path: Path) -> None:
    step = run(tmp_path, "Caf\u00e9 \ufb01le\r\nline two\fpage two".encode(), kind="text")
    assert step["error"] is None and step["next"] is None
    assert step["pages"] == [(1, "Café file\nline two"), (2, "page two")]  # "ﬁ" ligature -> "fi" (NFKC)
    latin = run(tmp_path, "r\u00e9sum\u00e9".encode("latin-1"), kind="text", name="latin.txt")
    assert latin["error"] is None and latin["pages"] == [(1, "résumé")]
    utf16 = run(tmp_path, "\ufeffpage one".encode("utf-16-le"), kind="text", name="u16.txt")
    assert utf16["pages"] == [(1, "page one")]
