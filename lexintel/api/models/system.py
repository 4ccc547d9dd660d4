"""Bodies of ``/health`` and ``/ready``."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from lexintel.api.models import Body

__all__ = ["Health", "MirrorReport", "OcrReport", "Readiness", "ReadyChecks"]


class Health(Body):
    status: str
    """Always ``ok``: the process is up and its event loop answers."""


class ReadyChecks(Body):
    database: bool
    pipeline: bool
    accepting_uploads: bool
    disk_space: bool
    ocr: bool
    """Scanned pages can be read here (Tesseract and its languages); false makes the instance unready only
    with ``LEXINTEL_OCR=force``: otherwise such documents end ``needs_ocr`` and the rest works."""


class OcrReport(Body):
    """What OCR can do on this instance."""

    mode: str
    """``LEXINTEL_OCR``: ``auto``, ``force`` or ``off``."""
    languages: str
    problem: str | None
    """Why scanned pages cannot be read ("needs OCR: tesseract is not installed"), null when they can."""


class MirrorReport(Body, forbid_unknown_fields=False):
    """The optional Redis mirror's state and counters (only ``state`` when it is disabled).

    The one open body: the mirror reports what it counts, and a new counter should not take ``/ready`` down.
    """

    state: str
    """``disabled``, ``connecting``, ``connected``, ``down``..."""
    instance_id: str | UnsetType = UNSET
    published: int | UnsetType = UNSET
    received: int | UnsetType = UNSET
    dropped: int | UnsetType = UNSET
    errors: int | UnsetType = UNSET
    reconnects: int | UnsetType = UNSET
    queued: int | UnsetType = UNSET
    last_error: str | UnsetType | None = UNSET
    rejected: dict[str, int] | UnsetType = UNSET
    """Messages dropped as unsigned, forged, or outside-worker events not believed, by reason (limits)."""


class Readiness(Body):
    """``GET /ready``: 200 when every check passes, else 503 with the same body."""

    status: str
    """``ready`` or ``not_ready``."""
    checks: ReadyChecks
    data_dir_free_bytes: int
    redis_mirror: MirrorReport
    ocr: OcrReport
    detail: str | UnsetType = UNSET
    """Why not ready, when it is because the instance is shutting down."""
