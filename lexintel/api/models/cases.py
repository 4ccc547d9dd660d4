"""Bodies of ``/cases``: a case, its detail with counts, and the body that creates one."""

from __future__ import annotations

import msgspec

from lexintel.api.models import Body

__all__ = ["Case", "CaseDetail", "CaseUpdate", "NewCase"]


class NewCase(msgspec.Struct):
    """Body of ``POST /cases``."""

    name: str
    description: str = ""


class CaseUpdate(msgspec.Struct):
    """Body of ``PATCH /cases/{case_id}``: the new name (the case's owner or an admin)."""

    name: str


class Case(Body):
    """A case: a folder of documents."""

    id: str
    name: str
    description: str
    created_at: str
    """ISO-8601 UTC."""


class CaseDetail(Case):
    """``GET /cases/{case_id}``: the case, its documents counted by status, and where its stream is."""

    documents_by_status: dict[str, int]
    """``pending``/``processing``/``indexed``/``failed`` -> how many (statuses with none are left out)."""
    last_event_id: int
    """The case stream's newest event id (0 when empty): open the stream from there."""
    owner: str | None
    """The owner's user name (null for a case made with accounts off, or whose owner was deleted)."""
    can_manage: bool
    """True when the caller may rename, delete and share the case (its owner or an admin)."""
    documents: int
    passages: int
    """Indexed passages: with ``documents``, what deleting the case removes."""
    pages: int
    size_bytes: int
    """Bytes of the original files kept."""
