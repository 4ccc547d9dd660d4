"""``GET /stages``: the stage registry as the page and other clients read it (names, words, order, weights).

Public: the words are needed before login, and they say nothing about anyone's documents.
"""

from __future__ import annotations

import msgspec
from litestar import get

from lexintel.pipeline.stages import STAGES

__all__ = ["StageInfo", "StageList", "stage_handlers"]


class StageInfo(msgspec.Struct, frozen=True):
    """One stage, in registry order."""

    name: str
    """The ``stage`` of a ProgressEvent."""
    words: str
    """What a person reads for it."""
    kind: str
    """``batch`` (before a batch's documents exist), ``waiting``, ``document`` (every document runs it) or
    ``terminal``."""
    weight: float
    """Share of its subject's overall progress (0-100)."""
    unit: str
    """What ``items_total``/``items_done`` count in a document's events of this stage (``""``: nothing)."""
    aliases: list[str]
    """Prefixes of outside workers' step names that mean this stage."""


class StageList(msgspec.Struct, frozen=True):
    """Every stage a document or batch goes through, in order."""

    stages: list[StageInfo]


_STAGES = StageList([StageInfo(s.name, s.words, s.kind, s.weight, s.unit, list(s.aliases)) for s in STAGES])


@get("/stages", tags=["system"], opt={"public": True})
async def list_stages() -> StageList:
    """The stage registry: names, the words to show, kinds and progress weights, in pipeline order."""
    return _STAGES


stage_handlers = [list_stages]
