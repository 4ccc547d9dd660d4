"""``lexintel user add|list|passwd|disable|enable|delete`` and ``token list --of``, run as real subprocesses.

Every user command takes ``--data-dir`` and prints the database it used; only ``add`` creates one, so a command
run from the wrong folder says so instead of working on (or creating) another database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from lexintel.auth.users import Users
from lexintel.errors import Forbidden
from lexintel.store.db import Database
from lexintel.store.records import Records
from tests.support import ServerProcess

GOOD = "a long enough passphrase"


def lexintel(*args: str, cwd: Path, password: str | None = GOOD, **extra: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: no LEXINTEL_* from the test's environment, from the folder ``cwd``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEXINTEL_")}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", **extra})
    if password is not None:
        env["LEXINTEL_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "lexintel", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=cwd)


def one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The command failed with ``code`` and said so in one line (after the database line) holding ``words``."""
    lines = [line for line in done.stderr.splitlines() if not line.startswith("database: ")]
    assert done.returncode == code and len(lines) == 1, (done.returncode, done.stderr)
    assert all(w in lines[0] for w in words), lines
    return lines[0]


def login_ok(db_path: Path, name: str, password: str) -> bool:
    db = Database(db_path)
    try:
        return anyio.run(Users(db).authenticate, name, password) is not None
    finally:
        db.close()


def test_user_commands_on_a_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "server-data"
    db_path = (data / "lexintel.db").resolve()
    elsewhere = tmp_path / "some-other-folder"
    elsewhere.mkdir()

    wrong = lexintel("user", "list", cwd=elsewhere)  # the first-run trap: no --data-dir, another folder
    assert wrong.returncode == 1 and "no database at" in wrong.stderr
    assert str((elsewhere / "lexintel-data" / "lexintel.db").resolve()) in wrong.stderr
    assert not (elsewhere / "lexintel-data").exists()  # nothing created there

    made = lexintel("user", "add", "admin", "--role", "admin", "--data-dir", str(data), cwd=elsewhere)
    assert made.returncode == 0, made.stderr
    assert f"database: {db_path} (new database)" in made.stderr
    one_line(lexintel("user", "add", "alice", "--data-dir", str(data), cwd=elsewhere, password="too short"), 2,
             "at least 12 characters")
    one_line(lexintel("user", "add", "alice", "--data-dir", str(data), cwd=elsewhere, password="password1234"), 2,
             "most common")
    one_line(lexintel("user", "add", "alice", "--data-dir", str(data), cwd=elsewhere, password="Alice"), 2)
    assert lexintel("user", "add", "alice", "--data-dir", str(data), cwd=elsewhere).returncode == 0
    # the environment's data dir works too, and says which database it used
    listed = lexintel("user", "list", cwd=elsewhere, LEXINTEL_DATA_DIR=str(data))
    assert listed.returncode == 0 and f"database: {db_path}\n" in listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "ROLE", "STATUS", "CREATED", "ID"]
    assert [row.split()[:3] for row in rows] == [["admin", "admin", "active"], ["alice", "member", "active"]]

    assert lexintel("user", "disable", "alice", "--data-dir", str(data), cwd=elsewhere).returncode == 0
    with pytest.raises(Forbidden, match="disabled"):  # the right password, a disabled account
        login_ok(db_path, "alice", GOOD)
    rows = lexintel("user", "list", "--data-dir", str(data), cwd=elsewhere).stdout.splitlines()[1:]
    assert [row.split()[:3] for row in rows][1] == ["alice", "member", "disabled"]
    assert lexintel("user", "enable", "alice", "--data-dir", str(data), cwd=elsewhere).returncode == 0
    assert login_ok(db_path, "alice", GOOD)
    one_line(lexintel("user", "disable", "admin", "--data-dir", str(data), cwd=elsewhere), 2, "only enabled admin")
    one_line(lexintel("user", "disable", "nobody", "--data-dir", str(data), cwd=elsewhere), 2, "no user named")

    changed = lexintel("user", "passwd", "alice", "--data-dir", str(data), cwd=elsewhere, password="another passphrase")
    assert changed.returncode == 0 and "password of 'alice' changed" in changed.stderr, changed.stderr
    assert login_ok(db_path, "alice", "another passphrase") and not login_ok(db_path, "alice", GOOD)
    one_line(lexintel("user", "passwd", "alice", "--data-dir", str(data), cwd=elsewhere, password="Qwerty123456"),
             2, "most common")

    db = Database(db_path)
    try:
        alice = Users(db).record("alice")
        assert alice is not None
        case_id = Records(db).create_case("Alice's matter", owner_id=alice.id)["id"]
    finally:
        db.close()
    one_line(lexintel("user", "delete", "alice", "--data-dir", str(data), cwd=elsewhere), 2, "owns 1 case",
             "--transfer-to")
    gone = lexintel("user", "delete", "alice", "--transfer-to", "admin", "--data-dir", str(data), cwd=elsewhere)
    assert gone.returncode == 0 and "1 case(s) now owned by 'admin'" in gone.stderr, gone.stderr
    db = Database(db_path)
    try:
        admin = Users(db).record("admin")
        assert admin is not None and Records(db).case(case_id)["owner_id"] == admin.id
        assert Users(db).record("alice") is None
    finally:
        db.close()
    one_line(lexintel("user", "passwd", "ghost", "--data-dir", str(tmp_path / "empty"), cwd=elsewhere), 2,
             "no database at")
    assert not (tmp_path / "empty").exists()


@pytest.mark.parametrize("command", ["passwd", "disable", "enable", "delete"])
def test_every_user_command_has_data_dir_and_help(tmp_path: Path, command: str) -> None:
    shown = lexintel("user", command, "--help", cwd=tmp_path)
    assert shown.returncode == 0 and "--data-dir" in shown.stdout and "NAME" in shown.stdout.upper()


def test_an_admin_lists_another_users_tokens_from_the_cli(server_factory: Callable[..., ServerProcess],
                                                           tmp_path: Path) -> None:
    server = server_factory(LEXINTEL_AUTH="on")
    data = str(server.data_dir)
    admin = lexintel("user", "add", "root", "--role", "admin", "--token", "--data-dir", data, cwd=tmp_path)
    bob = lexintel("user", "add", "bob", "--token", "--data-dir", data, cwd=tmp_path)
    assert admin.returncode == 0 and bob.returncode == 0, admin.stderr + bob.stderr
    root_token, bob_token = admin.stdout.strip(), bob.stdout.strip()
    listed = lexintel("token", "list", "--of", "bob", "--server", server.url, cwd=tmp_path, LEXINTEL_TOKEN=root_token)
    assert listed.returncode == 0, listed.stderr
    assert "1 API token of bob" in listed.stdout and "cli" in listed.stdout and bob_token not in listed.stdout
    refused = lexintel("token", "list", "--of", "root", "--server", server.url, cwd=tmp_path,
                       LEXINTEL_TOKEN=bob_token)
    assert refused.returncode == 2 and "Only an admin can list another user's tokens" in refused.stderr
    missing = lexintel("token", "list", "--of", "nobody", "--server", server.url, cwd=tmp_path,
                       LEXINTEL_TOKEN=root_token)
    assert missing.returncode == 2 and "No user named 'nobody'" in missing.stderr
