"""``lexintel user add|list|passwd|disable|enable|delete``: accounts, on the data directory itself.

Works on the database directly (``--data-dir``, else ``LEXINTEL_DATA_DIR``/``LEXINTEL_DATABASE_PATH``, as the
server reads them), so the first admin can be created before the server has ever run, or while it runs (SQLite
WAL; a running server notices a disabled or deleted user within ``LEXINTEL_REVOCATION_CHECK_INTERVAL`` seconds
and ends their streams). Every command prints the database it used on stderr, so a command run from the wrong
folder says so instead of quietly working on another data dir: only ``user add`` creates a database (and says
"new database"); the others refuse a path where there is none.

The password comes from ``LEXINTEL_PASSWORD`` (scripts) or an interactive prompt typed twice (never an
argument: it would land in shell history and ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from lexintel.auth.tokens import ApiTokens
from lexintel.auth.users import ROLES, UserRecord, Users
from lexintel.errors import AppError, InvalidInput, NotFound
from lexintel.settings import Settings
from lexintel.store.db import Database

__all__ = ["add_user_commands", "run_user_command"]

TOKEN_DAYS = 90
_DATA_DIR_HELP = "the server's data directory (default: $LEXINTEL_DATA_DIR or ./lexintel-data)"


def add_user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``user add|list|passwd|disable|enable|delete``."""
    u = sub.add_parser("user", help="manage accounts (works on the data dir; the server may be running)")
    usub = u.add_subparsers(dest="user_command", required=True, metavar="{add,list,passwd,disable,enable,delete}")
    a = usub.add_parser("add", help="create a user; the password is read from LEXINTEL_PASSWORD or prompted")
    a.add_argument("name")
    a.add_argument("--role", choices=ROLES, default="member")
    a.add_argument("--token", action="store_true", help=f"also create an API token ({TOKEN_DAYS} days) and print it")
    commands = [a, usub.add_parser("list", help="list users: name, role, status, created, id")]
    p = usub.add_parser("passwd", help="set a user's password (LEXINTEL_PASSWORD or prompted); ends their sessions")
    d = usub.add_parser("disable", help="stop a user from logging in; their sessions end, tokens stop working")
    e = usub.add_parser("enable", help="let a disabled user log in again (their API tokens work again)")
    x = usub.add_parser("delete", help="delete a user, their tokens, sessions and shares")
    x.add_argument("--transfer-to", metavar="NAME", help="give the cases the user owns to this user")
    for cmd in (p, d, e, x):
        cmd.add_argument("name")
        commands.append(cmd)
    for cmd in commands:
        cmd.add_argument("--data-dir", type=Path, help=_DATA_DIR_HELP)


def _password(prompt: str = "Password: ") -> str:
    from_env = os.environ.get("LEXINTEL_PASSWORD")
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise InvalidInput("no_password", "set LEXINTEL_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass(prompt)
    if getpass.getpass("Repeat password: ") != first:
        raise InvalidInput("password_mismatch", "the two passwords differ")
    return first


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def _list(users: Users) -> int:
    rows = users.list()
    if not rows:
        _say("no users yet: create the first admin with `lexintel user add admin --role admin`")
    width = max([4, *(len(user.name) for user in rows)])
    print(f"{'NAME':<{width}}  ROLE    STATUS    CREATED           ID")
    for user in rows:
        status = "disabled" if user.disabled else "active"
        created = user.created_at[:16].replace("T", " ")
        print(f"{user.name:<{width}}  {user.role:<6}  {status:<8}  {created:<16}  {user.id}")
    return 0


def _find(users: Users, name: str) -> UserRecord:
    record = users.record(name)
    if record is None:
        raise NotFound("user_not_found", f"no user named {name!r} in this database (`lexintel user list`)")
    return record


def _act(args: argparse.Namespace, db: Database, users: Users, settings: Settings) -> int:
    command = args.user_command
    if command == "list":
        return _list(users)
    if command == "add":
        user = users.create(args.name, _password(), args.role)
        _say(f"created {user.role} {user.name!r} ({user.id})")
        if args.token:
            token = ApiTokens(db, users).create(user, "cli", TOKEN_DAYS * 86400.0)
            _say(f"API token (shown once, expires in {TOKEN_DAYS} days):")
            print(token["token"])
        if settings.auth != "on":
            _say("note: LEXINTEL_AUTH=off: the server ignores accounts until auth is on")
        return 0
    record = _find(users, args.name)
    if command == "passwd":
        users.set_password(record, _password(f"New password for {record.name}: "))
        users.rows.delete_sessions_of(record.id)
        _say(f"password of {record.name!r} changed; their login sessions ended (API tokens are kept)")
    elif command in ("disable", "enable"):
        users.update(record, disabled=command == "disable")
        _say(f"{record.name!r} {command}d" + (": sessions ended, tokens and streams stop working within seconds"
                                             if command == "disable" else ""))
    else:
        heir = _find(users, args.transfer_to) if args.transfer_to else None
        moved = users.delete(record, heir)
        _say(f"deleted {record.name!r}" + (f"; {moved} case(s) now owned by {heir.name!r}" if heir else ""))
    return 0


def run_user_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``user`` command; a domain error (a bad name, a taken one, a weak password, an unknown user)
    becomes one line on stderr and exit status 2. ``user list`` on a path with no database says so (exit 1)."""
    settings = settings.with_overrides(data_dir=getattr(args, "data_dir", None))  # as `serve --data-dir` does
    path = settings.db_path.resolve()
    exists = path.exists()
    if not exists and args.user_command != "add":
        _say(f"lexintel user: no database at {path}, so no users: is this the server's data directory? "
             "(--data-dir or LEXINTEL_DATA_DIR)")
        return 1 if args.user_command == "list" else 2
    _say(f"database: {path}" + ("" if exists else " (new database)"))
    db = Database(path)
    try:
        return _act(args, db, Users(db, settings.password_min_length), settings)
    except AppError as exc:
        print(f"lexintel user: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        db.close()
