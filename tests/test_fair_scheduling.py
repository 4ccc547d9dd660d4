"""One member's flood of slow files delays only that member (issue 13 item 5).

A real server with one worker; one member uploads four slow PDFs (pdfminer spends longer than the document
time limit on each), then another member uploads a 19-byte text file. With one FIFO queue the text file
waited for all four; with a lane per owner served in turn it is indexed right after the PDF being worked on,
while the flood is still being processed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx

from lexintel.pipeline.queue import WorkQueue
from lexintel.settings import Settings
from tests.auth_helpers import add_account
from tests.support import ServerProcess, wait_for
from tests.support.pdfs import slow_pdf

TIME_LIMIT = 6  # seconds per document: each slow PDF ends as failed "timeout" after this long


def _status(server: ServerProcess, headers: dict[str, str], document_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/documents/{document_id}/status", headers=headers,
                                     timeout=10).json()
    return body


def test_another_members_document_is_indexed_before_one_members_backlog_drains(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    alice = add_account(Settings(data_dir=data_dir), "alice")
    bob = add_account(Settings(data_dir=data_dir), "bob")
    server = ServerProcess(data_dir, {"LEXINTEL_EXTRACTION_WORKERS": "1", "LEXINTEL_PIPELINE_CONCURRENCY": "1",
                                      "LEXINTEL_DOCUMENT_TIMEOUT": str(TIME_LIMIT),
                                      "LEXINTEL_PROGRESS_INTERVAL": "0", "LEXINTEL_SHUTDOWN_GRACE": "0"}).start()
    try:
        a_case = httpx.post(f"{server.url}/cases", json={"name": "Flood"}, headers=alice.headers).json()["id"]
        b_case = httpx.post(f"{server.url}/cases", json={"name": "Small"}, headers=bob.headers).json()["id"]
        pdf = slow_pdf()
        flood = httpx.post(f"{server.url}/cases/{a_case}/documents", headers=alice.headers, timeout=60,
                           params={"duplicates": "allow"},  # four copies of one slow PDF, on purpose
                           files=[("files", (f"slow-{i}.pdf", pdf, "application/pdf")) for i in range(4)])
        assert flood.status_code == 202, flood.text
        flood_ids: list[str] = flood.json()["document_ids"]
        wait_for(lambda: _status(server, alice.headers, flood_ids[0])["status"] == "processing", timeout=30,
                 what="the first slow PDF being worked on")
        began = time.monotonic()
        small = httpx.post(f"{server.url}/cases/{b_case}/documents", headers=bob.headers, timeout=30,
                           files=[("files", ("note.txt", b"nineteen bytes here", "text/plain"))])
        assert small.status_code == 202, small.text
        small_id = small.json()["document_ids"][0]
        done = wait_for(lambda: _status(server, bob.headers, small_id)["status"] in ("indexed", "failed"),
                        timeout=4 * TIME_LIMIT + 60, what="the other member's document", interval=0.1)
        assert done
        waited = time.monotonic() - began
        assert _status(server, bob.headers, small_id)["status"] == "indexed"
        flood_now = [_status(server, alice.headers, i)["status"] for i in flood_ids]
        assert sum(s in ("pending", "processing") for s in flood_now) >= 2, (flood_now, waited)
        print(f"other member's 19-byte file indexed after {waited:.1f} s; flood then {flood_now}")
    finally:
        server.stop()


def test_the_queue_serves_owners_in_turn_keeps_each_owners_order_and_ignores_duplicates() -> None:
    owner = {"a1": "alice", "a2": "alice", "a3": "alice", "b1": "bob", "b2": "bob", "c1": "carol"}
    queue = WorkQueue(key_of=owner.__getitem__)

    async def run() -> list[str]:
        for document_id in ("a1", "a2", "a3", "b1", "a1", "b2", "c1", "b1"):
            queue.enqueue(document_id)
        assert len(queue) == 6 and queue.waiting_lanes() == {"alice": 3, "bob": 2, "carol": 1}
        return [await queue.take() for _ in range(6)]

    assert anyio.run(run) == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert len(queue) == 0
