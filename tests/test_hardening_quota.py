"""Per-user caps on chunked upload sessions (issue 13 item 4): a member cannot park unlimited sessions or
declared bytes, and one member's parked sessions never cost another member their upload.

The caps count per case owner (whose storage it is): open sessions (429 ``too_many_uploads``), declared bytes
of open sessions (413 ``upload_quota_exceeded``, which also bounds the bytes parked in unfinished sessions:
every chunk must match the declared size) and, when configured, a storage quota (507).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lexintel.settings import Settings
from tests.auth_helpers import Account, add_account

GIB = 1024**3


def _members(tmp_path: Path, **overrides: Any) -> tuple[Settings, Account, Account]:
    settings = Settings(data_dir=tmp_path / "data", extraction_workers=1, progress_interval=0.0, auth="on",
                        shutdown_grace=0).with_overrides(**overrides)
    return settings, add_account(settings, "alice"), add_account(settings, "bob")


def _case(client: Any, who: Account) -> str:
    resp = client.post("/cases", json={"name": f"{who.user.name}'s"}, headers=who.headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


def _open(client: Any, who: Account, case_id: str, size: int) -> Any:
    return client.post(f"/cases/{case_id}/uploads", json={"filename": "big.pdf", "total_size": size},
                       headers=who.headers)


def _upload_small(client: Any, who: Account, case_id: str) -> Any:
    data = b"a small note from another member"
    resp = client.post(f"/cases/{case_id}/uploads", json={"filename": "note.txt", "total_size": len(data)},
                       headers=who.headers)
    assert resp.status_code == 201, resp.text
    upload_id = resp.json()["upload_id"]
    assert client.put(f"/uploads/{upload_id}/chunks/0", content=data, headers=who.headers).status_code in (200, 201)
    return client.post(f"/uploads/{upload_id}/complete", headers=who.headers)


def test_open_sessions_per_user_are_capped_and_other_members_upload_fine(
        make_client: Callable[..., Any], tmp_path: Path) -> None:
    settings, alice, bob = _members(tmp_path)  # the default caps
    client = make_client(settings)
    a_case, b_case = _case(client, alice), _case(client, bob)
    for n in range(settings.upload_max_sessions_per_user):
        assert _open(client, alice, a_case, 1024).status_code == 201, n
    refused = _open(client, alice, a_case, 1024)
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert body["code"] == "too_many_uploads" and body["limit"] == "upload_max_sessions_per_user", body
    assert "Retry-After" in refused.headers
    other_case = _case(client, alice)  # a second case of the same owner counts too
    assert _open(client, alice, other_case, 1024).status_code == 429
    done = _upload_small(client, bob, b_case)
    assert done.status_code in (200, 201, 202), done.text


def test_declared_bytes_per_user_are_capped_and_other_members_upload_fine(
        make_client: Callable[..., Any], tmp_path: Path) -> None:
    settings, alice, bob = _members(tmp_path)
    client = make_client(settings)
    a_case, b_case = _case(client, alice), _case(client, bob)
    assert settings.upload_max_open_bytes_per_user == 20 * GIB
    first = _open(client, alice, a_case, 20 * GIB)
    assert first.status_code == 201  # one 20 GiB file is fine
    refused = _open(client, alice, a_case, 1 * GIB)
    assert refused.status_code == 413, refused.text
    assert refused.json()["code"] == "upload_quota_exceeded"
    assert refused.json()["limit"] == "upload_max_open_bytes_per_user"
    done = _upload_small(client, bob, b_case)
    assert done.status_code in (200, 201, 202), done.text
    assert client.delete(f"/uploads/{first.json()['upload_id']}", headers=alice.headers).status_code in (200, 204)
    assert _open(client, alice, a_case, 1 * GIB).status_code == 201  # cancelling freed the allowance


def test_an_optional_storage_quota_refuses_with_507(make_client: Callable[..., Any], tmp_path: Path) -> None:
    settings, alice, bob = _members(tmp_path, storage_quota_bytes=10_000)
    client = make_client(settings)
    a_case, b_case = _case(client, alice), _case(client, bob)
    refused = _open(client, alice, a_case, 20_000)
    assert refused.status_code == 507, refused.text
    assert refused.json()["code"] == "storage_quota_exceeded" and refused.json()["limit"] == "storage_quota_bytes"
    assert _open(client, bob, b_case, 5_000).status_code == 201


def test_a_session_that_never_got_a_chunk_expires_after_the_idle_ttl(
        make_client: Callable[..., Any], tmp_path: Path) -> None:
    settings, alice, _ = _members(tmp_path, upload_idle_ttl=600.0)
    client = make_client(settings)
    resp = _open(client, alice, _case(client, alice), 1024)
    assert resp.status_code == 201
    expires = client.app.state.services.db.query_one("SELECT expires_at FROM upload_sessions")["expires_at"]
    assert expires - time.time() < 601  # not the 24 h of a session that is receiving chunks
