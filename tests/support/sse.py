"""Reading Server-Sent Events: a line decoder, a stream reader over httpx, and a cheap byte-level frame
splitter for benchmark clients that hold thousands of raw sockets.

The decoder follows the parts of the WHATWG rules our server uses (``id``, ``event``, ``data``, ``retry``,
comments) and hands back comments and ``retry`` too, because tests check pings and the retry hint.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["SSEDecoder", "SSEEvent", "SSEFrames", "StreamFollower", "iter_sse", "read_stream"]


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


@dataclass
class StreamFollower:
    """Follow one SSE stream in a background thread, collecting its events and comments as they arrive, so a
    test can act on the server (stop it, upload) while the stream is open and check afterwards how it ended.
    ``errors`` holds what broke the stream (a clean end leaves it empty); :meth:`stop` makes the reader let go
    at the next frame (the server then sees a client disconnect)."""

    url: str
    timeout: float = 30.0
    headers: dict[str, str] | None = None  # credentials (Authorization, Cookie)
    status: int | None = None  # the response's status, once it came
    events: list[SSEEvent] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> StreamFollower:
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=self.timeout) as resp:
                self.status = resp.status_code
                for item in iter_sse(resp.iter_lines()):
                    if isinstance(item, SSEEvent):
                        self.events.append(item)
                    else:
                        self.comments.append(item)
                    if self._stop.is_set():
                        return
        except BaseException as exc:  # recorded: a test asserts the stream ended cleanly
            self.errors.append(exc)

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait for the stream to end; True when it did within ``timeout``."""
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()


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
