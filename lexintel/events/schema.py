"""Stream keys, SSE frames and event names (the event itself is :class:`lexintel.events.model.ProgressEvent`;
the stage names come from the stage registry, :mod:`lexintel.pipeline.stages`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "TERMINAL_NAMES",
    "Frame",
    "encode_frame",
    "encode_json",
    "encode_unnamed_frame",
    "stream_key",
]

EventName = Literal["progress", "complete", "error", "reset"]
TERMINAL_NAMES = frozenset({"complete", "error", "case_deleted"})  # case_deleted: sent, never logged (lexintel.cases)
StreamKind = Literal["document", "batch", "case"]


def stream_key(kind: StreamKind, ident: str) -> str:
    """The log/broadcaster key of a stream, e.g. ``document:4f1c…``."""
    return f"{kind}:{ident}"


def encode_json(data: dict[str, Any]) -> str:
    """Compact JSON; it never contains a raw newline, so it fits one SSE ``data:`` line."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode_frame(event_id: int, name: str, data_json: str) -> bytes:
    """One SSE frame from an event's JSON."""
    return f"id: {event_id}\nevent: {name}\ndata: {data_json}\n\n".encode()


def encode_unnamed_frame(event_id: int, data_json: str) -> bytes:
    """One SSE frame without an ``event:`` line: browsers hand it to ``EventSource.onmessage``."""
    return f"id: {event_id}\ndata: {data_json}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Frame:
    """An event ready to write to any number of SSE clients: encoded once, shared by all subscribers.

    ``subject`` is what the event is about (``document:<id>`` or ``batch:<id>``): a slow client's queued
    progress frames are coalesced per subject, latest wins. ``published`` (monotonic seconds, set when the
    frame is built, just before it is published) measures publish->deliver latency.
    """

    id: int
    name: str
    subject: str
    payload: bytes
    published: float = field(default_factory=time.monotonic, compare=False)
    unnamed: bytes = b""
    """The same frame without its ``event:`` line, for the original design's document-stream clients
    (``EventSource.onmessage``); built once next to ``payload``, only for document streams."""

    @property
    def terminal(self) -> bool:
        """A terminal frame (``complete``/``error``) is never coalesced away."""
        return self.name in TERMINAL_NAMES
