"""Email (.eml, RFC 5322): the headers people read and the body as the document's text; attachments as files.

Recognised by a header block at the start of the file: every line up to the first blank one is a header field
(or the folded continuation of one), with ``From`` among them and at least one more of the fields mail always
carries (``Date``, ``Subject``, ``To``, ``Message-ID``, ``Received``, ``MIME-Version``). Listed before plain
text, which would otherwise take it.

Read with the standard library's ``email`` package (``policy.default``: headers decoded, RFC 2047 words and
charsets handled). The text is From, To, Cc, Date, Subject and the attachment names, then the body: the
plain-text part, else the HTML part as a browser would show it (:mod:`lexintel.formats.html`).

Attachments: each part sent as an attachment (``Content-Disposition: attachment``, a forwarded message, or a
named part outside the HTML body's own images) is written to ``ExtractOptions.attachments_dir`` under a
generated name (nothing from the email reaches the path) and listed in the step's ``attachments`` as
(filename as sent, path), so the pipeline can make each its own document. More than
``ExtractOptions.max_attachments`` fails the email with a reason: every one would become a document.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.html import html_blocks
from lexintel.formats.normalize import searchable
from lexintel.formats.paginate import Block, paginate

if TYPE_CHECKING:  # the email package costs a fifth of a worker's start-up: imported when an email is read
    from email.message import Message

__all__ = ["EMAIL", "extract_email"]

_FIELD = re.compile(rb"^[!-9;-~]{1,76}:")
_MAIL_FIELDS = {b"date", b"subject", b"to", b"message-id", b"received", b"mime-version"}
_SHOWN = ("From", "To", "Cc", "Date", "Subject")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


class TooManyAttachments(ValueError):
    """More attachments than the limit: the sentence says how many."""


def _matches(probe: Probe) -> bool:
    lines = probe.head.split(b"\n")
    if lines and lines[0].startswith(b"From "):  # an mbox "From " line before the first message
        lines = lines[1:]
    fields: set[bytes] = set()
    ended = False
    for line in lines[:-1]:  # the last may be cut by the head's end
        line = line.rstrip(b"\r")
        if not line:
            ended = True
            break
        if line[:1] in (b" ", b"\t") and fields:
            continue
        if not _FIELD.match(line):
            return False
        fields.add(line.split(b":", 1)[0].lower())
    return (ended or len(fields) >= 4) and b"from" in fields and bool(fields & _MAIL_FIELDS)


def _message_class() -> type[Message]:
    from email.message import Message

    return Message


def _attachments(message: Message, body: Message | None) -> list[Message]:
    """Parts that are attachments, in order; the body and the pictures of an HTML body (``multipart/related``)
    are not."""
    found: list[Message] = []

    def walk(part: Message, in_related: bool) -> None:
        if part.get_content_type() == "message/rfc822":
            found.append(part)
            return
        if part.is_multipart():
            related = in_related or part.get_content_type() == "multipart/related"
            for sub in part.get_payload():
                if isinstance(sub, _message_class()):
                    walk(sub, related)
            return
        disposition = part.get_content_disposition()
        if part is body:
            return
        if disposition == "attachment" or (part.get_filename() and not in_related and part is not message):
            found.append(part)

    walk(message, False)
    return found


def _display_name(part: Message, index: int) -> str:
    name = part.get_filename() or ""
    name = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")[:200]
    if name:
        return name
    if part.get_content_type() == "message/rfc822":
        return f"attachment-{index}.eml"
    import mimetypes

    return f"attachment-{index}{mimetypes.guess_extension(part.get_content_type()) or '.bin'}"


def _payload(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        first = inner[0] if isinstance(inner, list) and inner else inner
        return first.as_bytes() if isinstance(first, _message_class()) else b""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _body_blocks(body: Message | None) -> list[Block]:
    from email.message import EmailMessage

    if not isinstance(body, EmailMessage):
        return []
    try:
        content = body.get_content()
    except (LookupError, UnicodeError):  # an unknown or lying charset
        raw = body.get_payload(decode=True)
        content = raw.decode("latin-1") if isinstance(raw, bytes) else ""
    if not isinstance(content, str):
        return []
    if body.get_content_type() == "text/html":
        return html_blocks(content)[0]
    paragraphs = re.split(r"\n\s*\n", content.replace("\r\n", "\n"))
    return [Block(p.strip()) for p in paragraphs if p.strip()]


def extract_email(path: str, start: int, budget_s: float, options: ExtractOptions) -> StepResult:
    """The whole email in one step; attachments written to ``options.attachments_dir`` when it is given."""
    import email
    import email.policy
    from email.message import EmailMessage

    with open(path, "rb") as fp:
        message = email.message_from_binary_file(fp, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # the default policy's class
    body = message.get_body(preferencelist=("plain", "html"))
    parts = _attachments(message, body)
    if len(parts) > options.max_attachments:
        raise TooManyAttachments(f"The email has {len(parts):,} attachments; LexIntel reads at most "
                                 f"{options.max_attachments:,} per email (each becomes a document of its own).")
    names = [_display_name(part, i) for i, part in enumerate(parts, start=1)]
    header = [f"{field}: {message[field]}" for field in _SHOWN if message[field] is not None]
    if names:
        header.append("Attachments: " + ", ".join(names))
    cut = paginate(_body_blocks(body), head="\n".join(header))
    pages = [(number, searchable(text)) for number, text in cut.pages]
    result: StepResult = {"pages": pages, "total": len(pages), "next": None, "error": None}
    if len(pages) > 1:
        result["labels"] = cut.labels
    if options.attachments_dir is not None and parts:
        target = Path(options.attachments_dir)
        target.mkdir(parents=True, exist_ok=True)
        written: list[tuple[str, str]] = []
        for index, (part, name) in enumerate(zip(parts, names, strict=True), start=1):
            file = target / f"attachment-{index:04d}"
            with open(file, "wb") as out:
                out.write(_payload(part))
                os.fsync(out.fileno())
            written.append((name, str(file)))
        result["attachments"] = written
    return result


def _classify(exc: BaseException) -> Failure | None:
    if isinstance(exc, TooManyAttachments):
        return Failure("too_many_attachments", str(exc))
    return None


EMAIL = Format(kind="eml", title="an email", noun="email", matches=_matches, extract=extract_email,
               classify=_classify)
