"""Fast checks of the client's pieces: the request plan, the tally's counters, the outage rules, the memo."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import anyio
import httpx
import pytest

from lexintel.cli.api import CliError, first_error, server_url
from lexintel.cli.board import DocState, Tally
from lexintel.cli.connection import Connection, ServerGone
from lexintel.cli.memo import UploadMemo
from lexintel.cli.upload import plan_upload


def test_plan_sends_zips_alone_and_big_files_chunked(tmp_path: Path) -> None:
    small = []
    for i in range(5):
        path = tmp_path / f"s{i}.txt"
        path.write_text("x" * 1000)
        small.append(path)
    bundle = tmp_path / "bundle.dat"  # a ZIP whatever its name: judged by content, like the server does
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("a.txt", "hello")
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 300_000)
    plan = plan_upload([small[0], bundle, *small[1:], big], 200_000, max_files=2)
    assert plan.requests == [[bundle], [small[0], small[1]], [small[2], small[3]], [small[4]]]
    assert plan.chunked == [big] and plan.files == 7


def test_tally_counts_follow_every_transition() -> None:
    tally = Tally()
    tally.pending_files = 3
    tally.add_batch("b", "3 files")
    tally.pending_files -= 3
    for i in range(3):
        tally.add_document(DocState(f"d{i}", f"f{i}", batch_id="b"))
    event = {"batch_id": "b", "filename": "f0", "run": 1}
    tally.on_document_event({**event, "document_id": "d0", "status": "processing", "stage": "extracting",
                             "progress": 30, "items_total": 4, "items_done": 1})
    assert tally.counts == {"pending": 2, "processing": 1, "indexed": 0, "needs_ocr": 0, "failed": 0}
    assert list(tally.active) == ["d0"]
    tally.on_document_event({**event, "document_id": "d0", "status": "completed", "stage": "completed",
                             "progress": 100})
    tally.on_document_event({**event, "document_id": "d1", "status": "failed", "stage": "failed",
                             "error": {"code": "corrupt_pdf", "detail": "f1 is damaged"}})
    tally.on_document_event({**event, "document_id": "d2", "status": "processing", "stage": "queued", "run": 2})
    tally.on_document_event({**event, "document_id": "d2", "status": "failed", "stage": "failed",
                             "run": 1})  # from an older run: ignored
    assert tally.counts == {"pending": 1, "processing": 0, "indexed": 1, "needs_ocr": 0, "failed": 1}
    assert not tally.active
    assert tally.done == 2 and tally.total == 3 and [d.error for d in tally.failed] == ["f1 is damaged"]
    assert tally.docs["d0"].pages == 4
    tally.on_batch_event({"batch_id": "b", "status": "processing", "stage": "extracting", "progress": 60,
                          "eta_seconds": 12.0})
    assert tally.fraction == pytest.approx(0.6) and tally.eta == 12.0
    tally.add_document(DocState(None, "empty.pdf", status="failed", error="empty.pdf is empty."))
    assert tally.failures == 2 and tally.total == 4


def test_server_url_assumes_http() -> None:
    assert server_url("127.0.0.1:8765") == "http://127.0.0.1:8765"
    assert server_url("https://lex.example/") == "https://lex.example"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_outage_is_reported_once_and_given_up_after_its_window() -> None:
    notes: list[str] = []

    async def run() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{_closed_port()}") as client:
            conn = Connection(client, retry_for=0.6, notify=lambda text, style: notes.append(text))
            conn.succeeded(0.0)  # as if the server had answered before it went away
            with pytest.raises(ServerGone, match=r"lost the server at .* \(connection refused\) and it did not "
                                                 r"come back within 0.6 s"):
                await conn.request("GET", "/cases")

    anyio.run(run)
    assert len(notes) == 1 and "reconnecting…" in notes[0]


def test_a_server_never_reached_fails_without_the_long_wait() -> None:
    async def run() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{_closed_port()}") as client:
            await Connection(client, retry_for=0.5, notify=lambda text, style: None).request("GET", "/cases")

    with pytest.raises(CliError, match=r"cannot reach the server at .*: connection refused"):
        anyio.run(run)


def test_first_error_prefers_the_cli_error_in_a_group() -> None:
    group = BaseExceptionGroup("tasks", [ValueError("boom"), ExceptionGroup("inner", [CliError("one line")])])
    assert str(first_error(group)) == "one line"


def test_memo_remembers_per_file_server_and_case(tmp_path: Path) -> None:
    memo = UploadMemo(tmp_path / "uploads")
    key = memo.key("http://a", "case1", "ab" * 32, 10)
    assert key != memo.key("http://b", "case1", "ab" * 32, 10) != memo.key("http://a", "case2", "ab" * 32, 10)
    assert memo.recall(key) is None
    memo.remember(key, upload_id="u1")
    assert memo.recall(key)["upload_id"] == "u1"  # type: ignore[index]
    assert (tmp_path / "uploads" / f"{key}.json").stat().st_mode & 0o777 == 0o600
    (tmp_path / "uploads" / f"{key}.json").write_text("{damaged")
    assert memo.recall(key) is None  # starting over is always safe
    memo.forget(key)
    assert not list((tmp_path / "uploads").glob("*.json"))
