"""Users and roles. Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile).

Hashing costs tens of milliseconds of CPU on purpose, so it runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Literal

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import Conflict, InvalidInput
from lexintel.store.accounts import Accounts
from lexintel.store.db import Database

__all__ = ["IMPLICIT_ADMIN", "ROLES", "Role", "User", "Users", "hash_password"]

Role = Literal["admin", "member"]
ROLES: tuple[Role, ...] = ("admin", "member")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_hasher = PasswordHasher()
# Verified against when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("lexintel-dummy-password")


@dataclass(frozen=True)
class User:
    """The caller of a request."""

    id: str
    name: str
    role: Role
    implicit: bool = False  # the single local admin of LEXINTEL_AUTH=off (no users row)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


IMPLICIT_ADMIN = User(id="local", name="local", role="admin", implicit=True)


def hash_password(password: str) -> str:
    """An argon2id hash string (salt and parameters included)."""
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], name=row["name"], role=row["role"])


class Users:
    """Users and their passwords (rows in :class:`~lexintel.store.accounts.Accounts`)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows = Accounts(db)

    def count(self) -> int:
        return self.rows.count_users()

    def get(self, user_id: str) -> User | None:
        row = self.rows.user(user_id)
        return _user(row) if row else None

    def by_name(self, name: str) -> User | None:
        row = self.rows.user_by_name(name)
        return _user(row) if row else None

    def list(self) -> list[User]:
        return [_user(r) for r in self.rows.users()]

    def create(self, name: str, password: str, role: str = "member") -> User:
        """Insert a user; names are case-insensitively unique. Hashes on the calling thread (CLI use)."""
        if not _NAME.match(name):
            raise InvalidInput("invalid_user_name", "A user name is 1-64 letters, digits or . _ @ - and starts "
                               "with a letter or digit.")
        if role not in ROLES:
            raise InvalidInput("invalid_role", f"Role must be one of {', '.join(ROLES)}.")
        if len(password) < 8:
            raise InvalidInput("weak_password", "A password needs at least 8 characters.")
        user_id = new_id()
        if not self.rows.insert_user(user_id, name, role, hash_password(password), utc_now_iso()):
            raise Conflict("user_exists", f"A user named {name!r} already exists.")
        return User(id=user_id, name=name, role=role)

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches, else None (same cost whether or not the name exists)."""
        row = self.rows.credentials(name)
        stored = row["password_hash"] if row else _DUMMY_HASH
        ok = await anyio.to_thread.run_sync(_verify, stored, password)
        return _user(row) if row is not None and ok else None
