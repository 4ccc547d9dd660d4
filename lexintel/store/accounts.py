"""Rows of accounts: users, API tokens and login sessions (the SQL behind :mod:`lexintel.auth`).

Secrets never reach this module in the clear: tokens and session cookies arrive as their sha256, passwords as
their argon2 hash. Lookups are single indexed queries, writes short transactions on the writer connection.
"""

from __future__ import annotations

import sqlite3

from lexintel.store.db import Database

__all__ = ["Accounts"]

_USER = "id, name, role, disabled, created_at"


class Accounts:
    """The ``users``, ``api_tokens`` and ``sessions`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # users
    def count_users(self) -> int:
        row = self.db.query_one("SELECT COUNT(*) FROM users")
        return int(row[0]) if row else 0

    def user(self, user_id: str) -> sqlite3.Row | None:
        """``id, name, role, disabled, created_at`` of a user, or None."""
        return self.db.query_one(f"SELECT {_USER} FROM users WHERE id = ?", (user_id,))

    def user_by_name(self, name: str) -> sqlite3.Row | None:
        """``id, name, role, disabled, created_at`` of the user with this name (case-insensitively unique)."""
        return self.db.query_one(f"SELECT {_USER} FROM users WHERE name = ?", (name,))

    def users(self) -> list[sqlite3.Row]:
        """Every user's ``id, name, role, disabled, created_at``, by name."""
        return self.db.query(f"SELECT {_USER} FROM users ORDER BY name")

    def credentials(self, name: str) -> sqlite3.Row | None:
        """``id, name, role, disabled, created_at, password_hash`` of the user with this name (login only)."""
        return self.db.query_one(f"SELECT {_USER}, password_hash FROM users WHERE name = ?", (name,))

    def password_hash(self, user_id: str) -> str | None:
        row = self.db.query_one("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        return None if row is None else str(row[0])

    def count_enabled_admins(self) -> int:
        row = self.db.query_one("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")
        return int(row[0]) if row else 0

    def update_user(self, user_id: str, *, role: str | None = None, disabled: bool | None = None,
                    password_hash: str | None = None) -> None:
        """Change some of a user's fields; disabling also deletes their login sessions (same transaction)."""
        with self.db.transaction() as conn:
            if role is not None:
                conn.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
            if disabled is not None:
                conn.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user_id))
                if disabled:
                    conn.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
            if password_hash is not None:
                conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))

    def delete_user(self, user_id: str, transfer_to: str | None) -> int:
        """Delete a user (their tokens, sessions and shares go with the row); with ``transfer_to``, first give
        that user the cases ``user_id`` owns (and drop their now pointless shares of them). Returns how many
        cases changed owner."""
        with self.db.transaction() as conn:
            moved = 0
            if transfer_to is not None:
                moved = conn.execute("UPDATE cases SET owner_id = ? WHERE owner_id = ?",
                                     (transfer_to, user_id)).rowcount
                conn.execute("DELETE FROM case_shares WHERE user_id = ? AND case_id IN"
                             " (SELECT id FROM cases WHERE owner_id = ?)", (transfer_to, transfer_to))
            conn.execute("DELETE FROM users WHERE id = ?", (user_id,))
        return moved

    def cases_owned(self, user_id: str) -> int:
        row = self.db.query_one("SELECT COUNT(*) FROM cases WHERE owner_id = ?", (user_id,))
        return int(row[0]) if row else 0

    def insert_user(self, user_id: str, name: str, role: str, password_hash: str, created_at: str) -> bool:
        """Insert a user; False (nothing written) when the name is taken."""
        try:
            with self.db.transaction() as conn:
                conn.execute("INSERT INTO users (id, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                             (user_id, name, role, password_hash, created_at))
        except sqlite3.IntegrityError:
            return False
        return True

    # API tokens
    def insert_token(self, token_id: str, user_id: str, name: str, token_hash: str, created_at: str,
                     expires_at: float) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, user_id, name, token_hash, created_at, expires_at),
            )

    def token_by_hash(self, token_hash: str) -> sqlite3.Row | None:
        """``id, expires_at, last_used_at, uid`` (the owner's id) of the token with this hash, or None."""
        return self.db.query_one(
            "SELECT t.id, t.expires_at, t.last_used_at, u.id AS uid FROM api_tokens t"
            " JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?", (token_hash,))

    def touch_token(self, token_id: str, used_at: float) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (used_at, token_id))

    def tokens_of(self, user_id: str) -> list[sqlite3.Row]:
        """A user's tokens (``id, name, created_at, expires_at, last_used_at``), oldest first."""
        return self.db.query("SELECT id, name, created_at, expires_at, last_used_at FROM api_tokens"
                             " WHERE user_id = ? ORDER BY created_at", (user_id,))

    def token_live(self, token_id: str, user_id: str, now: float) -> bool:
        """True while the token exists, belongs to ``user_id`` and has not expired."""
        return self.db.query_one("SELECT 1 FROM api_tokens WHERE id = ? AND user_id = ? AND expires_at > ?",
                                 (token_id, user_id, now)) is not None

    def delete_token(self, token_id: str, owner_id: str | None) -> bool:
        """Delete a token of ``owner_id`` (None: of anyone); False if there was none to delete."""
        with self.db.transaction() as conn:
            if owner_id is None:
                cur = conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
            else:
                cur = conn.execute("DELETE FROM api_tokens WHERE id = ? AND user_id = ?", (token_id, owner_id))
        return cur.rowcount > 0

    # login sessions
    def insert_session(self, id_hash: str, user_id: str, csrf_token: str, created_at: str, expires_at: float,
                       now: float) -> None:
        """Insert a session, dropping the expired ones in the same transaction (the table stays small)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            conn.execute("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at)"
                         " VALUES (?, ?, ?, ?, ?)", (id_hash, user_id, csrf_token, created_at, expires_at))

    def session(self, id_hash: str) -> sqlite3.Row | None:
        """``user_id, csrf_token, expires_at`` of the session with this cookie hash, or None."""
        return self.db.query_one("SELECT user_id, csrf_token, expires_at FROM sessions WHERE id_hash = ?",
                                 (id_hash,))

    def delete_session(self, id_hash: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    def delete_sessions_of(self, user_id: str, keep: str | None = None) -> None:
        """End every login session of a user (a new password), except the one whose hash is ``keep``."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE user_id = ? AND id_hash IS NOT ?", (user_id, keep))

    def session_live(self, id_hash: str, user_id: str, now: float) -> bool:
        """True while the session exists, belongs to ``user_id`` and has not expired."""
        return self.db.query_one("SELECT 1 FROM sessions WHERE id_hash = ? AND user_id = ? AND expires_at > ?",
                                 (id_hash, user_id, now)) is not None
