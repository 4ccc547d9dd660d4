"""An OpenAI-compatible ``/v1/embeddings`` endpoint (Ollama, llama.cpp server, vLLM, text-embeddings-inference).

One request per ``batch`` passages: ``{"model": …, "input": [texts]}`` -> ``{"data": [{"index", "embedding"}]}``.
Each request has a timeout (connect and read) and is tried ``retries`` times with backoff (0.5 s doubling,
at most 8 s) on what may pass: a refused or dropped connection, a timeout, ``429`` and ``5xx`` answers. Any
other answer (a ``401`` for a wrong key, a ``404`` for a wrong model or URL) stops at once: trying again cannot
help. Every failure becomes :class:`EmbeddingUnavailable` with a sentence a person can act on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import anyio
import httpx
import numpy as np

from lexintel.embeddings.base import EmbeddingUnavailable, Vectors, normalized

__all__ = ["RemoteEmbedder", "endpoint_url"]

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 8.0


def endpoint_url(url: str) -> str:
    """The embeddings URL from what a person configured: a base (``…/v1`` or the server root) or the full URL."""
    url = url.rstrip("/")
    if url.endswith("/embeddings"):
        return url
    if url.endswith("/v1"):
        return url + "/embeddings"
    return url + "/v1/embeddings"


class _Retryable(Exception):
    """A failure that another attempt may not have."""


@dataclass
class RemoteEmbedder:
    """Embeds through an OpenAI-compatible endpoint (async: it runs on the event loop, it only waits)."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    retries: int = 3
    batch: int = 64

    @property
    def name(self) -> str:
        """Recorded with the vectors: the model's name as the endpoint knows it."""
        return f"remote/{self.model}"

    async def embed(self, texts: list[str]) -> Vectors:
        """Unit vectors for ``texts``, ``batch`` per request; raises :class:`EmbeddingUnavailable`."""
        parts = []
        async with self._client() as client:
            for offset in range(0, len(texts), self.batch):
                parts.append(await self._request(client, texts[offset : offset + self.batch]))
        if not parts:
            return np.zeros((0, 0), dtype=np.float32)
        return normalized(np.vstack(parts))

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout), headers=headers, trust_env=False)

    async def _request(self, client: httpx.AsyncClient, texts: list[str]) -> Vectors:
        target = endpoint_url(self.url)
        delay = BACKOFF_FIRST
        reason = ""
        for attempt in range(1, self.retries + 1):
            try:
                return self._parse(await client.post(target, json={"model": self.model, "input": texts}), len(texts))
            except _Retryable as exc:
                reason = str(exc)
            except httpx.TimeoutException:
                reason = f"the embeddings endpoint {target} did not answer within {self.timeout:g} s"
            except httpx.HTTPError as exc:  # refused, reset, DNS…: the endpoint is not reachable
                reason = f"the embeddings endpoint {target} is unreachable ({_describe(exc)})"
            if attempt < self.retries:
                await anyio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
        raise EmbeddingUnavailable(f"{reason} after {self.retries} attempts")

    def _parse(self, response: httpx.Response, expected: int) -> Vectors:
        target = str(response.request.url)
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"the embeddings endpoint {target} answered {response.status_code}")
        if response.status_code != 200:
            raise EmbeddingUnavailable(f"the embeddings endpoint {target} refused the request "
                                       f"({response.status_code}: {_detail(response)}); check "
                                       "LEXINTEL_EMBEDDINGS_URL, LEXINTEL_EMBEDDINGS_MODEL and the API key")
        try:
            data = response.json()["data"]
            rows = sorted(data, key=lambda item: int(item.get("index", 0)))
            matrix = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EmbeddingUnavailable(f"the embeddings endpoint {target} did not answer with OpenAI-style "
                                       "embeddings ({\"data\": [{\"embedding\": [...]}]})") from None
        if matrix.ndim != 2 or matrix.shape[0] != expected or matrix.shape[1] == 0:
            raise EmbeddingUnavailable(f"the embeddings endpoint {target} returned {matrix.shape[0]} vectors "
                                       f"for {expected} passages")
        if not np.isfinite(matrix).all():
            raise EmbeddingUnavailable(f"the embeddings endpoint {target} returned non-finite numbers")
        return matrix


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "could not connect: nothing answers at that address and port"
    return str(exc) or "the connection failed"


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text[:200] or "no detail"
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:200]
    return str(body)[:200]


def backoff_total(retries: int) -> float:
    """Seconds of backoff a request can wait in all (for the stage's worst case)."""
    return sum(min(BACKOFF_FIRST * math.pow(2, i), BACKOFF_MAX) for i in range(max(retries - 1, 0)))
