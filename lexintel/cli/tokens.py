"""``lexintel token create|list|revoke``: the caller's API tokens, through the server's ``/auth/tokens``.

The caller is whoever ``$LEXINTEL_TOKEN`` belongs to, or, with ``--user NAME``, that user signed in with a
password (``$LEXINTEL_PASSWORD`` or a prompt): that is how an existing user gets a first token. A password
login is a cookie session, so writes send its CSRF token, and it is ended (``/auth/logout``) afterwards.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexintel.cli.api import CliError, NotFoundError, check, segment
from lexintel.cli.connection import Connection
from lexintel.cli.session import Session

__all__ = ["run_token"]


def _password(user: str) -> str:
    from_env = os.environ.get("LEXINTEL_PASSWORD")
    if from_env is not None:
        return from_env
    if not sys.stdin.isatty():
        raise CliError("set LEXINTEL_PASSWORD or run in a terminal to be asked for the password")
    return getpass.getpass(f"Password for {user}: ")


async def _login(conn: Connection, user: str) -> dict[str, str]:
    """Sign in; the headers a write needs (the session cookie itself stays in the client)."""
    resp = await conn.request("POST", "/auth/login", json={"username": user, "password": _password(user)})
    if resp.status_code in (401, 429):
        raise CliError(f"cannot sign in as {user}: {resp.json().get('detail') or resp.reason_phrase}")
    body = check(resp)
    return {"X-CSRF-Token": body["csrf_token"]}


def _date(unix: float | None) -> str:
    return "" if unix is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(unix))


async def run_token(session: Session, action: str, *, user: str | None = None, name: str = "cli", days: int = 90,
                    token_id: str | None = None, out: Console | None = None, err: Console | None = None,
                    of_user: str | None = None) -> int:
    """``create`` prints the new secret (alone on stdout), ``list`` a table (``of_user``: an admin lists that
    user's), ``revoke`` deletes one."""
    out = out or Console()
    err = err or Console(stderr=True)
    async with session.connect() as conn:
        headers = await _login(conn, user) if user else {}
        try:
            return await _act(conn, action, headers, name, days, token_id, out, err, of_user)
        finally:
            if user:
                await conn.client.post("/auth/logout", headers=headers)


async def _act(conn: Connection, action: str, headers: dict[str, str], name: str, days: int, token_id: str | None,
               out: Console, err: Console, of_user: str | None = None) -> int:
    if action == "create":
        body: dict[str, Any] = check(await conn.request(
            "POST", "/auth/tokens", json={"name": name, "expires_in_days": days}, headers=headers), expected=(201,))
        err.print(f"API token {body['name']!r} ({body['id']}), expires {_date(body['expires_at'])}; shown once, "
                  "keep it: export LEXINTEL_TOKEN=<token>", markup=False, highlight=False)
        out.file.write(body["token"] + "\n")
        return 0
    if action == "list":
        params = {"user": of_user} if of_user else None
        try:
            tokens: list[dict[str, Any]] = check(await conn.request("GET", "/auth/tokens", headers=headers,
                                                                    params=params))
        except NotFoundError:
            raise NotFoundError(f"No user named {of_user!r}") from None
        whose = f" of {of_user}" if of_user else ""
        if not tokens:
            out.print(f"No API tokens{whose}.")
            return 0
        table = Table(title=f"{len(tokens)} API token{'s' if len(tokens) != 1 else ''}{whose}", title_justify="left")
        for column in ("Name", "Created", "Expires", "Last used", "Id"):
            table.add_column(column, no_wrap=column == "Id")
        for token in tokens:
            table.add_row(Text(token["name"] or ""), token["created_at"][:16].replace("T", " "),
                          _date(token["expires_at"]), _date(token.get("last_used_at")), token["id"])
        out.print(table)
        return 0
    assert token_id is not None
    try:
        check(await conn.request("DELETE", f"/auth/tokens/{segment(token_id)}", headers=headers), expected=(200, 204))
    except NotFoundError:
        raise NotFoundError(f"No token with id {token_id!r} (`lexintel token list` shows yours)") from None
    err.print(f"revoked token {token_id}", markup=False, highlight=False)
    return 0
