"""Users and roles. Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile).

Hashing costs tens of milliseconds of CPU on purpose, so on the server it runs in a worker thread, never on the
event loop (the ``*_async`` methods); the CLI hashes on its own thread. A disabled user is not a caller: ``get``
(what sessions, API tokens and stream tokens resolve through) answers None for them, so every credential they
hold stops working at once, and :meth:`Users.authenticate` refuses their login.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from typing import Literal

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lexintel.auth.passwords import DEFAULT_MIN_LENGTH, MAX_LENGTH, check_password
from lexintel.clock import new_id, utc_now_iso
from lexintel.errors import Conflict, Forbidden, InvalidInput
from lexintel.store.accounts import Accounts
from lexintel.store.db import Database

__all__ = ["IMPLICIT_ADMIN", "ROLES", "Role", "User", "UserRecord", "Users", "hash_password"]

Role = Literal["admin", "member"]
ROLES: tuple[Role, ...] = ("admin", "member")
NAME_MAX = 64
_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9._@-]{{0,{NAME_MAX - 1}}}$")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so a wrong name costs as long as a wrong password (made on
    first use: hashing at import would slow every ``lexintel user`` command)."""
    return _hasher.hash("lexintel-dummy-password")


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


@dataclass(frozen=True)
class UserRecord:
    """A user as an admin manages it (``GET /users``, ``lexintel user list``)."""

    id: str
    name: str
    role: Role
    disabled: bool
    created_at: str

    @property
    def user(self) -> User:
        return User(id=self.id, name=self.name, role=self.role)


IMPLICIT_ADMIN = User(id="local", name="local", role="admin", implicit=True)


def hash_password(password: str) -> str:
    """An argon2id hash string (salt and parameters included)."""
    return _hasher.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    """In a worker thread: check ``password`` against ``stored`` (None: against the dummy, same cost)."""
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _user(row: sqlite3.Row) -> User:
    return User(id=row["id"], name=row["name"], role=row["role"])


def _record(row: sqlite3.Row) -> UserRecord:
    return UserRecord(id=row["id"], name=row["name"], role=row["role"], disabled=bool(row["disabled"]),
                      created_at=row["created_at"])


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise InvalidInput("invalid_user_name", f"A user name is 1-{NAME_MAX} letters, digits or . _ @ - and starts "
                           "with a letter or digit.", field="name")


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput("invalid_role", f"Role must be one of {', '.join(ROLES)}.", field="role")


class Users:
    """Users and their passwords (rows in :class:`~lexintel.store.accounts.Accounts`)."""

    def __init__(self, db: Database, min_password_length: int = DEFAULT_MIN_LENGTH) -> None:
        self.db = db
        self.rows = Accounts(db)
        self.min_password_length = min_password_length

    def count(self) -> int:
        return self.rows.count_users()

    def get(self, user_id: str) -> User | None:
        """The user as a caller: None when unknown or disabled."""
        row = self.rows.user(user_id)
        return _user(row) if row and not row["disabled"] else None

    def by_name(self, name: str) -> User | None:
        """The enabled user with this name, else None."""
        row = self.rows.user_by_name(name)
        return _user(row) if row and not row["disabled"] else None

    def record(self, name: str) -> UserRecord | None:
        """The user with this name, enabled or not."""
        row = self.rows.user_by_name(name) if len(name) <= NAME_MAX else None
        return _record(row) if row else None

    def list(self) -> list[UserRecord]:
        return [_record(r) for r in self.rows.users()]

    def check_new(self, name: str, password: str, role: str = "member") -> None:
        """InvalidInput naming the field when a new user could not be created with these values."""
        check_name(name)
        check_role(role)
        check_password(password, name, self.min_password_length)

    def _insert(self, name: str, role: str, password_hash: str) -> User:
        user_id = new_id()
        if not self.rows.insert_user(user_id, name, role, password_hash, utc_now_iso()):
            raise Conflict("user_exists", f"A user named {name!r} already exists.")
        return User(id=user_id, name=name, role=role)  # type: ignore[arg-type]  # checked by check_role

    def create(self, name: str, password: str, role: str = "member") -> User:
        """Insert a user; names are case-insensitively unique. Hashes on the calling thread (CLI use)."""
        self.check_new(name, password, role)
        return self._insert(name, role, hash_password(password))

    async def create_async(self, name: str, password: str, role: str = "member") -> User:
        """:meth:`create` with the hashing in a worker thread (server use)."""
        self.check_new(name, password, role)
        return self._insert(name, role, await anyio.to_thread.run_sync(hash_password, password))

    def set_password(self, record: UserRecord, password: str, password_hash: str | None = None) -> None:
        """Give a user a new password (checked against the rule); the caller ends their other sessions."""
        check_password(password, record.name, self.min_password_length)
        self.rows.update_user(record.id, password_hash=password_hash or hash_password(password))

    async def set_password_async(self, record: UserRecord, password: str) -> None:
        check_password(password, record.name, self.min_password_length)
        self.set_password(record, password, await anyio.to_thread.run_sync(hash_password, password))

    def update(self, record: UserRecord, *, role: str | None = None, disabled: bool | None = None) -> UserRecord:
        """Change role and/or disabled (disabling deletes their sessions); never leaves no enabled admin."""
        if role is not None:
            check_role(role)
        demoted = role is not None and role != "admin"
        if record.role == "admin" and not record.disabled and (demoted or disabled):
            self._keep_an_admin(f"{record.name} is the only enabled admin: make another admin first.")
        self.rows.update_user(record.id, role=role, disabled=disabled)
        updated = self.record(record.name)
        assert updated is not None
        return updated

    def delete(self, record: UserRecord, transfer_to: UserRecord | None = None) -> int:
        """Delete a user; their cases must be given to ``transfer_to`` (Conflict otherwise). Returns the number
        of cases transferred."""
        if record.role == "admin" and not record.disabled:
            self._keep_an_admin(f"{record.name} is the only enabled admin: make another admin first.")
        owned = self.rows.cases_owned(record.id)
        if transfer_to is None and owned:
            raise Conflict("user_owns_cases", f"{record.name} owns {owned} case{'s' if owned != 1 else ''}: give "
                           "them to another user with ?transfer_to=NAME (lexintel user delete NAME --transfer-to "
                           "OTHER), or delete the cases first.", cases=owned)
        if transfer_to is not None and transfer_to.id == record.id:
            raise InvalidInput("invalid_transfer", "transfer_to must be another user.", field="transfer_to")
        return self.rows.delete_user(record.id, transfer_to.id if transfer_to else None)

    def _keep_an_admin(self, why: str) -> None:
        if self.rows.count_enabled_admins() <= 1:
            raise Conflict("last_admin", why)

    async def verify(self, user_id: str, password: str) -> bool:
        """True if ``password`` is this user's (a current-password check; same cost whatever the answer)."""
        stored = self.rows.password_hash(user_id)
        return await anyio.to_thread.run_sync(_verify, stored, password[:MAX_LENGTH])

    async def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password matches, else None (same cost whether or not the name exists). A disabled
        user with the right password gets Forbidden ``account_disabled``: they can do nothing with it, and
        otherwise they would only ever read "wrong password"."""
        row = self.rows.credentials(name)
        stored = row["password_hash"] if row else None
        ok = await anyio.to_thread.run_sync(_verify, stored, password)
        if row is None or not ok:
            return None
        if row["disabled"]:
            raise Forbidden("account_disabled", "This account is disabled; ask an admin to enable it.")
        return _user(row)
