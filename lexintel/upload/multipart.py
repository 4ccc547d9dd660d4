"""Streamed multipart/form-data: file parts go straight to disk while being hashed and size-checked.

Litestar's own form parsing spools every file to a temporary file first; parsing ``request.stream()`` here
with the same parser (``multipart.PushMultipartParser``) writes each byte once, enforces the per-file and
per-request limits while the bytes arrive (413 as soon as a limit is crossed, partial files removed), and
keeps memory flat whatever the upload size.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar._multipart import parse_content_header
from multipart import MultipartSegment, ParserError, ParserLimitReached, PushMultipartParser

from lexintel.errors import BadRequest, PayloadTooLarge
from lexintel.store.files import FileStore, IncomingFile

__all__ = ["Received", "ReceivedFile", "receive_multipart", "sanitize_filename"]

MAX_FIELD_BYTES = 64 * 1024
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def sanitize_filename(raw: str | None) -> str:
    """A display name: last path component, no control, format (bidi overrides, zero-width) or line/paragraph
    separator characters, at most 255 chars."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = _UNSAFE.sub("", name).strip().lstrip(".") or "unnamed"
    return name[:255]


@dataclass
class ReceivedFile:
    """One file part, complete on disk in ``incoming``."""

    filename: str
    incoming: IncomingFile


@dataclass
class Received:
    """Everything a multipart request carried."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)

    async def discard(self) -> None:
        """Delete every received file (the request was refused)."""
        for item in self.files:
            await item.incoming.discard()


async def receive_multipart(
    request: Request[Any, Any, Any],
    store: FileStore,
    *,
    max_request_bytes: int,
    max_file_bytes: int,
    max_files: int,
) -> Received:
    """Parse the request body as it streams in; on any error, nothing received is kept."""
    ctype, params = parse_content_header(request.headers.get("content-type", ""))
    boundary = params.get("boundary")
    if ctype != "multipart/form-data" or not boundary:
        raise BadRequest("not_multipart", "Send files as multipart/form-data, one or more parts named 'files'.")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_request_bytes:
        raise PayloadTooLarge(
            "request_too_large",
            f"The upload is {int(declared)} bytes; one request may carry at most {max_request_bytes} bytes. "
            "Use the chunked upload for larger files.",
        )
    received = Received()
    current: IncomingFile | None = None
    segment: MultipartSegment | None = None
    buffer = bytearray()
    total = 0
    try:
        with PushMultipartParser(boundary.encode(), max_segment_count=max_files + 100) as parser:
            async for chunk in request.stream():
                total += len(chunk)
                if total > max_request_bytes:
                    raise PayloadTooLarge(
                        "request_too_large", f"One request may carry at most {max_request_bytes} bytes."
                    )
                for part in parser.parse(chunk):
                    if isinstance(part, MultipartSegment):
                        segment = part
                        if part.filename is not None:
                            if len(received.files) >= max_files:
                                raise PayloadTooLarge(
                                    "too_many_files", f"One upload may carry at most {max_files} files."
                                )
                            current = await store.new_incoming()
                            received.files.append(ReceivedFile(sanitize_filename(part.filename), current))
                        else:
                            buffer = bytearray()
                    elif part:
                        if current is not None:
                            if current.size + len(part) > max_file_bytes:
                                raise PayloadTooLarge(
                                    "file_too_large",
                                    f"{received.files[-1].filename} is larger than the {max_file_bytes}-byte "
                                    "limit per file. Use the chunked upload for larger files.",
                                )
                            await current.write(part)
                        else:
                            buffer.extend(part)
                            if len(buffer) > MAX_FIELD_BYTES:
                                raise BadRequest("field_too_large", "A form field is larger than 64 KiB.")
                    else:  # end of a part
                        if current is not None:
                            await current.close()
                            current = None
                        elif segment is not None:
                            received.fields[segment.name] = buffer.decode(segment.charset or "utf-8", "replace")
                        segment = None
            if not parser.closed:
                raise BadRequest("bad_multipart", "The multipart body ended before its closing boundary.")
    except (ParserError, ParserLimitReached) as exc:
        await received.discard()
        raise BadRequest("bad_multipart", f"Invalid multipart/form-data: {exc}") from None
    except BaseException:
        await received.discard()
        raise
    return received
