"""kill -9 while a ZIP's documents are being recorded (issue 13 item 10): after the restart the outcome is
consistent. The documents that exist have their files and are processed; the batch follows them (instead of
ending ``failed/interrupted`` beside indexed documents) and its log says how many files were recorded; no
message anywhere names a server path.

Real parts: a real server subprocess, a real 1,000-entry ZIP, a real SIGKILL while the database (read here
through its own connection) holds some but not all of the batch's documents.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx

from lexintel.upload.archive import Limits, Skipped, extract, inspect
from tests.batch_helpers import make_zip
from tests.support import ServerProcess, wait_for

ENTRIES = 1000


def _count(db_path: Path, batch_id: str) -> int:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM documents WHERE batch_id = ?", (batch_id,)).fetchone()[0])
    finally:
        conn.close()


def test_kill_9_while_recording_a_zips_documents_then_restart_is_consistent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir, {"LEXINTEL_AUTH": "off", "LEXINTEL_EXTRACTION_WORKERS": "1",
                                      "LEXINTEL_PROGRESS_INTERVAL": "0", "LEXINTEL_SHUTDOWN_GRACE": "0"}).start()
    try:
        case_id = httpx.post(f"{server.url}/cases", json={"name": "Kill unpack"}, timeout=10).json()["id"]
        archive = make_zip([(f"notes/note-{i:04d}.txt", f"note {i} of the archive ".encode() * 20)
                            for i in range(ENTRIES)])
        resp = httpx.post(f"{server.url}/cases/{case_id}/documents", timeout=60,
                          files=[("files", ("big.zip", archive, "application/zip"))])
        assert resp.status_code == 202, resp.text
        batch_id = resp.json()["batch_id"]
        db_path = next(data_dir.rglob("*.db"))
        wait_for(lambda: _count(db_path, batch_id) > 0, timeout=120, what="the first documents recorded",
                 interval=0.005)
        server.kill()
        made = _count(db_path, batch_id)
        assert 0 < made < ENTRIES, f"the kill came too late or too early: {made} documents"

        server.start()

        def ended() -> dict[str, Any] | None:
            body: dict[str, Any] = httpx.get(f"{server.url}/batches/{batch_id}", timeout=10).json()
            return body if body["status"] != "processing" else None

        batch = wait_for(ended, timeout=300, what="the batch after the restart", interval=0.5)
        assert batch["status"] == "completed", batch  # not failed/interrupted beside indexed documents
        assert any(entry["code"] == "interrupted" and f"{made} of {ENTRIES}" in entry["message"]
                   for entry in batch["log"]), batch["log"]
        docs = httpx.get(f"{server.url}/cases/{case_id}/documents", timeout=30).json()
        docs = docs["documents"] if isinstance(docs, dict) else docs
        assert len(docs) == made, (len(docs), made)
        assert {d["status"] for d in docs} == {"indexed"}, {d["status"] for d in docs}
        text = httpx.get(f"{server.url}/batches/{batch_id}", timeout=10).text + str(docs)
        assert str(data_dir) not in text and str(tmp_path) not in text
        print(f"killed with {made} of {ENTRIES} documents recorded; batch {batch['status']}")
    finally:
        server.stop()


def test_an_entry_that_cannot_be_written_is_skipped_without_naming_a_server_path(tmp_path: Path) -> None:
    """The skip reason is said on the batch stream and log: an OSError's text would carry the file's path."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip([("a.txt", b"some text " * 50)]))
    limits = Limits(1000, 10 * 1024**3, 100.0, 100 * 1024)
    gone = tmp_path / "incoming"  # removed under the server's feet: the open fails with ENOENT and the full path
    skipped: list[Skipped] = []
    assert extract(archive, inspect(archive, limits), gone, limits, on_skip=skipped.append) == []
    assert [s.code for s in skipped] == ["corrupt_entry"]
    assert str(tmp_path) not in skipped[0].detail and "No such file" in skipped[0].detail, skipped
