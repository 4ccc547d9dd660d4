"""Bodies of ``/health`` and ``/ready``."""

from __future__ import annotations

from msgspec import UNSET, UnsetType

from lexintel.api.models import Body

__all__ = ["Health", "MirrorReport", "Readiness", "ReadyChecks"]


class Health(Body):
    status: str
    """Always ``ok``: the process is up and its event loop answers."""


class ReadyChecks(Body):
    database: bool
    pipeline: bool
    accepting_uploads: bool
    disk_space: bool


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


class Readiness(Body):
    """``GET /ready``: 200 when every check passes, else 503 with the same body."""

    status: str
    """``ready`` or ``not_ready``."""
    checks: ReadyChecks
    data_dir_free_bytes: int
    redis_mirror: MirrorReport
    detail: str | UnsetType = UNSET
    """Why not ready, when it is because the instance is shutting down."""
