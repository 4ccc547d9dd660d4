"""Why a worker process died: the memory cap (``too_large``) or a crash (``worker_crashed``).

A worker capped by ``RLIMIT_AS`` mostly fails politely (Python raises MemoryError, the step returns
``too_large``), but some allocations fail where nothing can raise: inside a C library that aborts, while the
interpreter builds the exception itself, or when the kernel's OOM killer steps in. The parent then only sees a
broken pipe, with no exit status (anyio reaps the process). So each step leaves notes next to the document's
incoming files: the worker's stderr (C libraries and Python's fatal-error handler write there, which anyio
sends to /dev/null otherwise) and the address space it was using, sampled every ``SAMPLE_SECONDS`` by a small
thread. A worker that died saying it was out of memory, or within ``NEAR_CAP`` of its cap, died of the cap.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NEAR_CAP", "WorkerNotes", "is_memory_error", "note_worker", "worker_death"]

SAMPLE_SECONDS = 0.05
NEAR_CAP = 0.85  # the worker used at least this share of its address-space cap when it was last sampled
_MEMORY_WORDS = re.compile(r"MemoryError|Cannot allocate memory|[Oo]ut of memory|bad_alloc|failed to map segment|"
                           r"ENOMEM|OOM")


@dataclass(frozen=True)
class WorkerNotes:
    """Where a document's worker leaves its notes: ``path`` (stderr) and ``path.mem`` (address space, kB)."""

    path: str

    @classmethod
    def for_document(cls, data_dir: Path, document_id: str) -> WorkerNotes:
        """In the data dir's ``incoming`` area, which is emptied at every start."""
        return cls(str(data_dir / "incoming" / f"worker-{document_id}.log"))

    def read(self) -> tuple[str, int]:
        """The tail of the worker's stderr and its last sampled address space in kB (0: unknown)."""
        text, size = "", 0
        with contextlib.suppress(OSError), open(self.path, "rb") as stream:
            stream.seek(max(0, os.path.getsize(self.path) - 8192))
            text = stream.read().decode("utf-8", "replace")
        with contextlib.suppress(OSError, ValueError):
            size = int(Path(self.path + ".mem").read_text().split()[0])
        return text, size

    def remove(self) -> None:
        """The document is done with its worker calls."""
        for name in (self.path, self.path + ".mem"):
            Path(name).unlink(missing_ok=True)


def is_memory_error(exc: BaseException, memory_mb: int = 0) -> bool:
    """An error that means the worker hit its memory cap: MemoryError, ENOMEM, or an import that failed (a
    shared library that could not be mapped, a module half-loaded) while the worker is close to its cap."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno == 12:  # ENOMEM
        return True
    if not isinstance(exc, ImportError):
        return False
    return _MEMORY_WORDS.search(str(exc)) is not None or (
        memory_mb > 0 and _address_space_kb() >= NEAR_CAP * memory_mb * 1024)


def _address_space_kb() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError):
        return 0


def worker_death(notes: WorkerNotes, memory_mb: int, what: str) -> tuple[str, str]:
    """The failure of a document whose worker process died during ``what`` (``extraction``, ``OCR``)."""
    said, used_kb = notes.read()
    capped = memory_mb > 0
    if capped and (_MEMORY_WORDS.search(said) or used_kb >= NEAR_CAP * memory_mb * 1024):
        return ("too_large", f"This file needed more memory than the {memory_mb:,} MB a worker may use "
                             f"(LEXINTEL_WORKER_MEMORY_MB); its {what} worker was stopped. Splitting the file, or "
                             "raising the limit, lets it through.")
    return ("worker_crashed", f"The {what} worker process crashed on this file; other documents are unaffected.")


# the worker's side
_noted: str | None = None
_sampler: threading.Thread | None = None
_sample_fd = -1  # this document's ``.mem`` file, written in place: once the parent removes it, it stays gone


def note_worker(path: str | None) -> None:
    """In a worker: send stderr (and fatal-error tracebacks) to ``path`` and sample the address space into
    ``path.mem``; a new path (the next document) starts new notes. Never fails the step."""
    global _noted, _sampler, _sample_fd
    if path is None or path == _noted:
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 2)
        os.close(fd)
        faulthandler.enable(file=2, all_threads=False)
        sample_fd = os.open(path + ".mem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return
    old, _sample_fd = _sample_fd, sample_fd
    if old >= 0:
        os.close(old)
    _noted = path
    if _sampler is None:
        _sampler = threading.Thread(target=_sample, name="lexintel-memory-notes", daemon=True)
        _sampler.start()


def _sample() -> None:
    last = 0
    while True:
        time.sleep(SAMPLE_SECONDS)
        fd, size = _sample_fd, _address_space_kb()
        if fd < 0 or size == last:
            continue
        try:
            os.pwrite(fd, f"{size:<20}\n".encode(), 0)  # fixed width: a shorter number never leaves digits behind
            last = size
        except (OSError, MemoryError):
            continue
