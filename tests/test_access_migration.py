"""Migration 2 on a database written before it: users stay enabled, old shares keep what they allowed (write),
and the new columns refuse values the code never writes. Then a real server on that data dir: the v1 sharee
still uploads, a share turned ``read`` is refused, a user disabled through the API cannot log in."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from lexintel.store import access
from lexintel.store.db import Database
from lexintel.store.migrations import schema_version
from tests.fixtures.v1_database import PASSWORD, V1Data, build_v1_data_dir
from tests.support import ServerProcess


@pytest.fixture
def v1(tmp_path: Path) -> V1Data:
    return build_v1_data_dir(tmp_path / "v1")


def test_a_v1_database_gets_enabled_users_and_write_shares(v1: V1Data) -> None:
    db = Database(v1.db_path)
    try:
        assert schema_version(db.conn) >= 2
        assert [tuple(r) for r in db.query("SELECT name, disabled FROM users ORDER BY name")] == [
            ("alice", 0), ("bob", 0)]
        assert [tuple(r) for r in db.query("SELECT user_id, access FROM case_shares")] == [(v1.member_id, "write")]
        assert access.can_write_case(db, v1.case_id, v1.member_id)
        with pytest.raises(sqlite3.IntegrityError):
            db.conn.execute("UPDATE case_shares SET access = 'owner'")
        with pytest.raises(sqlite3.IntegrityError):
            db.conn.execute("UPDATE users SET disabled = 2")
        access.share_case(db, v1.case_id, v1.member_id, "read", "2026-12-01T00:00:00+00:00")
        assert not access.can_write_case(db, v1.case_id, v1.member_id)
        assert access.can_read_case(db, v1.case_id, v1.member_id)
    finally:
        db.close()


def test_a_server_on_a_v1_data_dir_keeps_the_old_share_and_applies_the_new_rules(v1: V1Data) -> None:
    server = ServerProcess(v1.data_dir, env={"LEXINTEL_AUTH": "on", "LEXINTEL_EXTRACTION_WORKERS": "1",
                                             "LEXINTEL_SHUTDOWN_GRACE": "0"})
    admin = {"Authorization": f"Bearer {v1.admin_token}"}  # alice, an admin since v1
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as bob:
            login = bob.post("/auth/login", json={"username": "bob", "password": PASSWORD})
            assert login.status_code == 200, login.text
            bob.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            files = [("files", ("note.txt", b"a note from bob", "text/plain"))]
            assert bob.post(f"/cases/{v1.case_id}/documents", files=files).status_code == 202  # the v1 share: write
            shares = httpx.get(f"{server.url}/cases/{v1.case_id}/shares", headers=admin).json()
            assert [(s["user"], s["access"]) for s in shares] == [("bob", "write")]
            made_read = httpx.post(f"{server.url}/cases/{v1.case_id}/shares", json={"user": "bob", "access": "read"},
                                   headers=admin)
            assert made_read.status_code == 201, made_read.text
            refused = bob.post(f"/cases/{v1.case_id}/documents", files=files)
            assert (refused.status_code, refused.json()["code"]) == (403, "read_only_share")
            assert bob.get(f"/cases/{v1.case_id}/documents").status_code == 200
            off = httpx.patch(f"{server.url}/users/bob", json={"disabled": True}, headers=admin)
            assert off.status_code == 200, off.text
            assert bob.get(f"/cases/{v1.case_id}/documents").status_code == 401
    finally:
        server.stop()
