"""HTTP calls shared by the commands, and the one error type they raise (turned into a message and exit code)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "CliError",
    "NotFoundError",
    "check",
    "error_code",
    "first_error",
    "make_client",
    "segment",
    "server_url",
]

TIMEOUT = httpx.Timeout(30.0, read=60.0)
TOKEN_HINT = "set LEXINTEL_TOKEN to an API token: `lexintel token create --user NAME` prints one"  # noqa: S105  (a hint, not a secret)


class CliError(Exception):
    """A problem to report in one line; ``exit_code`` is what the command returns (2: usage/connection)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NotFoundError(CliError):
    """The server answered 404 (no such case, document, batch, upload or token, or not the caller's)."""


def server_url(server: str) -> str:
    """``host:port`` means ``http://host:port`` (what people type); a trailing slash is dropped."""
    server = server.strip()
    if "://" not in server:
        server = "http://" + server
    return server.rstrip("/")


def segment(ident: str) -> str:
    """An id as one URL path segment: a typo'd id with ``/`` or ``?`` must not reach another route."""
    return quote(ident, safe="")


def make_client(server: str, token: str | None = None) -> httpx.AsyncClient:
    """A client for ``server`` (no proxies from the environment: the server is named explicitly).

    ``token`` (an API token, ``$LEXINTEL_TOKEN`` by default) goes in ``Authorization: Bearer``, streams included:
    httpx can send headers on SSE requests, so no token ever appears in a URL.
    """
    token = token if token is not None else os.environ.get("LEXINTEL_TOKEN") or None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server_url(server), timeout=TIMEOUT, trust_env=False, headers=headers)


def error_code(resp: httpx.Response) -> str | None:
    """The ``code`` of a JSON error body, if there is one."""
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def check(resp: httpx.Response, *, expected: tuple[int, ...] = (200,)) -> Any:
    """The JSON body of an expected answer, else a :class:`CliError` with the server's own ``detail``."""
    if resp.status_code in expected:
        return resp.json() if resp.content else None
    try:
        body = resp.json()
        detail = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    text = detail or resp.text.strip()[:200] or resp.reason_phrase
    if resp.status_code == 404:
        raise NotFoundError(text)
    what = f"{resp.request.method} {resp.request.url.path}"
    if resp.status_code == 401:
        text += f" ({TOKEN_HINT})"
    raise CliError(f"{what} failed ({resp.status_code}): {text}")


def first_error(exc: BaseException) -> BaseException:
    """The error to report from what a task group raised: a CliError first, then Ctrl-C, then anything."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves: list[BaseException] = []
    stack: list[BaseException] = [exc]
    while stack:
        item = stack.pop(0)
        if isinstance(item, BaseExceptionGroup):
            stack.extend(item.exceptions)
        else:
            leaves.append(item)
    for kind in (CliError, KeyboardInterrupt):
        found = next((e for e in leaves if isinstance(e, kind)), None)
        if found is not None:
            return found
    return leaves[0] if leaves else exc
