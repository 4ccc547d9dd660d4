"""``lexintel user add NAME [--role admin|member] [--token]`` and ``lexintel user list``.

Works on the data directory directly (same ``LEXINTEL_DATA_DIR``/``LEXINTEL_DATABASE_PATH`` as the server),
so the first admin can be created before the server has ever run, or while it runs (SQLite WAL).
The password comes from ``LEXINTEL_PASSWORD`` (scripts) or an interactive prompt typed twice (never an
argument: it would land in shell history and ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from lexintel.auth.tokens import ApiTokens
from lexintel.auth.users import ROLES, Users
from lexintel.errors import AppError, InvalidInput
from lexintel.settings import Settings
from lexintel.store.db import Database

__all__ = ["add_user_commands", "run_user_command"]

TOKEN_DAYS = 90


def add_user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``user add`` and ``user list``."""
    u = sub.add_parser("user", help="manage accounts (works on the data dir; the server may be running)")
    usub = u.add_subparsers(dest="user_command", required=True)
    a = usub.add_parser("add", help="create a user; the password is read from LEXINTEL_PASSWORD or prompted")
    a.add_argument("name")
    a.add_argument("--role", choices=ROLES, default="member")
    a.add_argument("--token", action="store_true", help=f"also create an API token ({TOKEN_DAYS} days) and print it")
    usub.add_parser("list", help="list users and roles")


def _password() -> str:
    from_env = os.environ.get("LEXINTEL_PASSWORD")
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise InvalidInput("no_password", "set LEXINTEL_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise InvalidInput("password_mismatch", "the two passwords differ")
    return first


def run_user_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``user add``/``user list``; a domain error (a bad name, a taken one, a weak password) becomes one line
    on stderr and exit status 2."""
    db = Database(settings.db_path)
    try:
        users = Users(db)
        if args.user_command == "list":
            rows = users.list()
            width = max([4, *(len(user.name) for user in rows)])
            print(f"{'NAME':<{width}}  ROLE    ID")
            for user in rows:
                print(f"{user.name:<{width}}  {user.role:<6}  {user.id}")
            return 0
        user = users.create(args.name, _password(), args.role)
        print(f"created {user.role} {user.name!r} ({user.id})", file=sys.stderr)
        if args.token:
            token = ApiTokens(db, users).create(user, "cli", TOKEN_DAYS * 86400.0)
            print(f"API token (shown once, expires in {TOKEN_DAYS} days):", file=sys.stderr)
            print(token["token"])
        if settings.auth != "on":
            print("note: LEXINTEL_AUTH=off: the server ignores accounts until auth is on", file=sys.stderr)
        return 0
    except AppError as exc:
        print(f"lexintel user: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        db.close()
