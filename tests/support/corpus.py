"""The real PDFs in the shared corpus (``/work/shared/corpus`` unless ``LEXINTEL_CORPUS`` says otherwise)."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["CORPUS", "corpus", "corpus_pages", "corpus_pdfs"]


def _find_corpus() -> Path:
    """``LEXINTEL_CORPUS``, else ``shared/corpus`` next to the checkout (how CI lays it out), else /work/shared."""
    if "LEXINTEL_CORPUS" in os.environ:
        return Path(os.environ["LEXINTEL_CORPUS"])
    beside = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    return beside if beside.exists() else Path("/work/shared/corpus")


CORPUS = _find_corpus()


def corpus(name_part: str) -> Path:
    """The corpus PDF whose name contains ``name_part`` (the first by name if several do)."""
    matches = sorted(p for p in CORPUS.glob("*.pdf") if name_part in p.name)
    assert matches, f"no corpus file matching {name_part!r} in {CORPUS}"
    return matches[0]


def corpus_pdfs() -> list[Path]:
    """Every corpus PDF in name order (the same order on every run, so benchmark runs compare)."""
    return sorted(CORPUS.glob("*.pdf"))


def corpus_pages() -> dict[str, int]:
    """Ground-truth page counts from the corpus's files.json, keyed by our file name."""
    data = json.loads((CORPUS / "files.json").read_text())["data"]
    return {d["path"].replace("/", "_"): d["pages"] for d in data if "pages" in d}
