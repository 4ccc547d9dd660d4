"""Embeddings: passages and queries into vectors for semantic search (issue 14).

``LEXINTEL_EMBEDDINGS`` picks the embedder: ``local`` (default: wordllama's 256-d model from its wheel, in the
process pool, :mod:`.local`), ``remote`` (an OpenAI-compatible ``/v1/embeddings`` endpoint, :mod:`.remote`) or
``off``. :func:`embedder_for` returns the one embedder of a configuration (shared by the pipeline stage, the
background re-embedding (:mod:`lexintel.reembedding`) and the query side, so they share its health too); the
vectors are stored by :mod:`lexintel.store.vectors` and searched by :mod:`lexintel.search.semantic`.
"""

from __future__ import annotations

from lexintel.embeddings.base import EmbeddingUnavailable, Health, Vectors, normalized
from lexintel.embeddings.embedder import Embedder, LocalEmbedder, RemoteModel, embedder_for, serve, settings_of

__all__ = ["Embedder", "EmbeddingUnavailable", "Health", "LocalEmbedder", "RemoteModel", "Vectors",
           "embedder_for", "normalized", "serve", "settings_of"]
