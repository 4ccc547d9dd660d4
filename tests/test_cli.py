"""The terminal client, run for real (``python -m lexintel upload|watch|search``) against a real server."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess, corpus, scrape_metrics, wait_for


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The client's upload memos go to the test's own directory, never the user's ~/.cache."""
    cache = tmp_path / "client-cache"
    monkeypatch.setenv("LEXINTEL_CACHE_DIR", str(cache))
    return cache


def lexintel(*args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would; a wide fake terminal so tables are not folded."""
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "lexintel", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def cases_named(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    return [c for c in httpx.get(server.url + "/cases").json() if c["name"] == name]


def test_upload_creates_case_follows_streams_and_reports_failure(server: ServerProcess, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    for name in ("pdflatex-4-pages", "multicolumn"):
        src = corpus(name)
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "scanned-notes.pdf").write_bytes(os.urandom(4096))  # not a PDF at all
    (folder / ".DS_Store").write_bytes(b"hidden files are skipped")

    result = lexintel("upload", str(folder), "--case", "Smith v Jones", "--server", server.url)
    assert result.returncode == 1, result.stdout + result.stderr  # one file failed
    out = result.stdout
    assert "Smith v Jones: 2 of 3 indexed" in out, out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 4}
    assert "indexed" in rows[corpus("pdflatex-4-pages").name] and " 4 " in rows[corpus("pdflatex-4-pages").name]
    assert "indexed" in rows[corpus("multicolumn").name]
    assert "failed" in rows["scanned-notes.pdf"] and "is not a PDF or plain-text file" in rows["scanned-notes.pdf"]
    assert ".DS_Store" not in out
    assert "Created case Smith v Jones" in result.stderr

    [case] = cases_named(server, "Smith v Jones")
    docs = httpx.get(f"{server.url}/cases/{case['id']}/documents").json()
    assert sorted(d["status"] for d in docs) == ["failed", "indexed", "indexed"]

    # a second upload reuses the case by name, and a clean run exits 0
    again = lexintel("upload", str(corpus("minimal-document")), "--case", "Smith v Jones", "--server", server.url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Using case Smith v Jones" in again.stderr and "1 of 1 indexed" in again.stdout
    assert len(cases_named(server, "Smith v Jones")) == 1

    # search prints file, page and snippet; no hits exits 1; an unknown case is a usage error
    found = lexintel("search", "population", "--case", "Smith v Jones", "--mode", "keyword", "--server", server.url)
    assert found.returncode == 0, found.stderr
    [hit] = [line for line in found.stdout.splitlines() if corpus("multicolumn").name in line]
    assert hit.split("│")[2].strip() == "3" and "Population" in hit
    none = lexintel("search", "zzyzxquux", "--mode", "keyword", "--server", server.url)
    assert none.returncode == 1 and "No hits" in none.stdout
    unknown = lexintel("search", "population", "--case", "No such case", "--server", server.url)
    assert unknown.returncode == 2 and "no case named 'No such case'" in unknown.stderr


def test_single_refused_file_and_unreachable_server(server: ServerProcess, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    result = lexintel("upload", str(empty), "--case", "Empty", "--server", server.url)
    assert result.returncode == 1
    assert "failed" in result.stdout and "empty.pdf is empty" in result.stdout

    missing = lexintel("upload", str(tmp_path / "nope.pdf"), "--case", "Empty", "--server", server.url)
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr

    down = lexintel("search", "x", "--server", "http://127.0.0.1:9")
    assert down.returncode == 2 and "cannot reach the server" in down.stderr


def test_watch_document_and_batch(server: ServerProcess) -> None:
    case = httpx.post(server.url + "/cases", json={"name": "Watch"}).json()
    files = [("files", (p.name, p.read_bytes())) for p in map(corpus, ["pdflatex-outline", "google-doc-document"])]
    files.append(("files", ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf")))
    body = httpx.post(f"{server.url}/cases/{case['id']}/documents", files=files, timeout=60).json()
    assert body["batch_id"], body

    batch = lexintel("watch", body["batch_id"], "--server", server.url)
    assert batch.returncode == 1, batch.stdout + batch.stderr  # the broken file failed
    assert "2 of 3 indexed" in batch.stdout and "broken.pdf" in batch.stdout

    good = next(d["id"] for d in body["documents"] if d["filename"].endswith("outline.pdf"))
    single = lexintel("watch", good, "--server", server.url)  # already finished: replay, then the summary
    assert single.returncode == 0, single.stdout + single.stderr
    assert "1 of 1 indexed" in single.stdout

    nothing = lexintel("watch", "no-such-id", "--server", server.url)
    assert nothing.returncode == 2, nothing.stderr
    assert nothing.stderr.strip() == "lexintel watch: No document or batch with id 'no-such-id'"


def test_watch_resumes_across_a_server_restart(server: ServerProcess) -> None:
    case = httpx.post(server.url + "/cases", json={"name": "Restart"}).json()
    pdf = corpus("GeoTopo-komprimiert")  # 117 pages: long enough to cut the stream mid-way
    body = httpx.post(f"{server.url}/cases/{case['id']}/documents", files=[("files", (pdf.name, pdf.read_bytes()))],
                      timeout=60).json()
    doc_id = body["document_ids"][0]
    env = {**os.environ, "COLUMNS": "250"}
    watch = subprocess.Popen([sys.executable, "-m", "lexintel", "watch", doc_id, "--server", server.url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def status() -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{server.url}/documents/{doc_id}/status").json()
        return body

    try:
        wait_for(lambda: status()["pages_done"] >= 5, timeout=120, what="extraction under way")
        # the watcher is connected, and at least one more event went out to it live, before the restart
        wait_for(lambda: scrape_metrics(server.url).get("lexintel_sse_connections", 0) >= 1, timeout=60,
                 what="the watcher's stream open")
        connected_at = status()["pages_done"]
        wait_for(lambda: status()["pages_done"] > connected_at, timeout=60, what="a page done while watched")
        server.stop()
        server.start()  # same port and data dir: the document is requeued as a new run
        out, err = watch.communicate(timeout=300)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, out + err
    assert "reconnecting" in err
    assert "1 of 1 indexed" in out and " 117 " in out


def test_large_file_goes_through_the_chunked_upload(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(LEXINTEL_UPLOAD_MAX_CHUNK_BYTES=str(512 * 1024))
    pdf = corpus("GeoTopo-komprimiert")  # 1.8 MB > the 1 MB per-request limit given below: 4 chunks
    result = lexintel("upload", str(pdf), str(corpus("minimal-document")), "--case", "Big", "--server", server.url,
                      "--max-request-mb", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 indexed" in result.stdout and " 117 " in result.stdout
    [case] = cases_named(server, "Big")
    docs = httpx.get(f"{server.url}/cases/{case['id']}/documents").json()
    big = next(d for d in docs if d["filename"] == pdf.name)
    assert big["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest() and big["size_bytes"] == pdf.stat().st_size


def test_zip_upload_is_unpacked_and_a_broken_zip_fails_the_batch(server: ServerProcess, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(corpus("pdflatex-4-pages"), "a/four.pdf")
        zf.write(corpus("minimal-document"), "one.pdf")
        zf.writestr("notes.bin", bytes(range(256)) * 4)
    result = lexintel("upload", str(bundle), "--case", "Zips", "--server", server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 of 2 indexed" in result.stdout and "four.pdf" in result.stdout and "1 skipped" in result.stdout

    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04" + os.urandom(2000))
    bad = lexintel("upload", str(broken), "--case", "Zips", "--server", server.url)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "batch failed:" in bad.stdout


def table_rows(out: str) -> list[list[str]]:
    """The cells of a rich table's body rows (a row folded over several lines is not joined)."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if line.startswith("│")]


def test_cases_docs_text_version_help_and_host_port(server: ServerProcess) -> None:
    hostport = server.url.removeprefix("http://")  # people type host:port; http:// is assumed
    four, one = corpus("pdflatex-4-pages"), corpus("minimal-document")
    result = lexintel("upload", str(four), str(one), "--case", "Browse", "--server", hostport)
    assert result.returncode == 0, result.stdout + result.stderr
    [case] = cases_named(server, "Browse")
    docs = {d["filename"]: d for d in httpx.get(f"{server.url}/cases/{case['id']}/documents").json()}
    assert {d["id"] for d in docs.values()} <= set(result.stdout.split()), "the summary lists the document ids"

    listing = lexintel("cases", "--server", hostport)
    assert listing.returncode == 0, listing.stderr
    header = next(line for line in listing.stdout.splitlines() if line.startswith("┃"))
    assert [h.strip() for h in header.split("┃")[1:-1]] == ["Name", "Documents", "Indexed", "Needs OCR",
                                                                  "Failed", "Created", "Id"]
    assert table_rows(listing.stdout)[0][:5] == ["Browse", "2", "2", "0", "0"] and case["id"] in listing.stdout

    by_name = lexintel("docs", "Browse", "--server", server.url)
    by_id = lexintel("docs", case["id"], "--server", server.url)
    assert by_name.returncode == by_id.returncode == 0 and by_name.stdout == by_id.stdout
    rows = {row[0]: row for row in table_rows(by_name.stdout)}
    assert rows[four.name][1:3] == ["indexed", "4"] and rows[four.name][-1] == docs[four.name]["id"]
    missing = lexintel("docs", "Nobody", "--server", server.url)
    assert missing.returncode == 2 and "no case named 'Nobody'" in missing.stderr

    doc_id = docs[four.name]["id"]
    pages = httpx.get(f"{server.url}/documents/{doc_id}/text").json()["pages"]
    whole = lexintel("text", doc_id, "--server", server.url)
    assert whole.returncode == 0, whole.stderr
    assert [int(n) for n in re.findall(r"^── page (\d+) · ", whole.stdout, re.M)] == [1, 2, 3, 4]
    assert all(p["text"].strip() in whole.stdout for p in pages)
    page = lexintel("text", doc_id, "--page", "2", "--server", server.url)
    assert page.returncode == 0 and page.stdout == pages[1]["text"].rstrip("\n") + "\n"
    beyond = lexintel("text", doc_id, "--page", "9", "--server", server.url)
    assert beyond.returncode == 2 and "has no page 9 (pages 1-4 of text)" in beyond.stderr
    unknown = lexintel("text", "no-such-doc", "--server", server.url)
    assert unknown.returncode == 2
    expected = "lexintel text: No document with id 'no-such-doc' (`lexintel docs CASE` lists them)"
    assert unknown.stderr.strip() == expected

    # search by case id too, with the document id of each hit
    hits = lexintel("search", "Huardest", "--case", case["id"], "--server", server.url)
    assert hits.returncode == 0 and doc_id in hits.stdout

    version = lexintel("--version")
    assert version.returncode == 0 and version.stdout.strip() == "lexintel 0.1.0"
    for args in ([], ["upload"], ["token"], ["token", "create"]):
        shown = lexintel(*args, "--help")
        assert shown.returncode == 0 and "usage: lexintel" in shown.stdout
        assert not re.search(r"``|`|\[/?bold\]|\[/", shown.stdout), shown.stdout


def test_tokens_for_an_existing_user(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    account = {"LEXINTEL_DATA_DIR": str(server.data_dir), "LEXINTEL_PASSWORD": "correct horse battery"}
    assert lexintel("user", "add", "alice", env=account).returncode == 0  # an existing user, no token yet
    users = lexintel("user", "list", env=account)
    assert users.returncode == 0
    header, row = users.stdout.splitlines()
    assert header.split() == ["NAME", "ROLE", "STATUS", "CREATED", "ID"] and row.split()[:3] == [
        "alice", "member", "active"]

    denied = lexintel("cases", "--server", server.url, env={"LEXINTEL_TOKEN": ""})
    assert denied.returncode == 2 and len(denied.stderr.strip().splitlines()) == 1
    assert "`lexintel token create --user NAME` prints one" in denied.stderr
    wrong = lexintel("token", "create", "--user", "alice", "--server", server.url,
                     env={**account, "LEXINTEL_PASSWORD": "not the password"})
    assert wrong.returncode == 2 and "cannot sign in as alice: Wrong user name or password." in wrong.stderr

    created = lexintel("token", "create", "--user", "alice", "--name", "laptop", "--days", "7", "--server",
                       server.url, env=account)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("lxt_") and "\n" not in secret and "shown once" in created.stderr
    bearer = {"LEXINTEL_TOKEN": secret}
    listed = lexintel("token", "list", "--server", server.url, env=bearer)
    assert listed.returncode == 0, listed.stderr
    [token] = httpx.get(f"{server.url}/auth/tokens", headers={"Authorization": f"Bearer {secret}"}).json()
    assert [row[0] for row in table_rows(listed.stdout)] == ["laptop"] and token["id"] in listed.stdout
    assert secret not in listed.stdout
    assert lexintel("cases", "--server", server.url, env=bearer).returncode == 0

    revoked = lexintel("token", "revoke", token["id"], "--server", server.url, env=bearer)
    assert revoked.returncode == 0 and f"revoked token {token['id']}" in revoked.stderr
    assert lexintel("cases", "--server", server.url, env=bearer).returncode == 2
    gone = lexintel("token", "revoke", token["id"], "--user", "alice", "--server", server.url, env=account)
    assert gone.returncode == 2 and f"No token with id {token['id']!r}" in gone.stderr
