"""OCR: throughput against raw Tesseract, character error rate on scans of the corpus, worker memory.

    python -m scripts.bench_ocr                       # all three, default sizes
    python -m scripts.bench_ocr --only speed --workers 2 --pages 24
    python -m scripts.bench_ocr --only quality --noise 12 --skew 1.0
    python -m scripts.bench_ocr --only memory --rss-pages 100

*Speed.* The same pages (English prose pages of the corpus, rendered once at 300 dpi) are read two ways with
the same number of processes: LexIntel's OCR step (:func:`lexintel.pipeline.extract.ocr_step`) on an
image-only PDF of them, through anyio's process pool as the pipeline calls it, which includes rendering each
page with PDFium; and raw ``tesseract page.pgm stdout`` on the pre-rendered pages in a bare
``ProcessPoolExecutor``, with Tesseract's default threading and with ``OMP_THREAD_LIMIT=1``. Both clocks
include starting the workers. Also: Tesseract's fixed start-up cost (a 10 x 10 image), the ceiling of what an
in-process binding could save.

*Quality.* Character error rate of OCR against the born-digital text of the same pages (pdfminer through
LexIntel's extraction): edit distance over reference length, both whitespace-collapsed and NFKC-normalised,
aligned word by word first (difflib) and then by characters within each differing stretch. Clean 300 dpi
renders, and optionally with Gaussian noise and a skew.

*Memory.* A scan of ``--rss-pages`` pages OCR'd by one worker; the worker's peak RSS and the largest
Tesseract child's, read in the worker (``getrusage``).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts._benchlib import load_line
from tests.support.corpus import CORPUS

# English prose pages of the corpus (file name part, 1-based pages): no math, no German, no forms.
PROSE = [("001-trivial", [1]), ("002-trivial", [1]), ("004-pdflatex-4-pages", [1, 2, 3, 4]),
         ("006-pdflatex-outline", [2, 3, 4]), ("011-google-doc", [1]), ("021-pdfa", [1]),
         ("026-latex-multicolumn", [1, 2])]
DPI = 300


def _corpus(part: str) -> Path:
    return next(p for p in sorted(CORPUS.glob("*.pdf")) if part in p.name)


def born_digital(path: Path) -> dict[int, str]:
    from lexintel.formats.base import ExtractOptions
    from lexintel.formats.pdf import extract_pdf

    pages: dict[int, str] = {}
    start: int | None = 0
    while start is not None:
        step = extract_pdf(str(path), start, 60.0, ExtractOptions())
        pages.update(step["pages"])
        start = step["next"]
    return pages


def render_pages(noise: float = 0.0, skew: float = 0.0) -> list[tuple[str, int, object]]:
    """(file, page, PIL image) for the prose pages, rendered like a 300 dpi scanner."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageChops

    out: list[tuple[str, int, object]] = []
    for part, numbers in PROSE:
        path = _corpus(part)
        pdf = pdfium.PdfDocument(str(path))
        for number in numbers:
            image = pdf[number - 1].render(scale=DPI / 72, grayscale=True).to_pil()
            if skew:
                image = image.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
            if noise:  # Gaussian grain around 128, added back centred: image + grain - 128, clipped
                image = ImageChops.add(image, Image.effect_noise(image.size, noise), offset=-128)
            out.append((path.name, number, image))
        pdf.close()
    return out


def scan_pdf(images: list[object], target: Path) -> None:
    first, *rest = images
    first.save(target, "PDF", resolution=DPI, save_all=True, append_images=rest)  # type: ignore[attr-defined]


# speed


def _raw_tesseract(pgm: str, threads: str) -> int:
    env = {**os.environ}
    if threads:
        env["OMP_THREAD_LIMIT"] = threads
    subprocess.run(["tesseract", pgm, "stdout", "--dpi", str(DPI), "-l", "eng"], capture_output=True, env=env,
                   check=True)
    return 1


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # every reaped descendant: workers and their tesseracts
    return usage.ru_utime + usage.ru_stime


def raw_pool(pgms: list[str], workers: int, threads: str) -> tuple[float, float]:
    """(pages/s, CPU seconds) of raw tesseract on ``pgms`` in a bare process pool, pool start-up included."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        done = sum(pool.map(_raw_tesseract, pgms, [threads] * len(pgms)))
    return done / (time.perf_counter() - t0), _children_cpu() - cpu0


def lexintel_pool(scan: Path, pages: int, workers: int) -> tuple[float, float, list[float]]:
    """(pages/s, CPU seconds, confidences) of the OCR step on ``scan`` through anyio's process pool."""
    import anyio
    import anyio.to_process

    from lexintel.formats.ocr import OcrOptions
    from lexintel.pipeline.extract import ocr_step

    numbers = list(range(1, pages + 1))
    results: list[tuple[int, str]] = []
    confidences: list[float] = []

    async def document_part(chunk: list[int], limiter: anyio.CapacityLimiter) -> None:
        start: int | None = 0
        while start is not None:
            step = await anyio.to_process.run_sync(ocr_step, str(scan), "pdf", chunk, start, 0.2, 2048,
                                                   OcrOptions(), cancellable=True, limiter=limiter)
            assert step["error"] is None, step["error"]
            results.extend(step["pages"])
            confidences.extend(c for _, c in step.get("ocr", []) if c is not None)
            start = step["next"]

    async def main() -> None:
        limiter = anyio.CapacityLimiter(workers)
        async with anyio.create_task_group() as tg:  # one document per worker, as the pipeline would run them
            for w in range(workers):
                tg.start_soon(document_part, numbers[w::workers], limiter)

    cpu0, t0 = _children_cpu(), time.perf_counter()
    anyio.run(main)  # its workers are stopped and reaped when the run ends, so their CPU is counted
    return len(results) / (time.perf_counter() - t0), _children_cpu() - cpu0, confidences


def startup_cost() -> tuple[float, float]:
    """(wall, CPU) seconds of Tesseract on a 10 x 10 image (start, load ``eng``, find nothing), medians."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.pgm"
        Image.new("L", (10, 10), 255).save(tiny)
        walls, cpus = [], []
        for _ in range(7):
            cpu0, t0 = _children_cpu(), time.perf_counter()
            subprocess.run(["tesseract", str(tiny), "stdout"], capture_output=True, check=False,
                           env={**os.environ, "OMP_THREAD_LIMIT": "1"})
            walls.append(time.perf_counter() - t0)
            cpus.append(_children_cpu() - cpu0)
    return statistics.median(walls), statistics.median(cpus)


def bench_speed(workers: int, pages: int, rounds: int) -> None:
    images = render_pages()
    images = (images * (pages // len(images) + 1))[:pages]
    runs: dict[str, list[tuple[float, float]]] = {"default": [], "single": [], "ours": []}
    with tempfile.TemporaryDirectory() as tmp:
        pgms = []
        for i, (_, _, image) in enumerate(images):
            target = Path(tmp) / f"page-{i:03d}.pgm"
            image.save(target)  # type: ignore[attr-defined]
            pgms.append(str(target))
        scan = Path(tmp) / "scan.pdf"
        scan_pdf([image for _, _, image in images], scan)
        print(f"speed: {len(images)} pages at {DPI} dpi, {workers} workers, {rounds} rounds; {load_line()}")
        for round_ in range(1, rounds + 1):  # alternated, so load drift hits every side
            runs["default"].append(raw_pool(pgms, workers, ""))
            runs["single"].append(raw_pool(pgms, workers, "1"))
            rate, cpu, _ = lexintel_pool(scan, len(images), workers)
            runs["ours"].append((rate, cpu))
            d, o1, us = runs["default"][-1], runs["single"][-1], runs["ours"][-1]
            print(f"  round {round_}: raw default threads {d[0]:.3f} pages/s ({d[1]:.1f} CPU s), raw "
                  f"OMP_THREAD_LIMIT=1 {o1[0]:.3f} pages/s ({o1[1]:.1f} CPU s), LexIntel {us[0]:.3f} pages/s "
                  f"({us[1]:.1f} CPU s); {load_line()}")
    med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
    best = max(("default", "single"), key=lambda k: med[k][0])
    cheapest = min(("default", "single"), key=lambda k: med[k][1])
    print(f"  median: LexIntel {med['ours'][0]:.3f} pages/s = {100 * med['ours'][0] / med[best][0]:.0f} % of the "
          f"faster raw ({best}) by wall clock, {100 * med[cheapest][1] / med['ours'][1]:.0f} % by CPU "
          "(raw CPU / LexIntel CPU; target >= 90 %)")
    wall, cpu = startup_cost()
    per_page = med["single"][1] / len(images)
    print(f"  tesseract start-up (10x10 image): {wall:.3f} s wall, {cpu:.3f} CPU s, against {per_page:.2f} CPU s "
          f"per page ({100 * cpu / per_page:.0f} %: the most an in-process binding could save)")


# quality


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def _levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _aligned(ref: list[str], hyp: list[str], moves: int) -> int:
    """Character edits between two word lists: equal runs of words cost nothing; what differs is aligned again
    (up to ``moves`` times, which finds text read in another order), then compared character by character."""
    gone: list[str] = []
    came: list[str] = []
    local = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, hyp, autojunk=False).get_opcodes():
        if op != "equal":
            local += _levenshtein(" ".join(ref[i1:i2]), " ".join(hyp[j1:j2]))
            gone += ref[i1:i2]
            came += hyp[j1:j2]
    if moves == 0 or not gone or not came or (len(gone), len(came)) == (len(ref), len(hyp)):
        return local
    return min(local, _aligned(gone, came, moves - 1))


def edit_distance(reference: str, hypothesis: str) -> tuple[int, int]:
    """(character edits in reading order, character edits reading order aside). Words are aligned first (an
    upper bound of the exact distance, tight in practice); the second figure aligns what still differs again,
    so a column read before another counts as moved, not as deleted and inserted."""
    ref, hyp = reference.split(" "), hypothesis.split(" ")
    return _aligned(ref, hyp, 0), _aligned(ref, hyp, 3)


def bench_quality(noise: float, skew: float) -> None:
    from lexintel.formats.ocr import OcrOptions, read_picture
    from lexintel.formats.render import to_pgm

    variants = [("clean", 0.0, 0.0)] + ([("noisy/skewed", noise, skew)] if noise or skew else [])
    truth = {part: born_digital(_corpus(part)) for part, _ in PROSE}
    print(f"quality: character error rate against the born-digital text, {DPI} dpi; {load_line()}")
    for label, n, s in variants:
        total_edits = total_moved = total_chars = 0
        per_file: dict[str, list[int]] = {}
        for name, number, image in render_pages(n, s):
            part = next(p for p, _ in PROSE if p in name)
            reference = _squash(truth[part][number])
            text, _ = read_picture(to_pgm(image), DPI, number, OcrOptions())
            edits, moved = edit_distance(reference, _squash(text))
            total_edits += edits
            total_moved += moved
            total_chars += len(reference)
            sums = per_file.setdefault(name, [0, 0, 0])
            sums[0] += edits
            sums[1] += moved
            sums[2] += len(reference)
        print(f"  {label}: CER {100 * total_moved / total_chars:.2f} % reading order aside, "
              f"{100 * total_edits / total_chars:.2f} % in reading order, over {total_chars:,} characters "
              "(target <= 3 % clean)")
        for name, (e, m, c) in per_file.items():
            print(f"    {name[:48]:48} {100 * m / max(c, 1):6.2f} % ({100 * e / max(c, 1):6.2f} % in order) of {c:,}")


# memory


def _peaks() -> tuple[int, int]:
    """(this worker's peak RSS, its largest child's peak RSS) in MB: run in the worker after the OCR."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)


def bench_memory(pages: int) -> None:
    import anyio
    import anyio.to_process

    from lexintel.formats.ocr import OcrOptions
    from lexintel.pipeline.extract import ocr_step

    images = render_pages()
    images = (images * (pages // len(images) + 1))[:pages]
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.pdf"
        scan_pdf([image for _, _, image in images], scan)
        size = scan.stat().st_size

        async def main() -> tuple[int, int, int, float]:
            limiter = anyio.CapacityLimiter(1)  # one worker: the peaks read afterwards are that worker's
            numbers = list(range(1, pages + 1))
            start: int | None = 0
            done = 0
            t0 = time.perf_counter()
            while start is not None:
                step = await anyio.to_process.run_sync(ocr_step, str(scan), "pdf", numbers, start, 0.2, 2048,
                                                       OcrOptions(), cancellable=True, limiter=limiter)
                assert step["error"] is None, step["error"]
                done += len(step["pages"])
                start = step["next"]
            elapsed = time.perf_counter() - t0
            own, child = await anyio.to_process.run_sync(_peaks, limiter=limiter)
            return done, own, child, elapsed

        done, own, child, elapsed = anyio.run(main)
    print(f"memory: a {done}-page scan ({size / 1e6:.1f} MB image-only PDF) OCR'd by one worker in {elapsed:.0f} s")
    print(f"  worker peak RSS {own} MB (target <= 400 MB); largest tesseract child {child} MB; "
          f"together {own + child} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["speed", "quality", "memory"])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pages", type=int, default=24, help="pages for the speed comparison")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--noise", type=float, default=24.0, help="Gaussian noise sigma for the noisy variant")
    parser.add_argument("--skew", type=float, default=1.0, help="degrees of skew for the noisy variant")
    parser.add_argument("--rss-pages", type=int, default=100)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    if args.only in (None, "speed"):
        bench_speed(args.workers, args.pages, args.rounds)
    if args.only in (None, "quality"):
        bench_quality(args.noise, args.skew)
    if args.only in (None, "memory"):
        bench_memory(args.rss_pages)


if __name__ == "__main__":
    main()
