"""ZIP archives: safety checks before extraction, then streamed extraction that counts every byte.

Why two passes: the central directory tells us (cheaply, before inflating anything) whether an archive is
plainly hostile (too many entries, too large in total, compressed beyond reason, path-traversal names), and
we refuse it whole; but declared sizes can lie, so extraction counts the bytes it actually inflates and
stops the moment a limit is crossed.

Verdicts:

* refused (the whole archive; nothing is kept): more than ``max_entries`` entries, entries whose bytes
  overlap or whose compressed sizes add up to more than the archive (an overlapping bomb, see
  :func:`check_layout`), declared or inflated total above ``max_total_bytes``, an entry whose ratio
  exceeds ``max_ratio`` past the ``ratio_grace`` bytes, an entry inflating past its declared size, a name
  with ``..``, an absolute path, a drive letter or a NUL byte (a crafted archive: nothing in it is
  trusted), an archive Python cannot read;
* skipped (listed in the batch log with a reason; the rest go through): directories, duplicate names
  (the first one wins), encrypted entries, empty files, nested archives (a ZIP inside the ZIP is not
  unpacked: one level only, which rules out recursive bombs), types LexIntel knows but cannot read yet
  (a Word file is a document, not an archive to open) and types it does not know. Types are decided by the
  format registry (:mod:`lexintel.formats`) from each entry's content once it is on disk, never by name.

Runs in a worker thread: pure, blocking, no database. The caller turns results into documents.
"""

from __future__ import annotations

import hashlib
import re
import struct
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lexintel import formats
from lexintel.clock import new_id
from lexintel.store.private import private_opener
from lexintel.upload.multipart import sanitize_filename

__all__ = [
    "ArchiveRefused",
    "Extracted",
    "Limits",
    "Plan",
    "Skipped",
    "extract",
    "inspect",
]

BLOCK = 1024 * 1024
HEAD = 8192
_DRIVE = re.compile(r"^[A-Za-z]:")
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (version..sizes), file name length, extra field length


class ArchiveRefused(Exception):
    """The archive as a whole is refused; ``code`` is stable, ``detail`` is shown to the user."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """Hard limits for one archive (from Settings)."""

    max_entries: int = 1000
    max_total_bytes: int = 10 * 1024**3
    max_ratio: float = 100.0
    ratio_grace: int = 100 * 1024


@dataclass(frozen=True)
class Skipped:
    """An entry left out, with the reason for the batch log."""

    name: str
    code: str
    detail: str


@dataclass
class Extracted:
    """An entry written to disk under a generated name."""

    name: str  # the name inside the archive
    filename: str  # display name (last path component, sanitized)
    path: Path
    size: int
    sha256: str
    head: bytes
    kind: str  # a readable document format's kind (lexintel.formats)


@dataclass
class Plan:
    """What :func:`inspect` found: entries to extract, in archive order, and entries skipped up front."""

    entries: list[zipfile.ZipInfo] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    total_entries: int = 0
    declared_bytes: int = 0


def unsafe_name(raw: str) -> str | None:
    """Why an entry name is dangerous, or None. ``raw`` is the name as stored (before any NUL cut)."""
    if "\x00" in raw:
        return "contains a NUL byte"
    name = raw.replace("\\", "/")
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if ".." in name.split("/"):
        return "climbs out of the archive with '..'"
    return None


def _ratio_exceeded(size: int, compressed: int, limits: Limits) -> bool:
    return size > limits.ratio_grace and size > limits.max_ratio * max(compressed, 1)


def _overlap(name: str) -> ArchiveRefused:
    return ArchiveRefused(
        "zip_overlap",
        f"The archive entry {name!r} shares its bytes with another entry (an overlapping-entry ZIP bomb); "
        "the archive is refused.",
    )


def check_layout(path: Path, infos: list[zipfile.ZipInfo], directory_offset: int) -> None:
    """Refuse entries that overlap, the check CPython added for CVE-2024-0450 (missing before 3.11.8/3.12.2).

    An overlapping bomb points many central-directory entries at one compressed stream: each entry has an
    ordinary ratio and the declared total looks plausible, yet a few KB inflate to gigabytes. In an honest
    archive each entry's local header and data end before the next entry's local header begins (and the
    last before the central directory), so the compressed sizes also add up to less than the file.
    """
    if sum(info.compress_size for info in infos) > path.stat().st_size:
        raise ArchiveRefused(
            "zip_overlap",
            "The archive's entries declare more compressed bytes than the archive holds (an overlapping-entry "
            "ZIP bomb); the archive is refused.",
        )
    ordered = sorted(infos, key=lambda info: info.header_offset)
    with open(path, "rb") as f:
        for index, info in enumerate(ordered):
            end_limit = ordered[index + 1].header_offset if index + 1 < len(ordered) else directory_offset
            f.seek(info.header_offset)
            raw = f.read(_LOCAL_HEADER.size)
            if len(raw) < _LOCAL_HEADER.size or raw[:4] != b"PK\x03\x04":
                raise ArchiveRefused("bad_archive", f"The ZIP archive cannot be read: no local header for entry "
                                     f"{info.filename!r}.")
            _sig, name_length, extra_length = _LOCAL_HEADER.unpack(raw)
            data_end = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length + info.compress_size
            if data_end > end_limit:
                raise _overlap(info.filename)


def inspect(path: Path, limits: Limits) -> Plan:
    """Check the central directory; raise :class:`ArchiveRefused` or return what to extract."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            directory_offset = zf.start_dir
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
        raise ArchiveRefused("bad_archive", f"The ZIP archive cannot be read: {exc}.") from None
    plan = Plan(total_entries=len(infos))
    if len(infos) > limits.max_entries:
        raise ArchiveRefused(
            "zip_too_many_entries",
            f"The archive has {len(infos)} entries; at most {limits.max_entries} are allowed.",
        )
    check_layout(path, infos, directory_offset)
    seen: set[str] = set()
    for info in infos:
        why = unsafe_name(info.orig_filename)
        if why is not None:
            shown = info.orig_filename.replace("\x00", "\\0")
            raise ArchiveRefused("zip_unsafe_name", f"The archive entry {shown!r} {why}; the archive is refused.")
        if info.is_dir():
            plan.skipped.append(Skipped(info.filename, "directory", "a directory, not a file"))
            continue
        if info.filename in seen:
            plan.skipped.append(Skipped(info.filename, "duplicate_name", "a second entry with the same name"))
            continue
        seen.add(info.filename)
        if _ratio_exceeded(info.file_size, info.compress_size, limits):
            raise ArchiveRefused(
                "zip_ratio_exceeded",
                f"The archive entry {info.filename!r} declares {info.file_size} bytes from {info.compress_size} "
                f"compressed (above {limits.max_ratio:g}:1); it looks like a ZIP bomb, so the archive is refused.",
            )
        plan.declared_bytes += info.file_size
        if plan.declared_bytes > limits.max_total_bytes:
            raise ArchiveRefused(
                "zip_too_large",
                f"The archive would unpack to more than {limits.max_total_bytes} bytes; the archive is refused.",
            )
        if info.flag_bits & 0x1:
            plan.skipped.append(Skipped(info.filename, "encrypted_entry", "encrypted (password-protected)"))
            continue
        plan.entries.append(info)
    return plan


Progress = Callable[[int, int, str], None]
"""``progress(entries_done, bytes_inflated, current name)``, called from the worker thread."""

SkipNote = Callable[[Skipped], None]


def extract(
    path: Path,
    plan: Plan,
    dest: Path,
    limits: Limits,
    *,
    progress: Progress | None = None,
    on_skip: SkipNote | None = None,
    stop: threading.Event | None = None,
) -> list[Extracted]:
    """Inflate the planned entries into ``dest`` under generated names, counting bytes against the limits.

    On refusal or error every file written so far is removed before the exception propagates.
    """
    done: list[Extracted] = []
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for number, info in enumerate(plan.entries, start=1):
                if stop is not None and stop.is_set():
                    raise ArchiveRefused("cancelled", "Unpacking was stopped (the server is shutting down).")
                result, total = _extract_one(zf, info, dest, limits, total, stop)
                if isinstance(result, Skipped):
                    if on_skip is not None:
                        on_skip(result)
                else:
                    done.append(result)
                if progress is not None:
                    progress(number, total, info.filename)
    except BaseException:
        for item in done:
            item.path.unlink(missing_ok=True)
        raise
    return done


def _nested(info: zipfile.ZipInfo) -> Skipped:
    return Skipped(info.filename, "nested_archive", "an archive inside the archive (only one level is unpacked)")


def _extract_one(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, limits: Limits, total: int,
    stop: threading.Event | None,
) -> tuple[Extracted | Skipped, int]:
    """Stream one entry to disk; returns the result and the new running total of inflated bytes."""
    target = dest / f"{new_id()}.part"
    digest = hashlib.sha256()
    head = b""
    size = 0
    try:
        with zf.open(info) as src, open(target, "xb", opener=private_opener) as out:
            while block := src.read(BLOCK):
                size += len(block)
                total += len(block)
                if size > info.file_size:
                    raise ArchiveRefused(
                        "zip_size_mismatch",
                        f"The archive entry {info.filename!r} inflates past its declared size; the archive is "
                        "refused.",
                    )
                if total > limits.max_total_bytes:
                    raise ArchiveRefused(
                        "zip_too_large",
                        f"The archive unpacks to more than {limits.max_total_bytes} bytes; the archive is refused.",
                    )
                if _ratio_exceeded(size, info.compress_size, limits):
                    raise ArchiveRefused(
                        "zip_ratio_exceeded",
                        f"The archive entry {info.filename!r} inflates above {limits.max_ratio:g}:1; it looks "
                        "like a ZIP bomb, so the archive is refused.",
                    )
                if len(head) < HEAD:
                    head += block[: HEAD - len(head)]
                digest.update(block)
                out.write(block)
                if stop is not None and stop.is_set():
                    raise ArchiveRefused("cancelled", "Unpacking was stopped (the server is shutting down).")
    except ArchiveRefused:
        target.unlink(missing_ok=True)
        raise
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        target.unlink(missing_ok=True)
        reason = (exc.strerror or "input/output error") if isinstance(exc, OSError) else str(exc)  # no server path
        return Skipped(info.filename, "corrupt_entry", f"cannot be unpacked ({reason})"), total
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    verdict = _verdict(info, size, formats.detect(head, target))  # on disk: Word is told from ZIP by its entries
    if isinstance(verdict, Skipped):
        target.unlink(missing_ok=True)
        return verdict, total
    extracted = Extracted(info.filename, sanitize_filename(info.filename), target, size, digest.hexdigest(), head,
                          verdict.kind)
    return extracted, total


def _verdict(info: zipfile.ZipInfo, size: int, found: formats.Format | None) -> formats.Format | Skipped:
    """The format of an unpacked entry that becomes a document, or why it does not."""
    if size == 0:
        return Skipped(info.filename, "empty_file", "empty")
    if found is None:
        return Skipped(info.filename, "unsupported_type", formats.not_recognised())
    if found.container:
        return _nested(info)
    if not found.readable:
        return Skipped(info.filename, "unsupported_type", found.not_readable_yet)
    return found
