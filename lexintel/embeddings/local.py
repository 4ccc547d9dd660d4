"""The default embedder: wordllama's 256-dimension ``l2_supercat`` model, read from the files its wheel ships.

WordLlama is a static embedding model: a table of one 256-d vector per token of the Llama 2 tokenizer, and a
text's embedding is the average of its tokens' vectors. The ``wordllama`` wheel carries both parts
(``weights/l2_supercat_256.safetensors``, 16 MB, and ``tokenizers/l2_supercat_tokenizer_config.json``), but
``WordLlama.load()`` 0.4.0 looks for the tokenizer under ``tokenizer/`` and, not finding it there, downloads it
from Hugging Face; importing the package also installs a root logging handler. So this module never imports
``wordllama``: it locates the package's directory with :func:`importlib.util.find_spec` (which does not run
it), opens the two files with ``tokenizers`` and ``safetensors`` (which read local files only), and does the
averaging itself with numpy, as ``WordLlamaInference.embed`` does (the mean of the token vectors; see
:class:`LocalModel` for how it avoids tokenizing a word twice), then scales each vector to unit length so a
dot product is the cosine. Nothing here can reach the network.

The model is loaded once per process (the extraction workers and the server's query side each keep one:
32 MB as float32, plus its word cache of at most ~50 MB). :func:`embed_in_worker` is the process-pool entry
point: plain lists in, bytes out.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lexintel.worker_priority import yield_to_server

__all__ = ["DIM", "MODEL_NAME", "LocalModel", "LocalModelMissing", "embed_in_worker", "load", "model_files"]

CONFIG, DIM = "l2_supercat", 256
MODEL_NAME = f"wordllama/{CONFIG}-{DIM}"
"""The name recorded with the vectors (changing it re-embeds every passage)."""

Vectors = npt.NDArray[np.float32]


class LocalModelMissing(RuntimeError):
    """The bundled model's files are not where the wordllama wheel puts them (package missing or damaged)."""


def model_files() -> tuple[Path, Path]:
    """(weights, tokenizer) inside the installed wordllama package, without importing it."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or spec.origin is None:
        raise LocalModelMissing("the local embedding model is not installed (pip install wordllama)")
    root = Path(spec.origin).parent
    weights = root / "weights" / f"{CONFIG}_{DIM}.safetensors"
    tokenizer = root / "tokenizers" / f"{CONFIG}_tokenizer_config.json"
    for path in (weights, tokenizer):
        if not path.is_file():
            raise LocalModelMissing(f"the local embedding model is incomplete: {path} is missing "
                                    "(reinstall wordllama)")
    return weights, tokenizer


_PIECE = re.compile(r" *[^ ]+")
"""A word as the tokenizer sees it: its leading spaces and everything up to the next space."""
_FIRST = "\x00"
"""Key prefix of a text's first piece: the tokenizer's own ``▁`` goes before it, not one of its spaces."""

PIECE_CACHE_MAX = 50_000
"""Distinct pieces kept per process (1 KiB each: at most ~50 MB per worker, under its address-space cap); past
this the cache starts again (frequent words come back within a few passages)."""


class LocalModel:
    """The token table and the tokenizer; :meth:`embed` turns texts into unit vectors.

    The embedding is the mean of the text's token vectors, so it only needs, per word, the sum of its tokens'
    vectors and their count. The Llama 2 tokenizer replaces spaces by ``▁`` and no token of its vocabulary has a
    ``▁`` after another character, so a token never spans a boundary before a space: tokenizing a text is
    tokenizing each of its space-led pieces alone. Each distinct piece is therefore tokenized once per process
    and remembered as (vector sum, token count); a passage costs a regular expression, dictionary lookups and
    one small sum instead of a BPE run over 1,200 characters: several times faster than tokenizing, with the
    same vectors (a test compares them with wordllama's own ``WordLlamaInference.embed``).
    """

    def __init__(self, table: Vectors, tokenizer: Any) -> None:
        self.table = table  # (vocabulary, DIM) float32
        self.tokenizer = tokenizer
        self._index: dict[str, int] = {}
        self._sums = np.zeros((1024, table.shape[1]), dtype=np.float32)
        self._counts = np.zeros(1024, dtype=np.float32)

    def _learn(self, pieces: list[str]) -> None:
        """Tokenize new pieces (in one batch) and remember their vector sums and token counts."""
        if len(self._index) + len(pieces) > PIECE_CACHE_MAX:
            self._index.clear()
        # the tokenizer prepends one "▁": before a text's first piece (its key's _FIRST dropped), and for the
        # first space of a later piece (which always starts with one)
        encodings = self.tokenizer.encode_batch([p[1:] for p in pieces], add_special_tokens=False)
        start = len(self._index)
        need = start + len(pieces)
        if need > len(self._counts):
            capacity = max(need, 2 * len(self._counts))
            sums = np.zeros((capacity, self.table.shape[1]), dtype=np.float32)
            counts = np.zeros(capacity, dtype=np.float32)
            sums[:start], counts[:start] = self._sums[:start], self._counts[:start]
            self._sums, self._counts = sums, counts
        vocabulary = self.table.shape[0]
        for offset, (piece, encoding) in enumerate(zip(pieces, encodings, strict=True)):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, vocabulary - 1)
            self._sums[start + offset] = self.table[ids].sum(axis=0) if ids.size else 0.0
            self._counts[start + offset] = ids.size
            self._index[piece] = start + offset

    def embed(self, texts: list[str]) -> Vectors:
        """Unit-length embeddings, one row per text (a text with no token gets a zero row)."""
        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        split = [self._pieces(text) for text in texts]
        index = self._index
        new = list(dict.fromkeys(p for pieces in split for p in pieces if p is not None and p not in index))
        if new:
            self._learn(new)
            index = self._index
            missing = [p for pieces in split for p in pieces if p is not None and p not in index]
            if missing:  # the cache started again meanwhile
                self._learn(list(dict.fromkeys(missing)))
        for row, pieces in enumerate(split):
            if not pieces:
                continue
            if pieces[0] is None:  # trailing spaces: tokenized whole (rare; passages and queries are stripped)
                out[row] = self._direct(texts[row])
                continue
            rows = np.fromiter((index[p] for p in pieces if p is not None), dtype=np.int64, count=len(pieces))
            count = self._counts[rows].sum()
            if count:
                out[row] = self._sums[rows].sum(axis=0) / count
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    @staticmethod
    def _pieces(text: str) -> list[str | None]:
        """The cache keys of ``text``'s pieces; ``[None]`` for a text ending in a space (tokenized whole)."""
        if text.endswith(" "):
            return [None]
        pieces: list[str | None] = list(_PIECE.findall(text))
        if pieces:
            pieces[0] = _FIRST + str(pieces[0])
        return pieces

    def _direct(self, text: str) -> Vectors:
        ids = np.asarray(self.tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)
        vector: Vectors = np.zeros(self.table.shape[1], dtype=np.float32)
        if ids.size:
            vector = self.table[np.clip(ids, 0, self.table.shape[0] - 1)].mean(axis=0)
        return vector


_lock = threading.Lock()
_model: LocalModel | None = None


def load() -> LocalModel:
    """The process's model, loaded on first use (~0.2 s) from the wheel's files only."""
    global _model
    with _lock:
        if _model is None:
            from safetensors import safe_open  # imported here: the pipeline imports this module everywhere
            from tokenizers import Tokenizer

            weights, tokenizer_file = model_files()
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.no_padding()
            tokenizer.no_truncation()
            with safe_open(str(weights), framework="np") as f:
                table = np.ascontiguousarray(f.get_tensor("embedding.weight"), dtype=np.float32)
            _model = LocalModel(table, tokenizer)
        return _model


def embed_in_worker(texts: list[str]) -> bytes:
    """Process-pool entry point: the texts' unit vectors as float32 bytes (row-major, ``DIM`` per text).

    Bytes pickle in one piece; the caller rebuilds the matrix with ``np.frombuffer``. Each worker uses one
    tokenizer thread: the pool already runs one worker per core.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield_to_server()
    return load().embed(texts).tobytes()
