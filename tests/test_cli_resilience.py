"""The terminal client when the server goes away: ``kill -9`` mid-follow and mid-upload, with and without a
restart inside the retry window, and a chunked upload resumed by running the same command again.

The end is checked exactly: the exit status, one "reconnecting" line per outage, one last line naming the
problem, no traceback. "Only the missing chunks were sent" is checked on the server's request log: no chunk
index is ever stored (PUT answered 200) twice, across both runs and both server processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import ServerProcess, corpus, wait_for
from tests.pdfgen import make_pdf, text_page
from tests.test_cli_tty import UUID, PtyRun, plain

CHUNK = 64 * 1024


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client's upload memos go to the test's own directory, never the user's ~/.cache."""
    cache = tmp_path / "client-cache"
    monkeypatch.setenv("LEXINTEL_CACHE_DIR", str(cache))
    return cache


def padded_pdf(path: Path, mb: int) -> Path:
    """A valid 3-page PDF made large by an incremental update adding one unreferenced stream of random bytes
    (never parsed, never indexed)."""
    base = make_pdf([text_page(f"Exhibit page {i}") for i in (1, 2, 3)])
    prev = int(base.rsplit(b"startxref", 1)[1].split()[0])
    number = int(re.findall(rb"/Size (\d+)", base)[-1])
    pad = os.urandom(mb * 1024 * 1024)
    obj = b"%d 0 obj\n<< /Length %d >>\nstream\n" % (number, len(pad)) + pad + b"\nendstream\nendobj\n"
    xref = len(base) + len(obj)
    tail = (b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (number, len(base), number + 1, prev, xref))
    path.write_bytes(base + obj + tail)
    return path


def status(server: ServerProcess, doc_id: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.url}/documents/{doc_id}/status", timeout=10).json()
    return body


def stored_chunks(server: ServerProcess, upload_id: str) -> Counter[int]:
    """How many times each chunk index was stored (PUT answered 200), from the server's request log."""
    return Counter(int(n) for n in re.findall(rf"method=PUT path=/uploads/{upload_id}/chunks/(\d+) status=200",
                                              server.log()))


def the_upload_id(cache: Path) -> str:
    """The session id the client remembered (the one memo file under the cache dir)."""
    [memo] = (cache / "uploads").glob("*.json")
    upload_id: str = json.loads(memo.read_text())["upload_id"]
    return upload_id


def assert_one_line_end(text: str, expected: str) -> None:
    assert "Traceback" not in text and "ExceptionGroup" not in text, text[-3000:]
    assert text.count("reconnecting…") == 1, text[-3000:]  # one outage, one message
    assert text.rstrip().splitlines()[-1] == expected, text[-3000:]


def test_server_killed_mid_follow_gives_up_in_one_line(server: ServerProcess) -> None:
    pdf = corpus("GeoTopo-komprimiert")  # 117 pages: still extracting when the server dies
    run = PtyRun("upload", str(pdf), "--case", "Follow", "--server", server.url, "--retry-for", "2")
    doc_id = run.wait_for_text(rf"document ({UUID}): ").group(1)
    wait_for(lambda: status(server, doc_id)["pages_done"] >= 3, timeout=120, what="extraction under way")
    server.stop("kill")
    assert run.finish() == 2
    assert_one_line_end(run.text, f"lexintel upload: lost the server at {server.url} (connection refused) and it "
                                  "did not come back within 2 s; 1 document was accepted before that "
                                  "(`lexintel docs Follow` lists them)")


def test_server_killed_mid_follow_and_restarted_in_time(server: ServerProcess) -> None:
    pdf = corpus("GeoTopo-komprimiert")
    run = PtyRun("upload", str(pdf), "--case", "Restart", "--server", server.url, "--retry-for", "120")
    doc_id = run.wait_for_text(rf"document ({UUID}): ").group(1)
    wait_for(lambda: status(server, doc_id)["pages_done"] >= 3, timeout=120, what="extraction under way")
    server.stop("kill")
    run.wait_for_text("reconnecting…")
    server.start()  # same port and data dir: the document is requeued and the stream resumes
    assert run.finish() == 0, run.text[-3000:]
    text = run.text
    assert "Traceback" not in text and text.count("reconnecting…") == 1
    assert re.search(r"reconnected after \d+ s", text)
    assert "Restart: 1 of 1 indexed" in text and status(server, doc_id)["pages_done"] == 117


def test_chunked_upload_waits_out_a_restart_and_sends_only_missing_chunks(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    server = server_factory(LEXINTEL_UPLOAD_MAX_CHUNK_BYTES=str(CHUNK))
    big = padded_pdf(tmp_path / "exhibit.pdf", 32)  # 512 chunks of 64 KiB
    count = -(-big.stat().st_size // CHUNK)
    cache = tmp_path / "cache"
    run = PtyRun("upload", str(big), "--case", "Chunks", "--server", server.url, "--max-request-mb", "1",
                 "--retry-for", "120", env={"LEXINTEL_CACHE_DIR": str(cache)})
    run.wait_for_text(rf"batch {UUID}: exhibit\.pdf")
    upload_id = the_upload_id(cache)
    have = wait_for(lambda: len(stored_chunks(server, upload_id)) >= 20 and stored_chunks(server, upload_id),
                    timeout=120, what="chunks arriving")
    server.stop("kill")
    assert len(have) < count, "the upload finished before the kill: use a larger file"
    run.wait_for_text("reconnecting…")
    server.start()
    assert run.finish() == 0, run.text[-3000:]
    assert "Chunks: 1 of 1 indexed" in run.text and run.text.count("reconnecting…") == 1

    stored = stored_chunks(server, upload_id)
    assert max(stored.values()) == 1, [i for i, n in stored.items() if n > 1]  # no chunk sent twice
    assert len(stored) >= count - 1  # (a chunk stored as the server died may have no log line)
    [doc] = httpx.get(f"{server.url}/cases/{httpx.get(server.url + '/cases').json()[0]['id']}/documents").json()
    assert doc["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest() and doc["status"] == "indexed"
    assert not list((cache / "uploads").glob("*.json"))  # finished: nothing left to resume


def test_chunked_upload_given_up_then_resumed_by_a_rerun(server_factory: Callable[..., ServerProcess],
                                                        tmp_path: Path) -> None:
    server = server_factory(LEXINTEL_UPLOAD_MAX_CHUNK_BYTES=str(CHUNK))
    big = padded_pdf(tmp_path / "exhibit.pdf", 32)
    count = -(-big.stat().st_size // CHUNK)
    cache = tmp_path / "cache"
    args = ("upload", str(big), "--case", "Rerun", "--server", server.url, "--max-request-mb", "1")
    env = {"LEXINTEL_CACHE_DIR": str(cache)}
    run = PtyRun(*args, "--retry-for", "1", env=env)
    run.wait_for_text(rf"batch {UUID}: exhibit\.pdf")
    upload_id = the_upload_id(cache)
    wait_for(lambda: len(stored_chunks(server, upload_id)) >= 20, timeout=120, what="chunks arriving")
    server.stop("kill")
    assert run.finish() == 2
    assert_one_line_end(run.text, f"lexintel upload: lost the server at {server.url} (connection refused) and it "
                                  "did not come back within 1 s; run the same command again to resume the upload "
                                  "of exhibit.pdf")

    server.start()
    session = httpx.get(f"{server.url}/uploads/{upload_id}").json()
    have = len(session["received"])
    assert session["status"] == "open" and 0 < have < count, session
    again = plain(*args, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"resuming upload {upload_id} of exhibit.pdf: {have} of {count} chunks already on the server" in again.stderr
    stored = stored_chunks(server, upload_id)
    assert max(stored.values()) == 1, [i for i, n in stored.items() if n > 1]  # the rerun sent only what was missing
    assert "Rerun: 1 of 1 indexed" in again.stdout
    assert not list((cache / "uploads").glob("*.json"))
