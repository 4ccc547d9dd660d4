"""Images (PNG, JPEG, TIFF): scans and photos of paper, read by OCR, one page per frame.

Recognised by their signatures, PNG only with its ``IHDR`` chunk where the standard puts it (eight signature
bytes followed by garbage is not a PNG anyone can open). Extraction has no text to read: it checks every
frame against the pixel budget before anything is decoded (a frame that declares 100,000 x 100,000 pixels
fails, the others go on; a file whose every frame fails, fails) and lists every frame in ``needs_ocr``. The
OCR step (:mod:`lexintel.formats.ocrstep`) then reads them.
"""

from __future__ import annotations

from lexintel.formats.base import ExtractOptions, Failure, Format, Probe, StepResult
from lexintel.formats.render import ImageFrames, PageFailed, classify

__all__ = ["JPEG", "PNG", "TIFF", "extract_image"]


def extract_image(path: str, start: int, budget_s: float, options: ExtractOptions) -> StepResult:
    """Every frame as a page with no text yet, all of them needing OCR; frames too large listed as errors."""
    try:
        frames = ImageFrames(path, options.max_pixels)
    except PageFailed as failed:
        return {"pages": [], "total": 0, "next": None, "error": (failed.code, failed.detail)}
    try:
        count = len(frames)
        pages: list[tuple[int, str]] = []
        needs_ocr: list[int] = []
        errors: list[tuple[int, str, str]] = []
        for number in range(1, count + 1):
            try:
                frames.check(number)
                needs_ocr.append(number)
            except PageFailed as failed:
                errors.append((number, failed.code, failed.detail))
            pages.append((number, ""))
    finally:
        frames.close()
    if not needs_ocr:
        code, detail = errors[0][1:] if errors else ("corrupt_image", "The image has no frames to read.")
        if count > 1:
            detail = f"None of the {count} pages of the image can be read: {detail}"
        return {"pages": [], "total": count, "next": None, "error": (code, detail)}
    result: StepResult = {"pages": pages, "total": count, "next": None, "error": None, "needs_ocr": needs_ocr}
    if errors:
        result["page_errors"] = errors
    return result


def _classify(exc: BaseException) -> Failure | None:
    known = classify(exc)
    return Failure(*known) if known else None


def _png(probe: Probe) -> bool:
    return probe.head.startswith(b"\x89PNG\r\n\x1a\n") and probe.head[8:16] == b"\x00\x00\x00\x0dIHDR"


def _jpeg(probe: Probe) -> bool:
    return probe.head.startswith(b"\xff\xd8\xff")


def _tiff(probe: Probe) -> bool:
    return probe.head.startswith((b"II*\x00", b"MM\x00*"))


PNG = Format(kind="png", title="a PNG image", noun="image", matches=_png, extract=extract_image,
             classify=_classify)
JPEG = Format(kind="jpeg", title="a JPEG image", noun="image", matches=_jpeg, extract=extract_image,
              classify=_classify)
TIFF = Format(kind="tiff", title="a TIFF image", noun="image", matches=_tiff, extract=extract_image,
              classify=_classify)
