"""Benchmark: embedding passages/s with the default model (wordllama l2_supercat-256 from its wheel), issue 14.

Passages are ``--passages`` distinct windows (600-1,200 characters) of the search benchmark's NDAs
(``../shared/search-bench/corpus``): texts never seen, in the vocabulary of real contracts. Measured:

1. **In process**, one thread, a fresh interpreter each: wordllama's way (the tokenizer over each whole passage,
   then the mean of its token vectors) and LexIntel's (the same vectors from a per-word cache, which starts
   empty: :class:`lexintel.embeddings.local.LocalModel`).
2. **Through the process pool** as the stage runs it: ``anyio.to_process.run_sync(embed_in_worker, 256 passages)``
   with 1 and 2 concurrent new workers (the pipeline's limiter); worker start and model load are excluded (one
   small call per worker first) and reported separately.

    python -m scripts.bench_embeddings                   # 20,000 passages
    python -m scripts.bench_embeddings --passages 5000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import anyio
import anyio.to_process

from lexintel.embeddings import local
from lexintel.embeddings.embedder import LOCAL_STEP
from scripts._benchlib import load_line

REPO = Path(__file__).resolve().parents[1]
CORPORA = [REPO.parent / "shared" / "search-bench" / "corpus", REPO.parents[1] / "shared" / "search-bench" / "corpus"]


def corpus_passages(n: int) -> list[str]:
    """``n`` distinct passages of ~1,000 characters: windows of the corpus's sentences at random starts and
    lengths, so each is a text the model has not seen (its words mostly have: that is what a case is like)."""
    root = next((path for path in CORPORA if path.is_dir()), CORPORA[0])  # ../shared (from a worktree: ../../)
    sentences = [s for path in sorted(root.glob("*.txt")) for s in re.split(r"(?<=[.;:])\s+", path.read_text())
                 if s.strip()]
    if not sentences:
        raise SystemExit(f"no corpus at {root}")
    rng = random.Random(14)
    out: set[str] = set()
    while len(out) < n:
        start = rng.randrange(len(sentences))
        text, i = "", start
        while len(text) < rng.randint(600, 1200) and i < len(sentences):
            text = f"{text} {sentences[i]}".strip()
            i += 1
        out.add(text[:1200].strip())
    return sorted(out, key=lambda _: rng.random())


def in_process(texts: list[str], how: str) -> float:
    """Passages/s in a fresh interpreter: LexIntel's model (``ours``, its word cache starting empty) or the
    whole-passage tokenization wordllama does (``direct``)."""
    code = (
        "import sys, time, json\n"
        "import numpy as np\n"
        "from lexintel.embeddings import local\n"
        "texts = json.load(sys.stdin)\n"
        "m = local.load()\n"
        "def direct(batch):\n"
        "    out = []\n"
        "    for e in m.tokenizer.encode_batch(batch, add_special_tokens=False):\n"
        "        out.append(m.table[np.asarray(e.ids)].mean(axis=0))\n"
        "    return out\n"
        f"embed = m.embed if {how!r} == 'ours' else direct\n"
        "t = time.perf_counter()\n"
        f"for i in range(0, len(texts), {LOCAL_STEP}): embed(texts[i:i + {LOCAL_STEP}])\n"
        "print(len(texts) / (time.perf_counter() - t))\n"
    )
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([sys.executable, "-c", code], input=json.dumps(texts), text=True, capture_output=True,
                          env=env, check=True)
    return float(done.stdout.strip())


async def through_pool(texts: list[str], workers: int) -> tuple[float, float]:
    """(passages/s, seconds of the first call per worker: start + model load) through anyio's process pool."""
    limiter = anyio.CapacityLimiter(workers)
    began = time.perf_counter()
    async with anyio.create_task_group() as tg:  # warm up: one call per worker, run concurrently
        for _ in range(workers):
            tg.start_soon(lambda: anyio.to_process.run_sync(local.embed_in_worker, texts[:8], limiter=limiter))
    warm = time.perf_counter() - began
    steps = [texts[i : i + LOCAL_STEP] for i in range(0, len(texts), LOCAL_STEP)]
    began = time.perf_counter()

    async def worker(mine: list[list[str]]) -> None:
        for step in mine:
            await anyio.to_process.run_sync(local.embed_in_worker, step, cancellable=True, limiter=limiter)

    async with anyio.create_task_group() as tg:
        for w in range(workers):
            tg.start_soon(worker, steps[w::workers])
    return len(texts) / (time.perf_counter() - began), warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=20_000)
    args = parser.parse_args()
    texts = corpus_passages(args.passages)
    chars = sum(map(len, texts)) / len(texts)  # passages of LexIntel's 1,200-character chunks average ~1,000
    print(f"embeddings benchmark: {len(texts)} passages (avg {chars:.0f} chars), model {local.MODEL_NAME}, "
          f"{os.cpu_count()} cores; {load_line()}")
    began = time.perf_counter()
    local.load()
    print(f"  model load (in process): {time.perf_counter() - began:.2f} s")
    print(f"  in process, whole passages through the tokenizer (wordllama's way): "
          f"{in_process(texts, 'direct'):,.0f} passages/s")
    print(f"  in process, LexIntel's model (word cache, starting empty):         "
          f"{in_process(texts, 'ours'):,.0f} passages/s")
    for workers in (1, 2):
        rate, warm = anyio.run(through_pool, texts, workers)  # new worker processes: their caches start empty
        print(f"  process pool, {workers} worker{'s' if workers > 1 else ' '} ({LOCAL_STEP} per call): "
              f"{rate:,.0f} passages/s   (first call incl. worker start + model load: {warm:.2f} s)")
    print(f"  {load_line()}")


if __name__ == "__main__":
    main()
