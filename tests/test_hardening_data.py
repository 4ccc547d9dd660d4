"""Owner-only data directory (issue 13 item 6) and no unauthenticated server on the network (item 8).

A real ``lexintel serve`` started with umask 000 (everything world-writable by default) receives a file, a ZIP
and a chunked upload: every directory under its data dir must be 0700 and every file 0600, the database's
``-wal``/``-shm`` included. ``LEXINTEL_AUTH=off`` with a non-loopback ``--host`` stops at start unless the
loudly named override is set.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from lexintel.settings import Settings, SettingsError
from lexintel.store.db import Database
from lexintel.store.files import FileStore
from lexintel.store.lock import DataDirLock
from tests.helpers import ServerProcess, free_port, wait_for

ServerFactory = Callable[..., ServerProcess]


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, str]:
    """Every path under ``root`` (and ``root``) -> its permission bits, in octal."""
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root.parent)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in paths}


def assert_private(root: Path) -> None:
    found = modes(root)
    wrong = {p: m for p, m in found.items()
             if m != (oct(0o700) if (root.parent / p).is_dir() else oct(0o600))}
    assert not wrong, f"not owner-only: {wrong}"


def test_served_data_dir_is_owner_only_whatever_the_umask(server_factory: ServerFactory, tmp_path: Path) -> None:
    with umask(0):
        server = server_factory(tmp_path / "data")
    http = httpx.Client(base_url=server.url, timeout=60)
    case_id = http.post("/cases", json={"name": "Private"}).json()["id"]
    single = http.post(f"/cases/{case_id}/documents", files={"files": ("memo.txt", b"Privileged memo.", "text/plain")})
    assert single.status_code == 202, single.text
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", "Exhibit A, confidential.")
        zf.writestr("b.txt", "Exhibit B, confidential.")
    batch = http.post(f"/cases/{case_id}/documents", files={"files": ("exhibits.zip", buf.getvalue())})
    assert batch.status_code == 202, batch.text
    data = b"Deposition transcript, page one. " * 300
    upload = http.post(f"/cases/{case_id}/uploads", json={"filename": "depo.txt", "total_size": len(data),
                                                           "chunk_size": 4096}).json()
    for index in range(-(-len(data) // 4096)):
        assert http.put(f"/uploads/{upload['upload_id']}/chunks/{index}",
                        content=data[index * 4096:(index + 1) * 4096]).status_code in (200, 201, 202)
    assert http.post(f"/uploads/{upload['upload_id']}/complete").status_code == 202

    def indexed() -> bool:
        docs = http.get(f"/cases/{case_id}/documents").json()
        return len(docs) == 4 and all(d["status"] == "indexed" for d in docs)

    wait_for(indexed, timeout=60, what="four documents indexed")
    root = server.data_dir
    files = {p.name for p in root.rglob("*") if p.is_file()}
    assert {"lexintel.db", "lexintel.db-wal", "lexintel.db-shm", "stream-token.key"} <= files
    assert len([p for p in (root / "files").rglob("*") if p.is_file()]) == 4
    assert_private(root)


def test_an_existing_open_data_dir_is_closed_and_new_files_are_private(tmp_path: Path) -> None:
    root = tmp_path / "old-data"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)
    with umask(0o000):  # in-process (no `lexintel` start-up umask): the explicit modes alone
        lock = DataDirLock(root).acquire()
        try:
            db = Database(root / "lexintel.db")
            with db.transaction() as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS probe (x)")
            store = FileStore(root)
            assert_private(root)
            db.close()
        finally:
            lock.release()
    assert store.files.is_dir()


def test_auth_off_on_a_network_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(data_dir=tmp_path, auth="off", host="0.0.0.0").validate()
    message = str(refused.value)
    assert message.startswith("LEXINTEL_AUTH:") and "LEXINTEL_DANGEROUS_AUTH_OFF_ON_NETWORK" in message
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        Settings(data_dir=tmp_path, auth="off", host=host).validate()
    Settings(data_dir=tmp_path, auth="off", host="192.168.1.20", dangerous_auth_off_on_network=True).validate()
    with pytest.raises(SettingsError, match="LEXINTEL_AUTH"):
        Settings.from_env({"LEXINTEL_AUTH": "off", "LEXINTEL_HOST": "::"})
    with pytest.raises(SettingsError, match="LEXINTEL_ALLOWED_HOSTS"):
        Settings.from_env({"LEXINTEL_ALLOWED_HOSTS": "https://lexintel.example/"})
    with pytest.raises(SettingsError, match="LEXINTEL_TRUSTED_PROXIES"):
        Settings.from_env({"LEXINTEL_TRUSTED_PROXIES": "proxy.internal"})
    with pytest.raises(SettingsError, match="LEXINTEL_HEADER_TIMEOUT"):
        Settings.from_env({"LEXINTEL_HEADER_TIMEOUT": "0"})


def _serve(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[str]:
    full = {**os.environ, "LEXINTEL_DATA_DIR": str(tmp_path / "d"), "LEXINTEL_AUTH": "off", **env}
    full.pop("LEXINTEL_HOST", None)
    return subprocess.Popen([sys.executable, "-m", "lexintel", "serve", "--host", "0.0.0.0", "--port", str(port)],
                            env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_serve_refuses_auth_off_on_0000_unless_overridden_loudly(tmp_path: Path) -> None:
    proc = _serve(tmp_path, free_port())
    try:
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # it started serving: the refusal is missing
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 2, err
    assert "invalid configuration: LEXINTEL_AUTH" in err and "0.0.0.0" in err

    port = free_port()
    proc = _serve(tmp_path, port, LEXINTEL_DANGEROUS_AUTH_OFF_ON_NETWORK="1")
    try:
        def up() -> bool:
            assert proc.poll() is None, proc.communicate()[1]
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30, what="the overridden server")
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "WARNING: authentication is OFF on 0.0.0.0" in err
