"""HTTP calls shared by the commands, and the one error type they raise (turned into a message and exit code)."""

from __future__ import annotations

import os
from typing import Any

import httpx

__all__ = ["CliError", "NotFoundError", "check", "find_or_create_case", "make_client", "request"]

TIMEOUT = httpx.Timeout(30.0, read=60.0)


class CliError(Exception):
    """A problem to report in one line; ``exit_code`` is what the command returns (2: usage/connection)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NotFoundError(CliError):
    """The server answered 404 (e.g. ``watch`` asked a document stream for a batch id)."""


def make_client(server: str, token: str | None = None) -> httpx.AsyncClient:
    """A client for ``server`` (no proxies from the environment: the server is named explicitly).

    ``token`` (an API token, ``$LEXINTEL_TOKEN`` by default) goes in ``Authorization: Bearer``, streams included:
    httpx can send headers on SSE requests, so no token ever appears in a URL.
    """
    token = token if token is not None else os.environ.get("LEXINTEL_TOKEN") or None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.rstrip("/"), timeout=TIMEOUT, trust_env=False, headers=headers)


def check(resp: httpx.Response, *, expected: tuple[int, ...] = (200,)) -> Any:
    """The JSON body of an expected answer, else a :class:`CliError` with the server's own ``detail``."""
    if resp.status_code in expected:
        return resp.json() if resp.content else None
    try:
        detail = resp.json().get("detail")
    except ValueError:
        detail = None
    text = detail or resp.text.strip()[:200] or resp.reason_phrase
    what = f"{resp.request.method} {resp.request.url.path}"
    if resp.status_code == 401:
        text += " (set LEXINTEL_TOKEN to an API token: `lexintel user add NAME --token` prints one)"
    error = NotFoundError if resp.status_code == 404 else CliError
    raise error(f"{what} failed ({resp.status_code}): {text}")


async def request(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """Send a request; a server that cannot be reached becomes a :class:`CliError` naming it."""
    try:
        return await client.request(method, path, **kwargs)
    except httpx.TransportError as exc:
        raise CliError(f"cannot reach the server at {client.base_url}: {exc or type(exc).__name__}") from None


async def find_or_create_case(client: httpx.AsyncClient, name: str) -> tuple[dict[str, Any], bool]:
    """The case named ``name`` (the newest if several share it), created when missing; and whether it was new."""
    cases = check(await request(client, "GET", "/cases"))
    for case in cases:  # newest first
        if case["name"] == name:
            return case, False
    created = check(await request(client, "POST", "/cases", json={"name": name}), expected=(200, 201))
    return created, True
