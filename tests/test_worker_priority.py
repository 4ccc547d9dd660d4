"""Extraction workers yield the CPU to the server process (issue 18: stream latency under extraction load).

A real server extracts a real PDF; its worker processes (anyio's process pool, children of the server) must
run at the server's niceness + ``LEXINTEL_WORKER_NICE`` (10 by default), or equal to it when that is 0.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support import ServerProcess, corpus
from tests.support.waiting import wait_json_status


def _nice(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])  # field 19 (niceness); the name may contain spaces


def _workers(server_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == server_pid and b"anyio" in cmdline:
            found.append(int(entry.name))
    return found


def _extract_one(server: ServerProcess) -> list[int]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        case_id = http.post("/cases", json={"name": "priority"}).json()["id"]
        pdf = corpus("002-trivial")
        resp = http.post(f"/cases/{case_id}/documents", files=[("files", (pdf.name, pdf.read_bytes()))])
        assert resp.status_code == 202, resp.text
        doc = resp.json()["document_ids"][0]
        status = wait_json_status(http, f"/documents/{doc}/status", ("indexed", "failed"))
        assert status["status"] == "indexed", status
    workers = _workers(server.pid)
    assert workers, "the server extracted a PDF without any worker process"
    return workers


def test_workers_run_ten_steps_nicer_than_the_server(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory()
    base = _nice(server.pid)
    assert {_nice(pid) for pid in _extract_one(server)} == {min(base + 10, 19)}
    assert _nice(server.pid) == base  # the server itself is untouched


def test_worker_nice_zero_keeps_the_servers_priority(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(LEXINTEL_WORKER_NICE="0")
    base = _nice(server.pid)
    assert {_nice(pid) for pid in _extract_one(server)} == {base}
