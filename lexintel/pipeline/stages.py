"""The stage registry: every stage a document or batch goes through, in order, written down once.

Each entry names the stage (the ``stage`` of a ProgressEvent), the words a person sees (the page and the CLI
read them, the page through ``GET /stages``), its weight in its subject's progress, and for a document stage
the ``run`` that does the work (see :mod:`lexintel.pipeline.context`). Everything else is derived from this
list: a document's progress shares and ETA, a batch's stage order and active stage, the mapping of outside
workers' step names, the labels of the stage metrics, the page's and the CLI's words.

Adding a stage is one module with its ``run`` plus one entry here, at its place in the order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from lexintel.pipeline import chunking, embedding, extracting, indexing, ocring
from lexintel.pipeline.context import StageContext

__all__ = [
    "BATCH_DOCUMENTS_SHARE",
    "STAGES",
    "Stage",
    "active_batch_stage",
    "batch_rank",
    "batch_share",
    "batch_stage_ranks",
    "counts_pages",
    "document_eta",
    "document_share",
    "document_stages",
    "lookup",
    "stage_for_step",
    "stage_kind",
    "words",
]

StageKind = Literal["waiting", "batch", "document", "terminal"]
StageRun = Callable[[StageContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage.

    ``kind``: ``document`` stages run, in order, for every document; ``batch`` stages happen to a batch
    before its documents exist (upload, unpacking); ``waiting`` is a document queued for a worker; the
    ``terminal`` ones end a subject. ``weight`` is the stage's share of its subject's overall progress (a
    document's stages add up to 100; a batch gives its own stages their weight and its documents the rest).
    ``unit`` names what ``items_total``/``items_done`` count in a document's events of this stage (``pages``
    also paces the ETA). ``cost`` is the stage's expected duration relative to the pacing stage's, which the ETA
    adds after the pages left. ``aliases`` are prefixes of outside workers' step names that mean this stage.
    """

    name: str
    words: str
    kind: StageKind
    weight: float = 0.0
    run: StageRun | None = None
    unit: str = ""
    cost: float = 0.0
    aliases: tuple[str, ...] = ()


# Extraction is most of a document's time (about 95%: ``cost`` of the others is relative to it), but the bar
# keeps a fifth for chunking and indexing so that it visibly moves after the last page.
STAGES: tuple[Stage, ...] = (
    Stage("uploading", "Uploading", "batch", weight=10.0, aliases=("upload", "receiv")),
    Stage("unpacking", "Unpacking", "batch", weight=10.0, aliases=("unpack", "unzip")),
    Stage("queued", "Waiting", "waiting", aliases=("queue", "pending", "wait")),
    Stage("extracting", "Reading text", "document", weight=60.0, run=extracting.run, unit="pages", cost=1.0,
          aliases=("extract", "pars", "read")),
    # ocr: scanned pages only (none: the stage is skipped at once); its own ETA, from its own pace
    Stage("ocr", "Reading scanned pages", "document", weight=20.0, run=ocring.run, unit="pages",
          aliases=("ocr", "scan")),
    Stage("chunking", "Splitting into passages", "document", weight=5.0, run=chunking.run, cost=0.01,
          aliases=("chunk", "split")),
    Stage("indexing", "Indexing", "document", weight=10.0, run=indexing.run, unit="passages", cost=0.04,
          aliases=("index", "stor")),
    # embed: after indexing (keyword search works from here); the document is `indexed` once this ends
    Stage("embedding", "Preparing semantic search", "document", weight=5.0, run=embedding.run, unit="passages",
          cost=0.02, aliases=("embed", "vector")),
    Stage("completed", "Done", "terminal", aliases=("complet", "done", "finish", "success")),
    Stage("failed", "Failed", "terminal", aliases=("fail", "error")),
)


def _document_stages() -> tuple[Stage, ...]:
    """The document stages, checked: each has a run, their weights make the whole bar, one paces the ETA."""
    stages = tuple(stage for stage in STAGES if stage.kind == "document")
    for stage in stages:
        if stage.run is None:
            raise RuntimeError(f"document stage {stage.name!r} has no run")
    if abs(sum(stage.weight for stage in stages) - 100.0) > 1e-9:
        raise RuntimeError("the document stages' weights must add up to 100")
    if not any(stage.unit == "pages" for stage in stages):
        raise RuntimeError("one document stage must count pages (it paces the ETA)")
    return stages


_BY_NAME: Mapping[str, Stage] = {stage.name: stage for stage in STAGES}
_DOCUMENT = _document_stages()
_PACING = next(stage for stage in _DOCUMENT if stage.unit == "pages")
_ETA_TAIL = sum(stage.cost for stage in _DOCUMENT if stage is not _PACING)


def _shares(stages: tuple[Stage, ...]) -> dict[str, tuple[float, float]]:
    start, shares = 0.0, {}
    for stage in stages:
        shares[stage.name] = (start, stage.weight)
        start += stage.weight
    return shares


_DOCUMENT_SHARES = _shares(_DOCUMENT)
_BATCH_SHARES = _shares(tuple(stage for stage in STAGES if stage.kind == "batch"))
BATCH_DOCUMENTS_SHARE: tuple[float, float] = (
    sum(weight for _, weight in _BATCH_SHARES.values()),
    100.0 - sum(weight for _, weight in _BATCH_SHARES.values()),
)
"""(start, weight) of a batch's documents in the batch's progress: what its own stages leave."""


def _ranks() -> dict[str, int]:
    """A batch's stages in order: its own, then its documents' (waiting counts as the first of them), then
    the end. A batch's stage never goes back to a lower rank."""
    ranks: dict[str, int] = {}
    rank = 0
    for stage in STAGES:
        if stage.kind in ("batch", "document"):
            ranks[stage.name] = rank
            rank += 1
    for stage in STAGES:
        if stage.kind == "waiting":
            ranks[stage.name] = ranks[_DOCUMENT[0].name]
        elif stage.kind == "terminal":
            ranks[stage.name] = rank
    return ranks


_RANKS = _ranks()
_ACTIVE = {_RANKS[stage.name]: stage.name for stage in _DOCUMENT}


def document_stages() -> tuple[Stage, ...]:
    """The stages every document runs through, in order."""
    return _DOCUMENT


def document_share(name: str) -> tuple[float, float]:
    """(start, weight) of a document stage in the document's progress (0-100)."""
    return _DOCUMENT_SHARES[name]


def batch_share(name: str) -> tuple[float, float]:
    """(start, weight) of a batch-only stage in the batch's progress (0-100)."""
    return _BATCH_SHARES[name]


def document_eta(pages_done: int, pages_total: int, paced_seconds: float) -> float | None:
    """Seconds left for a document: its pages left at the pages/s observed so far, plus the later stages'
    cost (a fraction of the time paging has taken); None until a page is done."""
    if pages_done == 0 or pages_total == 0:
        return None
    rate = pages_done / max(paced_seconds, 1e-6)
    return max(pages_total - pages_done, 0) / rate + _ETA_TAIL * paced_seconds


def batch_rank(name: str) -> int:
    """A stage's place in a batch's order (unknown names rank first)."""
    return _RANKS.get(name, 0)


def batch_stage_ranks() -> tuple[tuple[str, int], ...]:
    """(document stage, rank) pairs: how a batch ranks what its unfinished documents are doing."""
    return tuple((stage.name, _RANKS[stage.name]) for stage in _DOCUMENT)


def active_batch_stage(rank: int) -> str:
    """The stage a batch reports while its documents are at ``rank`` (clamped to the document stages)."""
    ranks = sorted(_ACTIVE)
    return _ACTIVE[min(max(rank, ranks[0]), ranks[-1])]


def stage_for_step(step: str) -> str:
    """The stage an outside worker's step name means (``extraction``, ``EXTRACTED``, ``embedding``…); an
    unknown step of a working document is taken for the long middle of the pipeline, the pacing stage."""
    lowered = step.strip().lower()
    for stage in STAGES:
        if lowered.startswith(stage.aliases):
            return stage.name
    return _PACING.name


def lookup(name: str) -> Stage | None:
    """The registry's entry for ``name`` (None for a name it does not know, e.g. an outside worker's)."""
    return _BY_NAME.get(name)


def stage_kind(name: str) -> StageKind | None:
    """What kind of stage ``name`` is (None for a name the registry does not know)."""
    stage = _BY_NAME.get(name)
    return stage.kind if stage is not None else None


def counts_pages(name: str) -> bool:
    """True for a stage whose events count pages in ``items_total``/``items_done`` (page progress in clients)."""
    stage = _BY_NAME.get(name)
    return stage is not None and stage.unit == "pages"


def words(name: str) -> str:
    """What a person reads for a stage (the name itself for a stage the registry does not know)."""
    stage = _BY_NAME.get(name)
    return stage.words if stage is not None else name
