"""Outside-worker events (the original design's Redis messages) -> ProgressEvent fields, through
``from_outside_worker`` and ``channel_stream``: step names map to our stages, terminal statuses end the stream,
runs are numbered like retries, and malformed messages are rejected with :class:`ForeignEventError`.

The messages are the seed worker's own shape (``/work/shared/seed-clients/workers-and-redis.md``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import pytest

from lexintel.events.foreign import ForeignEventError, channel_stream, from_outside_worker
from lexintel.events.log import StoredEvent
from lexintel.events.model import ProgressEvent

WIRE_ORDER = [f.name for f in msgspec.structs.fields(ProgressEvent) if f.name != "id"]


def seed(**changes: Any) -> dict[str, Any]:
    """What the seed's ``publish_progress`` sends, with ``changes`` applied (None removes a key)."""
    message: dict[str, Any] = {"document_id": "doc-1", "status": "processing", "step": "extraction",
                               "progress": 50, "message": "Extracting page 5/10",
                               "timestamp": "2024-05-01T12:00:00.123456"}
    message.update(changes)
    return {k: v for k, v in message.items() if v is not None}


def body_of(event: Any) -> dict[str, Any]:
    """The event's fields as JSON would carry them (the body may be a dict or a ProgressEvent struct)."""
    body = event.body
    return dict(body) if isinstance(body, dict) else dict(msgspec.to_builtins(body))


def translate(message: dict[str, Any], latest: StoredEvent | None = None) -> tuple[Any, dict[str, Any]]:
    event = from_outside_worker("doc-1", message, latest)
    return event, body_of(event)


def test_a_seed_progress_message_becomes_a_progress_event_on_the_document_stream() -> None:
    event, body = translate(seed())
    assert (event.stream, event.id, event.run, event.name, event.subject) == (
        "document:doc-1", None, 0, "progress", "document:doc-1")
    assert list(body) == WIRE_ORDER  # same fields, same order as every other event
    assert body["document_id"] == "doc-1" and body["batch_id"] is None
    assert (body["status"], body["stage"], body["step"]) == ("processing", "extracting", "extraction")
    assert body["progress"] == 50.0 and body["message"] == "Extracting page 5/10"
    assert body["timestamp"] == "2024-05-01T12:00:00.123456"  # the worker's clock, kept
    assert body["error"] is None and body["eta_seconds"] is None and body["run"] == 0


@pytest.mark.parametrize(("step", "stage"), [
    ("queued", "queued"), ("waiting", "queued"), ("pending", "queued"),
    ("upload", "uploading"), ("receiving", "uploading"),
    ("unzip", "unpacking"), ("unpacking", "unpacking"),
    ("extraction", "extracting"), ("EXTRACTED", "extracting"), ("  Parsing ", "extracting"), ("reading", "extracting"),
    ("chunking", "chunking"), ("split", "chunking"),
    ("indexing", "indexing"), ("storing", "indexing"),
    ("test", "extracting"), ("something new", "extracting"),  # unknown: the long middle of the pipeline
])
def test_step_names_map_to_our_stages_and_the_step_is_kept(step: str, stage: str) -> None:
    _, body = translate(seed(step=step))
    assert body["stage"] == stage and body["step"] == step


def test_without_a_step_the_status_stands_in() -> None:
    for missing in (None, "", 7):
        _, body = translate(seed(step=missing))
        assert body["step"] == "processing" and body["stage"] == "extracting"


@pytest.mark.parametrize("message", [
    seed(status="completed", step="indexing"),
    seed(progress=100),  # the seed's curl test: progress 100 ends the document
    seed(progress=250),
    seed(status=" COMPLETED "),
])
def test_completion_ends_the_stream_with_complete(message: dict[str, Any]) -> None:
    event, body = translate(message)
    assert event.name == "complete"
    assert (body["status"], body["stage"]) == ("completed", "completed")
    assert body["stage_progress"] == 100.0 and body["eta_seconds"] == 0.0 and body["error"] is None
    if message["progress"] >= 100:
        assert body["progress"] == 100.0  # clamped
    # (a "completed" message with progress < 100 keeps the worker's number: not pinned here)


@pytest.mark.parametrize(("extra", "detail"), [
    ({"error": "encrypted PDF"}, "encrypted PDF"),
    ({"message": "OCR engine crashed"}, "OCR engine crashed"),
    ({"message": ""}, "failed"),
])
def test_failure_ends_the_stream_with_error_and_a_reason(extra: dict[str, Any], detail: str) -> None:
    event, body = translate(seed(status="failed", step="ocr", **extra))
    assert event.name == "error"
    assert (body["status"], body["stage"]) == ("failed", "failed")
    assert body["error"] == {"code": "worker_failed", "detail": detail}


@pytest.mark.parametrize(("raw", "expected"), [("42.5", 42.5), (None, 0.0), (-5, 0.0), (33.333, 33.33)])
def test_progress_is_read_as_a_number_and_clamped(raw: Any, expected: float) -> None:
    _, body = translate(seed(progress=raw))
    assert body["progress"] == expected and body["status"] == "processing"


def test_a_message_without_a_timestamp_is_stamped_now_in_utc() -> None:
    _, body = translate(seed(timestamp=None))
    stamped = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    assert stamped.utcoffset() is not None and stamped.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_runs_continue_the_stream_and_a_message_after_a_terminal_one_starts_the_next() -> None:
    running = StoredEvent("document:doc-1", 9, 2, "progress", "{}")
    finished = StoredEvent("document:doc-1", 10, 2, "complete", "{}")
    assert translate(seed(), running)[0].run == 2
    event, body = translate(seed(), finished)
    assert event.run == 3 and body["run"] == 3


@pytest.mark.parametrize("message", [
    {"document_id": "doc-1", "step": "extraction", "progress": 10},  # no status
    seed(status=1),
    seed(status="connected"),  # the original stream's hello, not an event
    seed(status="done"),
    seed(progress="half"),
    seed(progress=[50]),
])
def test_malformed_messages_are_rejected(message: dict[str, Any]) -> None:
    with pytest.raises(ForeignEventError) as info:
        from_outside_worker("doc-1", message, None)
    assert str(info.value)  # counted and logged with a reason


@pytest.mark.parametrize(("channel", "stream"), [
    ("document:abc:progress", ("document", "abc")),
    ("batch:b-1:progress", ("batch", "b-1")),
    ("document:a:b:progress", ("document", "a:b")),
    ("case:c1:progress", None),
    ("document:abc", None),
    ("document::progress", None),
    ("document:abc:progress:current", None),  # seed 004's key for the latest value, not a channel
    ("batch:b-1:progress:log", None),
])
def test_only_progress_channels_of_documents_and_batches_are_streams(channel: str, stream: Any) -> None:
    assert channel_stream(channel) == stream
