"""ZIP inspection (``archive.inspect``) on real archives built here with :mod:`zipfile`: which archives are
refused whole (with which code), which entries are skipped up front, and what is planned for extraction.

Only the central directory is read at this stage, so these are fast; what inflating finds is
tests/test_zip.py's job.
"""

from __future__ import annotations

import os
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from lexintel.upload.archive import ArchiveRefused, Limits, Plan, inspect

PDFISH = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 20


def build(tmp_path: Path, entries: list[tuple[str, bytes]], *, compression: int = zipfile.ZIP_DEFLATED,
          name: str = "a.zip") -> Path:
    """An archive of (name, data) entries; a name ending in '/' is a directory. Duplicates are on purpose."""
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", compression) as zf:
            for entry, data in entries:
                zf.writestr(zipfile.ZipInfo(entry) if entry.endswith("/") else entry, data)
    return path


def patch(path: Path, old: bytes, new: bytes) -> Path:
    """Rewrite bytes of a finished archive (names are stored twice: local header and central directory)."""
    data = path.read_bytes()
    assert old in data and len(old) == len(new)
    path.write_bytes(data.replace(old, new))
    return path


def mark_encrypted(path: Path, entry: str) -> Path:
    """Set the 'encrypted' flag bit of ``entry`` in the central directory, as a password-protected ZIP has.
    (zipfile cannot write encrypted entries; inspection only reads the flag.)"""
    data = bytearray(path.read_bytes())
    at = 0
    while (at := data.find(b"PK\x01\x02", at)) >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == entry.encode():
            flags = struct.unpack_from("<H", data, at + 8)[0]
            struct.pack_into("<H", data, at + 8, flags | 0x1)
        at += 4
    path.write_bytes(bytes(data))
    return path


def refusal(path: Path, limits: Limits | None = None) -> ArchiveRefused:
    with pytest.raises(ArchiveRefused) as info:
        inspect(path, limits or Limits())
    assert info.value.detail and info.value.detail[0].isupper()  # a sentence for the batch log
    return info.value


def planned(plan: Plan) -> list[str]:
    return [info.filename for info in plan.entries]


def test_a_plain_archive_is_planned_in_archive_order(tmp_path: Path) -> None:
    entries = [("b.pdf", PDFISH), ("docs/a.txt", b"notes"), ("c.pdf", os.urandom(4000))]
    plan = inspect(build(tmp_path, entries), Limits())
    assert planned(plan) == ["b.pdf", "docs/a.txt", "c.pdf"]
    assert plan.skipped == []
    assert plan.total_entries == 3 and plan.declared_bytes == sum(len(d) for _, d in entries)


def test_directories_duplicates_and_encrypted_entries_are_skipped_with_reasons(tmp_path: Path) -> None:
    path = build(tmp_path, [("docs/", b""), ("docs/one.pdf", PDFISH), ("docs/one.pdf", b"second copy"),
                            ("locked.pdf", PDFISH), ("two.txt", b"text")])
    plan = inspect(mark_encrypted(path, "locked.pdf"), Limits())
    assert planned(plan) == ["docs/one.pdf", "two.txt"]
    assert plan.entries[0].file_size == len(PDFISH)  # the first of the duplicates wins
    assert [(s.name, s.code) for s in plan.skipped] == [
        ("docs/", "directory"), ("docs/one.pdf", "duplicate_name"), ("locked.pdf", "encrypted_entry")]
    assert all(s.detail for s in plan.skipped)
    assert plan.total_entries == 5


def test_the_entry_limit_is_inclusive(tmp_path: Path) -> None:
    entries = [(f"f{i}.txt", b"x") for i in range(5)]
    assert len(inspect(build(tmp_path, entries), Limits(max_entries=5)).entries) == 5
    err = refusal(build(tmp_path, [*entries, ("d/", b"")], name="b.zip"), Limits(max_entries=5))
    assert err.code == "zip_too_many_entries" and "6" in err.detail and "5" in err.detail  # directories count


def test_the_declared_total_is_capped(tmp_path: Path) -> None:
    limits = Limits(max_total_bytes=1000)
    exactly = build(tmp_path, [("a.bin", b"a" * 600), ("b.bin", b"b" * 400)], compression=zipfile.ZIP_STORED)
    assert inspect(exactly, limits).declared_bytes == 1000
    over = build(tmp_path, [("a.bin", b"a" * 600), ("b.bin", b"b" * 401)], compression=zipfile.ZIP_STORED,
                 name="over.zip")
    assert refusal(over, limits).code == "zip_too_large"


def test_an_entry_compressed_beyond_the_ratio_is_a_bomb_unless_small(tmp_path: Path) -> None:
    small = build(tmp_path, [("zeros.txt", bytes(50 * 1024))])  # ~1000:1 but under the 100 KiB grace
    assert planned(inspect(small, Limits())) == ["zeros.txt"]
    bomb = build(tmp_path, [("ok.pdf", PDFISH), ("zeros.txt", bytes(400 * 1024))], name="bomb.zip")
    err = refusal(bomb, Limits())
    assert err.code == "zip_ratio_exceeded" and "zeros.txt" in err.detail
    relaxed = Limits(max_ratio=10_000.0)
    assert planned(inspect(bomb, relaxed)) == ["ok.pdf", "zeros.txt"]


@pytest.mark.parametrize("hostile", [
    "../evil.txt", "docs/../../evil.txt", "..\\evil.txt", "docs\\..\\..\\evil.txt", "/etc/passwd",
    "\\windows\\evil.txt", "C:/evil.txt", "c:\\evil.txt", "../up-dir/",
])
def test_a_hostile_name_refuses_the_whole_archive(tmp_path: Path, hostile: str) -> None:
    path = build(tmp_path, [("fine.pdf", PDFISH), (hostile, b"payload")])
    err = refusal(path)
    assert err.code == "zip_unsafe_name" and "refused" in err.detail


def test_a_nul_byte_in_a_name_refuses_the_archive_and_is_shown_escaped(tmp_path: Path) -> None:
    path = patch(build(tmp_path, [("fine.pdf", PDFISH), ("evilXname.pdf", b"payload")]), b"evilX", b"evil\x00")
    err = refusal(path)
    assert err.code == "zip_unsafe_name"
    assert "\x00" not in err.detail and "evil\\\\0name.pdf" in err.detail


def test_names_that_only_look_odd_are_fine(tmp_path: Path) -> None:
    names = ["..hidden.txt", "a..b.pdf", "dir.../x.txt", "Ünïcode §1.txt", "c/d:e.txt"]
    plan = inspect(build(tmp_path, [(n, b"text") for n in names]), Limits())
    assert planned(plan) == names


@pytest.mark.parametrize("data", [b"", b"not a zip at all", b"PK\x03\x04" + bytes(200)])
def test_an_unreadable_archive_is_refused_as_bad(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.zip"
    path.write_bytes(data)
    assert refusal(path).code == "bad_archive"


def test_a_truncated_archive_is_refused_as_bad(tmp_path: Path) -> None:
    whole = build(tmp_path, [("a.pdf", PDFISH), ("b.txt", b"notes" * 100)]).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) - 30])  # the end-of-central-directory record is gone
    assert refusal(cut).code == "bad_archive"
