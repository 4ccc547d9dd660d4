"""What every client command starts from: the server, the credentials, and how long to wait out an outage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lexintel.cli.api import make_client
from lexintel.cli.connection import Connection

if TYPE_CHECKING:
    from lexintel.cli.display import Board

__all__ = ["Session"]


@dataclass(frozen=True)
class Session:
    """The options shared by the client commands (``--server``, ``--retry-for``, ``$LEXINTEL_TOKEN``)."""

    server: str
    retry_for: float = 120.0
    token: str | None = None  # None: $LEXINTEL_TOKEN

    @asynccontextmanager
    async def connect(self, board: Board | None = None) -> AsyncIterator[Connection]:
        """A :class:`Connection` for one command; outages are reported on ``board`` when there is one."""
        async with make_client(self.server, self.token) as client:
            conn = Connection(client, self.retry_for)
            if board is not None:
                conn.notify, conn.on_change = board.note, board.set_reconnecting
            yield conn
