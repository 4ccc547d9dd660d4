"""The embedder of a configuration: one interface over the local model and a remote endpoint.

Passages are embedded in steps of :attr:`Embedder.step` (one process-pool call or a few requests each, so the
stage reports progress between them); a query is one short text. Both return unit vectors.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Protocol

import anyio
import anyio.to_process
import anyio.to_thread
import numpy as np

from lexintel.embeddings import local
from lexintel.embeddings.base import EmbeddingUnavailable, Health, Vectors
from lexintel.embeddings.remote import RemoteEmbedder
from lexintel.settings import Settings
from lexintel.store.db import Database

__all__ = ["Embedder", "LocalEmbedder", "RemoteModel", "embedder_for", "serve", "settings_of"]

LOCAL_STEP = 256
"""Passages per worker call: ~0.2 s of work, like an extraction step (progress latency vs. call overhead)."""


class Embedder(Protocol):
    """What the stage, the background re-embedding and the search use."""

    @property
    def name(self) -> str:
        """The model's name, recorded with its vectors."""
        ...

    @property
    def health(self) -> Health:
        """Whether it may be asked now (shared by everyone using this embedder)."""
        ...

    @property
    def step(self) -> int:
        """Passages per call (progress is reported between calls)."""
        ...

    async def passages(self, texts: list[str], limiter: anyio.CapacityLimiter) -> Vectors:
        """Unit vectors of ``texts`` (one row each); raises :class:`EmbeddingUnavailable`."""
        ...

    async def query(self, text: str) -> Vectors:
        """The unit vector of one query; raises :class:`EmbeddingUnavailable`."""
        ...


@dataclass
class LocalEmbedder:
    """wordllama's bundled model: passages in the extraction process pool, queries in a thread here."""

    name: str = local.MODEL_NAME
    health: Health = field(default_factory=Health)
    step: int = LOCAL_STEP

    async def passages(self, texts: list[str], limiter: anyio.CapacityLimiter) -> Vectors:
        try:
            data = await anyio.to_process.run_sync(local.embed_in_worker, texts, cancellable=True, limiter=limiter)
        except local.LocalModelMissing as exc:
            raise EmbeddingUnavailable(str(exc)) from None
        # anyio raises ProcessLookupError instead of BrokenWorkerProcess when a worker dies during its start-up
        except (anyio.BrokenWorkerProcess, ProcessLookupError):
            raise EmbeddingUnavailable("the embedding worker process crashed") from None
        return np.frombuffer(data, dtype=np.float32).reshape(len(texts), local.DIM)

    async def query(self, text: str) -> Vectors:
        try:
            model = await anyio.to_thread.run_sync(local.load)
        except local.LocalModelMissing as exc:
            raise EmbeddingUnavailable(str(exc)) from None
        vector: Vectors = model.embed([text])[0]
        return vector


@dataclass
class RemoteModel:
    """An OpenAI-compatible endpoint: requests from the event loop (nothing to compute here)."""

    client: RemoteEmbedder
    health: Health = field(default_factory=Health)

    @property
    def name(self) -> str:
        return self.client.name

    @property
    def step(self) -> int:
        return self.client.batch

    async def passages(self, texts: list[str], limiter: anyio.CapacityLimiter) -> Vectors:
        return await self.client.embed(texts)

    async def query(self, text: str) -> Vectors:
        vector: Vectors = (await self.client.embed([text]))[0]
        return vector


_lock = threading.Lock()
_embedders: dict[tuple[object, ...], Embedder] = {}


def embedder_for(settings: Settings) -> Embedder | None:
    """The embedder ``settings`` configure (None when ``LEXINTEL_EMBEDDINGS=off``), one per configuration so
    every user of it shares its health."""
    if settings.embeddings == "off":
        return None
    key: tuple[object, ...] = (settings.embeddings, settings.embeddings_url, settings.embeddings_model,
                               settings.embeddings_api_key, settings.embeddings_timeout,
                               settings.embeddings_retries, settings.embeddings_batch,
                               settings.embeddings_retry_interval)
    with _lock:
        embedder: Embedder | None = _embedders.get(key)
        if embedder is None:
            if settings.embeddings == "remote":
                assert settings.embeddings_url  # Settings.validate checks it
                assert settings.embeddings_model
                embedder = RemoteModel(RemoteEmbedder(
                    settings.embeddings_url, settings.embeddings_model, settings.embeddings_api_key,
                    settings.embeddings_timeout, settings.embeddings_retries, settings.embeddings_batch),
                    Health(settings.embeddings_retry_interval))
            else:
                embedder = LocalEmbedder(health=Health(settings.embeddings_retry_interval))
            _embedders[key] = embedder
        return embedder


_served: weakref.WeakKeyDictionary[Database, Settings] = weakref.WeakKeyDictionary()


def serve(db: Database, settings: Settings) -> None:
    """Record that ``settings`` (their embedder) serve ``db``: done when the services are built, so a caller
    holding only the database (``has_vectors(db, …)``) uses the same embedder."""
    with _lock:
        _served[db] = settings


def settings_of(db: Database) -> Settings | None:
    """The settings :func:`serve` recorded for ``db`` (None: no running instance serves it)."""
    with _lock:
        return _served.get(db)
