"""API tokens (Bearer) and stream tokens (``?token=`` on the three SSE routes).

API tokens are 256-bit random secrets shown once at creation; only their sha256 is stored. A slow hash adds
nothing for secrets that cannot be guessed, and sha256 lets a lookup be one indexed query.

Stream tokens exist because a browser's EventSource cannot send an Authorization header. They are signed
(HMAC-SHA256 with a per-instance secret kept in the data dir), bound to one user and one stream path, and
expire after a few minutes, so one leaked from a URL (logs, Referer, history) is worth little. A long-lived
API token is never accepted in a URL. A stream token also names the credential it was issued through (an API
token's id, or a login session's hash, which is not itself a secret): once that credential is revoked or
logged out, its stream tokens stop working too, and the streams opened with them end
(:mod:`lexintel.auth.revocation`).

A *credential* is a string naming what a request authenticated with: ``token:<id>`` or ``session:<sha256>``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from lexintel.auth.users import User, Users
from lexintel.clock import new_id, utc_now_iso
from lexintel.store.accounts import Accounts
from lexintel.store.db import Database

__all__ = ["API_TOKEN_PREFIX", "NAME_MAX", "STREAM_TOKEN_TTL", "ApiTokens", "StreamTokens", "sha256_hex"]

API_TOKEN_PREFIX = "lxt_"  # noqa: S105  (a prefix that makes leaked tokens easy to grep for)
STREAM_TOKEN_TTL = 300.0  # seconds: long enough to open the stream, short enough to be useless once leaked
_TOUCH_EVERY = 60.0  # seconds between last_used_at writes of one token
NAME_MAX = 200  # characters of a token's name


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokens:
    """API tokens: issue, check, list and revoke (rows in :class:`~lexintel.store.accounts.Accounts`)."""

    def __init__(self, db: Database, users: Users) -> None:
        self.db = db
        self.users = users
        self.rows = Accounts(db)

    def create(self, user: User, name: str, ttl_seconds: float) -> dict[str, Any]:
        """A new token for ``user``; the returned ``token`` is the only time the secret is shown."""
        secret = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = new_id()
        expires_at = time.time() + ttl_seconds
        self.rows.insert_token(token_id, user.id, name, sha256_hex(secret), utc_now_iso(), expires_at)
        return {"id": token_id, "name": name, "token": secret, "expires_at": expires_at}

    def identify(self, secret: str) -> tuple[User, str] | None:
        """The (enabled) owner of an unexpired token and the credential (``token:<id>``), else None."""
        if not secret.startswith(API_TOKEN_PREFIX) or len(secret) > 200:
            return None
        row = self.rows.token_by_hash(sha256_hex(secret))
        now = time.time()
        if row is None or row["expires_at"] <= now:
            return None
        user = self.users.get(row["uid"])
        if user is None:
            return None
        if row["last_used_at"] is None or now - row["last_used_at"] > _TOUCH_EVERY:
            self.rows.touch_token(row["id"], now)
        return user, f"token:{row['id']}"

    def authenticate(self, secret: str) -> User | None:
        """The owner of an unexpired token, else None."""
        found = self.identify(secret)
        return found[0] if found else None

    def list(self, user: User) -> list[dict[str, Any]]:
        """A user's tokens without their secrets."""
        rows = self.rows.tokens_of(user.id)
        return [{k: r[k] for k in ("id", "name", "created_at", "expires_at", "last_used_at")} for r in rows]

    def revoke(self, user: User, token_id: str) -> bool:
        """Delete one of ``user``'s tokens (an admin may revoke anyone's); False if there is none to delete."""
        return self.rows.delete_token(token_id, None if user.is_admin else user.id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_or_create_secret(path: Path) -> bytes:
    """The instance's signing key: 32 random bytes in a 0600 file, created on first use."""
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) < 32:
        raise RuntimeError(f"{path} is damaged (shorter than 32 bytes): delete it to make a new one")
    return key


class StreamTokens:
    """Sign and check stream tokens: ``<base64url payload>.<base64url HMAC>``; payload ``{u, p, e}``."""

    def __init__(self, key: bytes, ttl: float = STREAM_TOKEN_TTL) -> None:
        self._key = key
        self.ttl = ttl

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest())

    def issue(self, user: User, path: str, now: float | None = None, credential: str | None = None
              ) -> tuple[str, float]:
        """A token for ``user`` to open exactly ``path``, valid while ``credential`` is; and when it expires."""
        expires_at = (time.time() if now is None else now) + self.ttl
        claims: dict[str, Any] = {"u": user.id, "p": path, "e": round(expires_at, 3)}
        if credential is not None:
            claims["c"] = credential
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}", expires_at

    def check(self, token: str, path: str) -> str | None:
        """The user id if ``token`` is genuine, unexpired and bound to ``path``; else None."""
        found = self.claims(token, path)
        return found[0] if found else None

    def claims(self, token: str, path: str) -> tuple[str, str | None] | None:
        """(user id, issuing credential or None) if ``token`` is genuine, unexpired and bound to ``path``."""
        if len(token) > 2000 or token.count(".") != 1:
            return None
        body, sig = token.split(".")
        try:
            payload = _unb64(body)
            if not hmac.compare_digest(self._sign(payload), sig):
                return None
            claims = json.loads(payload)
        except (ValueError, TypeError):
            return None
        if not isinstance(claims, dict) or claims.get("p") != path:
            return None
        expires, user_id, credential = claims.get("e"), claims.get("u"), claims.get("c")
        if not isinstance(expires, int | float) or expires <= time.time() or not isinstance(user_id, str):
            return None
        return user_id, credential if isinstance(credential, str) else None
