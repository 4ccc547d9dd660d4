"""Reading Server-Sent Events: a line decoder, a stream reader over httpx, and a cheap byte-level frame
splitter for benchmark clients that hold thousands of raw sockets.

The decoder follows the parts of the WHATWG rules our server uses (``id``, ``event``, ``data``, ``retry``,
comments) and hands back comments and ``retry`` too, because tests check pings and the retry hint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["SSEDecoder", "SSEEvent", "SSEFrames", "iter_sse", "read_stream"]


@dataclass
class SSEEvent:
    """One dispatched event: ``data`` is the parsed JSON (or the text if it is not JSON), ``raw`` the text."""

    id: int | None
    event: str
    data: dict[str, Any] | str
    raw: str = ""


class SSEDecoder:
    """Feed lines one at a time, so a caller can act on every line (pings included) while events come out whole.

    ``feed`` returns an :class:`SSEEvent` when a blank line completes one, a comment as ``": ..."``, a retry hint
    as ``"retry:N"``, else None.
    """

    __slots__ = ("_data", "_id", "_name")

    def __init__(self) -> None:
        self._id: int | None = None
        self._name = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> SSEEvent | str | None:
        if line == "":
            event = None
            if self._data:
                text = "\n".join(self._data)
                try:
                    payload: dict[str, Any] | str = json.loads(text)
                except ValueError:
                    payload = text
                event = SSEEvent(self._id, self._name, payload, text)
            self._id, self._name, self._data = None, "message", []
            return event
        if line.startswith(":"):
            return line
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "id":
            self._id = int(value)
        elif key == "event":
            self._name = value
        elif key == "data":
            self._data.append(value)
        elif key == "retry":
            return f"retry:{value}"
        return None


def iter_sse(lines: Iterable[str]) -> Iterator[SSEEvent | str]:
    """Events, comments (``": ..."``) and retry hints (``"retry:N"``) from SSE lines, in order."""
    decoder = SSEDecoder()
    for line in lines:
        item = decoder.feed(line)
        if item is not None:
            yield item


def read_stream(url: str, headers: dict[str, str] | None = None, timeout: float = 60.0,
                until: Callable[[SSEEvent], bool] | None = None) -> list[SSEEvent]:
    """Read an SSE stream until it closes (or ``until`` says stop); returns the events."""
    events: list[SSEEvent] = []
    with httpx.stream("GET", url, headers=headers, timeout=timeout) as resp:
        assert resp.status_code == 200, resp.read()
        for item in iter_sse(resp.iter_lines()):
            if isinstance(item, SSEEvent):
                events.append(item)
                if until is not None and until(item):
                    break
    return events


class SSEFrames:
    """Cheap SSE splitting for raw-socket benchmark clients: checks the HTTP status line once, then hands back
    only complete frames (up to the last blank line) and keeps the partial tail for the next read."""

    __slots__ = ("buf", "head")

    def __init__(self) -> None:
        self.buf = b""
        self.head = False

    def feed(self, data: bytes) -> bytes | None:
        """Complete frames so far (``b""`` if none yet), or None if the response is not ``200``."""
        buf = self.buf + data
        if not self.head:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                self.buf = buf
                return b""
            if not buf.startswith(b"HTTP/1.1 200"):
                return None
            self.head = True
            buf = buf[head_end + 4 :]
        end = buf.rfind(b"\n\n")
        if end < 0:
            self.buf = buf
            return b""
        complete, self.buf = buf[: end + 2], buf[end + 2 :]
        return complete
