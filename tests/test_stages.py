"""The stage registry: what ``GET /stages`` serves (public, before login), and what is derived from it."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from lexintel.batches.progress import FIRST_DOCUMENT_RANK
from lexintel.events.foreign import stage_for
from lexintel.pipeline.stages import (
    BATCH_DOCUMENTS_SHARE,
    STAGES,
    active_batch_stage,
    batch_rank,
    batch_share,
    document_eta,
    document_share,
    document_stages,
    stage_for_step,
    words,
)
from lexintel.settings import Settings


def test_stages_endpoint_serves_the_registry_in_order_without_login(make_client: Any, settings: Settings) -> None:
    client: TestClient = make_client(settings.with_overrides(auth="on"))  # type: ignore[type-arg]
    assert client.get("/cases").status_code == 401  # the server does want a login
    resp = client.get("/stages")
    assert resp.status_code == 200, resp.text
    stages = resp.json()["stages"]
    assert [s["name"] for s in stages] == ["uploading", "unpacking", "queued", "extracting", "ocr", "chunking",
                                           "indexing", "embedding", "completed", "failed"]
    by_name = {s["name"]: s for s in stages}
    assert by_name["extracting"] == {"name": "extracting", "words": "Reading text", "kind": "document",
                                     "weight": 60.0, "unit": "pages",
                                     "aliases": ["extract", "pars", "read"]}
    assert by_name["ocr"] == {"name": "ocr", "words": "Reading scanned pages", "kind": "document", "weight": 20.0,
                              "unit": "pages", "aliases": ["ocr", "scan"]}
    assert by_name["queued"]["kind"] == "waiting" and by_name["failed"]["kind"] == "terminal"
    assert {s["words"] for s in stages} >= {"Waiting", "Splitting into passages", "Done"}
    schema = client.get("/schema/openapi.json").json()
    assert schema["paths"]["/stages"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_document_shares_add_up_and_follow_the_order() -> None:
    names = [s.name for s in document_stages()]
    assert names == ["extracting", "ocr", "chunking", "indexing", "embedding"]
    assert [document_share(n) for n in names] == [(0.0, 60.0), (60.0, 20.0), (80.0, 5.0), (85.0, 10.0), (95.0, 5.0)]
    assert all(s.run is not None for s in document_stages())
    assert batch_share("uploading") == (0.0, 10.0) and batch_share("unpacking") == (10.0, 10.0)
    assert BATCH_DOCUMENTS_SHARE == (20.0, 80.0)


def test_batch_ranks_never_go_back_and_waiting_counts_as_the_first_document_stage() -> None:
    order = ["uploading", "unpacking", "extracting", "ocr", "chunking", "indexing", "embedding", "completed"]
    assert [batch_rank(n) for n in order] == sorted(batch_rank(n) for n in order)
    assert batch_rank("queued") == batch_rank("extracting") == FIRST_DOCUMENT_RANK
    assert batch_rank("failed") == batch_rank("completed")
    assert active_batch_stage(FIRST_DOCUMENT_RANK) == "extracting"
    assert active_batch_stage(batch_rank("indexing")) == "indexing"
    assert active_batch_stage(batch_rank("completed")) == "embedding"  # clamped to a document stage


def test_eta_is_pages_left_at_the_observed_rate_plus_the_later_stages() -> None:
    assert document_eta(0, 10, 5.0) is None and document_eta(3, 0, 5.0) is None
    eta = document_eta(5, 10, 10.0)  # 0.5 pages/s, 5 pages left
    assert eta == pytest.approx(10.0 + 0.07 * 10.0)
    assert document_eta(10, 10, 20.0) == pytest.approx(0.07 * 20.0)


@pytest.mark.parametrize(("step", "stage"), [
    ("queued", "queued"), ("Pending", "queued"), ("receiving", "uploading"), ("unzip", "unpacking"),
    ("OCR", "ocr"), ("scanning", "ocr"), ("split", "chunking"), ("vectorizing", "embedding"), ("indexing", "indexing"),
    ("finished", "completed"),
    ("error", "failed"), ("something else", "extracting"),
])
def test_outside_worker_step_names_come_from_the_aliases(step: str, stage: str) -> None:
    assert stage_for_step(step) == stage
    assert stage_for(step, "processing") == stage


def test_every_stage_has_words_and_unknown_names_show_as_themselves() -> None:
    assert all(s.words for s in STAGES)
    assert words("chunking") == "Splitting into passages" and words("summarising") == "summarising"
