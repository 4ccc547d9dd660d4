"""The one normalisation every extracted text gets before it is stored, chunked and indexed."""

from __future__ import annotations

import unicodedata

__all__ = ["searchable"]


def searchable(text: str) -> str:
    """NFKC: PDF fonts often encode ligatures ("ﬁ", "ﬃ") and full-width forms as single characters, which the
    full-text tokenizer keeps as-is, so "official" would not match "oﬃcial". Normalised once here, the stored
    page text, the passages and the snippets all agree."""
    return unicodedata.normalize("NFKC", text)
