"""OCR with Tesseract: a page's picture in, its text and a mean word confidence out, in a worker process.

Tesseract runs as its command-line program (``tesseract stdin stdout … tsv``), one process per page, not
through a binding. Measured (docs/benchmarks.md, OCR): starting the program and loading ``eng`` costs about
0.2 s against 1-3 s of recognition for a text page, and the CLI path reaches the throughput target against raw
Tesseract; in return a page that runs past its time limit is killed without touching the worker, a crash or an
out-of-memory abort inside Tesseract loses one page, and the worker's memory cap (inherited by the child)
bounds it too. pytesseract is the same program behind a temporary file; tesserocr would save the start-up but
needs compiling against libtesseract and runs in the worker's own process (a hang cannot be interrupted).

``OMP_THREAD_LIMIT=1``: the process pool already runs one page per core; Tesseract's own OpenMP threads on top
only contend (the figure is in docs/benchmarks.md). The TSV output carries each word's confidence; the text
is rebuilt from it (lines and paragraphs as Tesseract found them), so one run gives both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from lexintel.formats.base import MAX_PIXELS
from lexintel.formats.normalize import searchable
from lexintel.formats.render import PageFailed

__all__ = [
    "NOT_INSTALLED",
    "OcrOptions",
    "OcrUnavailable",
    "merge_ocr",
    "parse_tsv",
    "read_picture",
    "tesseract_problem",
]

NOT_INSTALLED = "needs OCR: tesseract is not installed"
_LANGUAGES = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")


@dataclass(frozen=True)
class OcrOptions:
    """How pages are read: one picklable bag, handed to each OCR step."""

    languages: str = "eng"  # Tesseract's -l: "eng", "eng+deu" (each needs its tesseract-ocr-<lang> package)
    dpi: int = 300  # rendering resolution for PDF pages
    min_dpi: int = 100  # a page too large for max_pixels is rendered smaller, down to this; below it, refused
    max_pixels: int = MAX_PIXELS
    page_timeout: float = 60.0  # seconds of Tesseract per page; past it that page is skipped with a reason
    tesseract: str = "tesseract"  # the program, on PATH or as a path


class OcrUnavailable(Exception):
    """OCR cannot run at all here (no program, no language data): the reason, ready for a document's message."""


def _resolve(program: str) -> str | None:
    return shutil.which(program)


@lru_cache(maxsize=8)
def _installed_languages(path: str, mtime_ns: int) -> frozenset[str]:
    try:
        listed = subprocess.run([path, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    lines = (listed.stdout + listed.stderr).splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and " " not in line.strip())


def tesseract_problem(program: str = "tesseract", languages: str = "eng") -> str | None:
    """Why OCR cannot run here, as a document's message, or None when it can.

    For ``/ready`` and for the pipeline before it queues OCR work. Cheap enough to call per request: the
    program is looked up on PATH each time and its language list is read once per installed binary.
    """
    path = _resolve(program)
    if path is None:
        return NOT_INSTALLED
    if not _LANGUAGES.match(languages):
        return f"needs OCR: {languages!r} is not a list of Tesseract languages (for example eng or eng+deu)"
    try:
        installed = _installed_languages(path, os.stat(path).st_mtime_ns)
    except OSError:
        return NOT_INSTALLED
    missing = [lang for lang in languages.split("+") if lang not in installed]
    if missing:
        packages = ", ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return f"needs OCR: Tesseract has no language data for {'+'.join(missing)} (install {packages})"
    return None


def parse_tsv(tsv: str) -> tuple[str, float | None]:
    """Tesseract's TSV as (text, mean word confidence 0-100, None when it found no words).

    Words of a line are joined by spaces, lines by newlines, paragraphs and blocks by a blank line, as
    Tesseract's own text output does.
    """
    lines: list[list[str]] = []
    breaks: list[bool] = []  # a paragraph starts before this line
    confidences: list[float] = []
    current: tuple[str, str, str, str] | None = None
    paragraph: tuple[str, str, str] | None = None
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        try:
            conf = float(cols[10])
        except ValueError:
            continue
        if not word or conf < 0:
            continue
        key = (cols[1], cols[2], cols[3], cols[4])
        if key != current:
            breaks.append(paragraph is not None and key[:3] != paragraph)
            lines.append([])
            current, paragraph = key, key[:3]
        lines[-1].append(word)
        confidences.append(conf)
    out: list[str] = []
    for words, new_paragraph in zip(lines, breaks, strict=True):
        if new_paragraph:
            out.append("")
        out.append(" ".join(words))
    text = searchable("\n".join(out))
    return text, (round(sum(confidences) / len(confidences), 2) if confidences else None)


def read_picture(pgm: bytes, dpi: int | None, number: int, options: OcrOptions) -> tuple[str, float | None]:
    """OCR one page's picture; raises :class:`PageFailed` for this page, :class:`OcrUnavailable` for all."""
    program = _resolve(options.tesseract)
    if program is None:
        raise OcrUnavailable(NOT_INSTALLED)
    args = [program, "stdin", "stdout", "-l", options.languages]
    if dpi is not None:
        args += ["--dpi", str(dpi)]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run([*args, "tsv"], input=pgm, capture_output=True, timeout=options.page_timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired:
        raise PageFailed("ocr_timeout", f"Reading page {number} as a scan took longer than "
                                        f"{options.page_timeout:g} s; it was skipped.") from None
    except OSError:
        raise OcrUnavailable(NOT_INSTALLED) from None
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace")
        if "Failed loading language" in said or "Could not initialize tesseract" in said:
            problem = tesseract_problem(options.tesseract, options.languages)
            raise OcrUnavailable(problem or f"needs OCR: Tesseract could not load {options.languages}")
        if done.returncode < 0:  # killed by a signal: an abort on a failed allocation, or a crash
            raise PageFailed("ocr_failed", f"Tesseract stopped while reading page {number} (it may have needed more "
                                           "memory than the worker limit allows); the page was skipped.")
        raise PageFailed("ocr_failed", f"Tesseract could not read page {number}; the page was skipped.")
    return parse_tsv(done.stdout.decode("utf-8", "replace"))


def merge_ocr(layer: str, ocr: str) -> str:
    """A page's text once OCR has read it: the OCR text, then whatever text layer the page had (a Bates number or
    stamp over a scan is text the picture does not show)."""
    layer, ocr = layer.strip(), ocr.strip()
    if not layer:
        return ocr
    if not ocr:
        return layer
    return f"{ocr}\n\n{layer}"
