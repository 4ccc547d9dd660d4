"""Login sessions for the web page: server-side rows behind an HttpOnly, SameSite=Strict cookie.

Server-side rows (not a signed cookie) so logout and deleting a user end the session at once. The cookie
holds a 256-bit random secret; the table holds its sha256. Each session has its own CSRF token, returned by
``POST /auth/login`` and ``GET /auth/me``: a cookie-authenticated POST/PUT/PATCH/DELETE must echo it in the
``X-CSRF-Token`` header (a cross-site page can make the browser send the cookie but cannot read the token).
SameSite=Strict already keeps the cookie off cross-site requests; the header is the second lock.
Bearer-token requests carry no ambient credential and are exempt.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from litestar.datastructures import Cookie

from lexintel.auth.tokens import sha256_hex
from lexintel.auth.users import User, Users
from lexintel.clock import utc_now_iso
from lexintel.store.accounts import Accounts
from lexintel.store.db import Database

__all__ = ["COOKIE_NAME", "CSRF_HEADER", "SESSION_TTL", "Session", "Sessions", "session_cookie"]

COOKIE_NAME = "lexintel_session"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = 12 * 3600.0  # a working day; log in again after


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: float
    id_hash: str = ""  # sha256 of the cookie: the row's key

    @property
    def credential(self) -> str:
        """How streams opened through this session name it (see :mod:`lexintel.auth.tokens`)."""
        return f"session:{self.id_hash}"

    def csrf_ok(self, sent: str | None) -> bool:
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf_token.encode())


def session_cookie(value: str, *, secure: bool, max_age: int | None = None) -> Cookie:
    """The login cookie (an empty value with max_age=0 deletes it)."""
    return Cookie(key=COOKIE_NAME, value=value, path="/", httponly=True, samesite="strict", secure=secure,
                  max_age=int(SESSION_TTL) if max_age is None else max_age)


class Sessions:
    """Login sessions: create, look up, end (rows in :class:`~lexintel.store.accounts.Accounts`)."""

    def __init__(self, db: Database, users: Users) -> None:
        self.db = db
        self.users = users
        self.rows = Accounts(db)

    def create(self, user: User) -> tuple[str, Session]:
        """A new session; returns the cookie secret (shown to the browser only) and the session."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = time.time()
        id_hash = sha256_hex(secret)
        self.rows.insert_session(id_hash, user.id, csrf, utc_now_iso(), now + SESSION_TTL, now)
        return secret, Session(user, csrf, now + SESSION_TTL, id_hash)

    def get(self, secret: str) -> Session | None:
        """The live session for a cookie value, else None."""
        if len(secret) > 200:
            return None
        id_hash = sha256_hex(secret)
        row = self.rows.session(id_hash)
        if row is None or row["expires_at"] <= time.time():
            return None
        user = self.users.get(row["user_id"])  # None for a disabled user
        return Session(user, row["csrf_token"], row["expires_at"], id_hash) if user else None

    def end(self, secret: str) -> str:
        """Delete a session (logout); returns its credential, whose streams the caller ends."""
        id_hash = sha256_hex(secret)
        self.rows.delete_session(id_hash)
        return f"session:{id_hash}"

    def end_all(self, user_id: str, keep: Session | None = None) -> None:
        """End every session of a user (a password change), except ``keep``."""
        self.rows.delete_sessions_of(user_id, keep.id_hash if keep else None)
