"""Overlapping-entry ZIP bombs (issue 13 item 2, CVE-2024-0450 style) are refused before anything is inflated.

The bombs are real archives built byte by byte (tests/zipbomb.py): every entry has an ordinary compression
ratio and the declared total is modest, so only the layout check catches them. Honest archives, including
ones written with data descriptors by a streaming writer, still pass.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from litestar.testing import TestClient

from lexintel.upload.archive import ArchiveRefused, Limits, inspect
from tests.batch_helpers import batch_events, make_zip, new_case, wait_batch
from tests.zipbomb import bomb_kernel, extra_field_bomb, quoted_bomb, same_offset_bomb

BOMBS: list[tuple[str, Callable[[int, bytes], bytes]]] = [
    ("extra_field", extra_field_bomb), ("quoted_deflate", quoted_bomb), ("same_offset", same_offset_bomb),
]


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("name", "build"), BOMBS, ids=[b[0] for b in BOMBS])
def test_overlapping_bomb_is_refused_by_inspect(tmp_path: Path, name: str,
                                                build: Callable[[int, bytes], bytes]) -> None:
    kernel = bomb_kernel()
    data = build(200, kernel)
    path = _write(tmp_path, data)
    with zipfile.ZipFile(path) as zf:  # a valid archive as far as Python's zipfile is concerned
        infos = zf.infolist()
        assert zf.testzip() is None
    limits = Limits()
    assert len(infos) == 200 and sum(i.file_size for i in infos) < limits.max_total_bytes
    assert all(i.file_size <= limits.max_ratio * i.compress_size for i in infos), "no single entry looks like a bomb"
    with pytest.raises(ArchiveRefused) as refused:
        inspect(path, limits)
    assert refused.value.code == "zip_overlap"
    assert "overlapping-entry ZIP bomb" in refused.value.detail


@pytest.mark.parametrize(("name", "build"), BOMBS[:2], ids=[b[0] for b in BOMBS[:2]])
def test_small_overlap_is_caught_by_the_offsets_alone(tmp_path: Path, name: str,
                                                      build: Callable[[int, bytes], bytes]) -> None:
    """Two entries sharing a tiny kernel: the compressed sizes fit in the file, the offsets still overlap."""
    data = build(2, b"Privileged and confidential. " * 4)
    path = _write(tmp_path, data)
    with zipfile.ZipFile(path) as zf:
        assert sum(i.compress_size for i in zf.infolist()) <= len(data)
    with pytest.raises(ArchiveRefused) as refused:
        inspect(path, Limits())
    assert refused.value.code == "zip_overlap" and "contract-0000.txt" in refused.value.detail


def test_honest_archives_still_pass(tmp_path: Path) -> None:
    entries = [(f"docs/{i}.txt", f"clause {i} ".encode() * 200) for i in range(20)] + [("docs/", b"")]
    assert len(inspect(_write(tmp_path, make_zip(entries)), Limits()).entries) == 20
    stored = make_zip(entries, zipfile.ZIP_STORED)
    assert len(inspect(_write(tmp_path, stored), Limits()).entries) == 20

    class Unseekable(io.RawIOBase):  # a streaming writer: sizes go in data descriptors after each entry
        def __init__(self) -> None:
            self.buf = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: object) -> int:
            data = bytes(b)  # type: ignore[call-overload]
            self.buf += data
            return len(data)

    sink = Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries[:5]:
            with zf.open(name, "w") as out:
                out.write(data)
    streamed = bytes(sink.buf)
    with zipfile.ZipFile(io.BytesIO(streamed)) as zf:
        assert all(i.flag_bits & 0x08 for i in zf.infolist()), "expected data descriptors"
    assert len(inspect(_write(tmp_path, streamed), Limits()).entries) == 5
    prefixed = b"#!/bin/sh\necho self-extracting\n" + make_zip(entries[:3])  # data before the archive
    assert len(inspect(_write(tmp_path, prefixed), Limits()).entries) == 3


def test_overlap_bomb_upload_fails_the_batch_and_stores_nothing(client: TestClient) -> None:  # type: ignore[type-arg]
    kernel = bomb_kernel()
    bomb = extra_field_bomb(200, kernel)  # 31 KB that Python 3.11.7 would inflate to 100 MiB of "documents"
    assert zlib.crc32(kernel) and len(bomb) < 64 * 1024
    case_id = new_case(client)
    resp = client.post(f"/cases/{case_id}/documents", files=[("files", ("production.zip", bomb, "application/zip"))])
    assert resp.status_code == 202, resp.text
    batch = wait_batch(client, resp.json()["batch_id"], timeout=60)
    assert batch["status"] == "failed" and batch["error_code"] == "zip_overlap", batch
    assert batch["counts"]["total"] == 0
    assert "overlapping-entry ZIP bomb" in batch["error_message"]
    events = batch_events(client, batch["id"])
    last = events[-1].data
    assert events[-1].event == "error" and isinstance(last, dict) and last["error"]["code"] == "zip_overlap"
    data_dir = Path(client.app.state.services.settings.data_dir)
    assert not any(p.is_file() for p in (data_dir / "files").rglob("*")), "no document file may be kept"
    assert not list((data_dir / "incoming").iterdir())
    assert client.get(f"/cases/{case_id}/documents").json() == []
