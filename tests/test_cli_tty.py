"""The terminal client as people see it: the real command in a pseudo-terminal, against a real server.

A thousand files must show one moving batch line and a bounded number of rows (never a bar per file); the
batch streams must be open before the next request goes out; a ZIP among other files goes in a request of its
own; with stderr not a terminal only plain lines are printed, and ``--json`` gives one object for scripts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pexpect
import pytest

from lexintel.cli.display import MAX_ACTIVE, MAX_FAILED
from tests.helpers import ServerProcess, corpus

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CURSOR_UP_ERASE = "\x1b[1A\x1b[2K"  # rich's Live moves up over its last frame, one of these per line


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client's upload memos go to the test's own directory, never the user's ~/.cache."""
    cache = tmp_path / "client-cache"
    monkeypatch.setenv("LEXINTEL_CACHE_DIR", str(cache))
    return cache


class PtyRun:
    """``python -m lexintel ARGS`` in a pseudo-terminal (stdout and stderr both), its output drained by a thread
    so the command never blocks on a full terminal while a test waits for something else."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, rows: int = 40, cols: int = 160) -> None:
        self.child = pexpect.spawn(sys.executable, ["-m", "lexintel", *args], env={**os.environ, **(env or {})},
                                   dimensions=(rows, cols), encoding="utf-8", codec_errors="replace", timeout=None)
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=None)
            except (pexpect.EOF, OSError):
                return
            with self._lock:
                self._chunks.append(chunk)

    @property
    def raw(self) -> str:
        with self._lock:
            return "".join(self._chunks)

    @property
    def text(self) -> str:
        """What was printed, escape sequences removed."""
        return ANSI.sub("", self.raw)

    def wait_for_text(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text)
            if match:
                return match
            if not self.child.isalive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the output:\n{self.text[-3000:]}")

    def finish(self, timeout: float = 300.0) -> int:
        """Wait for the command to end; its exit status."""
        self._reader.join(timeout)
        assert not self._reader.is_alive(), f"the command did not end in {timeout} s:\n{self.text[-3000:]}"
        self.child.close()
        status = self.child.exitstatus
        assert status is not None, f"killed by signal {self.child.signalstatus}"
        return int(status)

    def frame_heights(self) -> list[int]:
        """The height of every live frame that was redrawn (from the cursor-up sequences before each redraw)."""
        return [len(m.group(0)) // len(CURSOR_UP_ERASE) + 1
                for m in re.finditer(f"(?:{re.escape(CURSOR_UP_ERASE)})+", self.raw)]


def plain(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The command with stdout and stderr as pipes (not terminals), as a script would run it."""
    return subprocess.run([sys.executable, "-m", "lexintel", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def test_a_thousand_files_show_one_moving_batch_line(server: ServerProcess, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(1000):
        (folder / f"note-{i:04d}.txt").write_text(f"Note {i} on the limitation period.\n" * 3)

    run = PtyRun("upload", str(folder), "--case", "Thousand", "--server", server.url)
    status = run.finish()
    text = run.text
    assert status == 0, text[-3000:]

    # The batch line is drawn before the first request is even answered, then moves through the batch.
    first_line = text.index("0/1000 done")
    first_id = re.search(rf"batch ({UUID}): 200 files", text)
    assert first_id is not None and first_line < first_id.start(), text[:2000]
    done = [int(n) for n in re.findall(r"(\d+)/1000 done", text)]
    assert done == sorted(done), "the done count went backwards"
    assert len({n for n in done if 0 < n < 1000}) >= 3, f"the batch line did not move: {sorted(set(done))}"
    # Rows only for active and failed documents: every frame is small, whatever the number of files.
    heights = run.frame_heights()
    assert heights and max(heights) <= 1 + MAX_ACTIVE + 1 + MAX_FAILED + 1, max(heights)
    assert "Thousand: 1000 indexed, 0 failed of 1000" in text

    # The ids are printed (one batch per request of 200 files), each a real batch of 200 documents...
    batch_ids = re.findall(rf"batch ({UUID}): 200 files  \(lexintel watch \1\)", text)
    assert len(set(batch_ids)) == 5, batch_ids
    for batch_id in set(batch_ids):
        counts = httpx.get(f"{server.url}/batches/{batch_id}").json()["counts"]
        assert counts["total"] == counts["indexed"] == 200, counts
    # ...and each batch's stream was open before the next request went out (the server's own log).
    log = server.log()
    posts = [m.start() for m in re.finditer(r"method=POST path=/cases/[^ ]+/documents status=202", log)]
    opens = {b: log.index(f"stream=batch:{b}") for b in batch_ids}
    for i, batch_id in enumerate(batch_ids[:-1]):
        assert opens[batch_id] < posts[i + 1], f"batch {i + 1}'s stream opened after request {i + 2} was answered"


def test_zip_among_other_files_goes_alone_and_json_for_scripts(server: ServerProcess, tmp_path: Path) -> None:
    folder = tmp_path / "contracts"
    folder.mkdir()
    for name in ("pdflatex-4-pages", "minimal-document"):
        (folder / corpus(name).name).write_bytes(corpus(name).read_bytes())
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    scan = tmp_path / "scan.pdf"
    scan.write_bytes(corpus("pdflatex-outline").read_bytes())
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(corpus("multicolumn"), "inner/multicolumn.pdf")
        zf.writestr("terms.txt", "Terms of the settlement.\n")
        zf.writestr("image.bin", bytes(range(256)) * 4)  # skipped: not a PDF or text

    # The README's own example: directories, a file and a ZIP in one command.
    result = plain("upload", str(folder), str(scan), str(bundle), "--case", "Smith v Jones", "--server",
                   server.url, "--json")
    assert result.returncode == 1, result.stdout + result.stderr  # broken.pdf failed
    body: dict[str, Any] = json.loads(result.stdout)  # stdout is exactly one JSON object
    assert body["case"]["name"] == "Smith v Jones" and body["case"]["created"] is True
    by_name = {d["filename"]: d for d in body["documents"]}
    assert sorted(by_name) == sorted([corpus("pdflatex-4-pages").name, corpus("minimal-document").name,
                                      "broken.pdf", "scan.pdf", "multicolumn.pdf", "terms.txt"])
    assert by_name["broken.pdf"]["status"] == "failed" and by_name["broken.pdf"]["error"]
    assert all(d["status"] == "indexed" and d["error"] is None for n, d in by_name.items() if n != "broken.pdf")
    assert by_name[corpus("pdflatex-4-pages").name]["pages"] == 4
    assert body["counts"] == {"documents": 6, "indexed": 5, "failed": 1, "needs_ocr": 0}
    batches = {b["source"]: b for b in body["batches"]}
    assert set(batches) == {"bundle.zip", "4 files"} and all(b["status"] == "completed" for b in batches.values())
    assert by_name["terms.txt"]["batch_id"] == batches["bundle.zip"]["id"]
    docs = httpx.get(f"{server.url}/cases/{body['case']['id']}/documents").json()
    assert {d["id"] for d in docs} == {d["id"] for d in body["documents"]}

    # stderr is not a terminal: plain lines only, no live frame and no final snapshot of one.
    err = result.stderr
    assert "\x1b[" not in err and "━" not in err, err
    assert f"batch {batches['bundle.zip']['id']}: bundle.zip  (lexintel watch {batches['bundle.zip']['id']})" in err
    assert "failed   broken.pdf: " in err and "indexed  terms.txt (1 page)" in err
    assert err.rstrip().splitlines()[-1].startswith("Smith v Jones: 5 indexed, 1 failed of 6 in ")
