"""Accounts for tests: users and tokens are created the way ``lexintel user add`` does, on the data dir."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from lexintel.auth.tokens import ApiTokens
from lexintel.auth.users import User, Users
from lexintel.settings import Settings
from lexintel.store.db import Database

PASSWORD = "correct horse battery"


@dataclass
class Account:
    user: User
    token: str  # a valid API token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_account(settings: Settings, name: str, role: str = "member") -> Account:
    """A user with password PASSWORD and a fresh 1-day API token."""
    db = Database(settings.db_path)
    try:
        users = Users(db)
        user = users.create(name, PASSWORD, role)
        token = ApiTokens(db, users).create(user, "test", 86400.0)["token"]
    finally:
        db.close()
    return Account(user, token)


def expired_token(settings: Settings, user: User) -> str:
    """An API token of ``user`` whose expiry has passed."""
    db = Database(settings.db_path)
    try:
        users = Users(db)
        created = ApiTokens(db, users).create(user, "expired", 3600.0)
        with db.transaction() as conn:
            conn.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", (time.time() - 1, created["id"]))
        return str(created["token"])
    finally:
        db.close()


def stream_token(client: httpx.Client | object, account: Account, path: str) -> str:
    """A stream token for ``path`` from POST /streams/token."""
    resp = client.post("/streams/token", json={"path": path}, headers=account.headers)  # type: ignore[attr-defined]
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


def log_in_page(context: Any, url: str, name: str, ready: Callable[[Any], None], hash_: str = "") -> Any:
    """A new page of ``context`` at ``url`` (+ ``hash_``), logged in through the form as ``name``, once
    ``ready(page)`` (an ``expect`` of what the caller waits for) holds. Playwright is imported by the caller
    (its test module checks for it first)."""
    page = context.new_page()
    page.goto(f"{url}/{hash_}")
    page.locator("#login-user").fill(name)
    page.locator("#login-password").fill(PASSWORD)
    page.locator("#login-password").press("Enter")
    ready(page)
    return page
