"""Pages as grayscale pictures for OCR: PDF pages rendered with PDFium, image files (and TIFF frames) with Pillow.

Both are bounded before any pixel is decoded, so a file that *declares* an enormous page or image fails that
page with a reason instead of taking the worker's memory:

- a PDF page is rendered at the configured dpi; a page too large for the pixel budget at that dpi is rendered
  at the dpi that fits, down to ``min_dpi`` (below it text is too small to read), else refused. Images drawn
  on the page are checked too (PDFium decodes each at its own size, whatever the page size);
- an image or frame larger than the pixel budget is refused, and Pillow's own decompression-bomb check runs
  with the same limit (its warning is an error here).

The result is a PGM (8-bit gray, the cheapest format Tesseract reads: no compression to undo) and the dpi to
tell Tesseract, or None when an image does not say (Tesseract then estimates from the text height).
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Any

__all__ = ["ImageFrames", "PageFailed", "PdfPages", "classify", "to_pgm"]

_SANE_DPI = range(50, 2401)


class PageFailed(Exception):
    """One page cannot be read as a picture; the others can. ``detail`` is a sentence for people."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _millions(pixels: float) -> str:
    return f"{pixels / 1e6:,.0f} million" if pixels >= 1e6 else f"{pixels:,.0f}"


def to_pgm(image: Any) -> bytes:
    """A Pillow image as PGM bytes (converted to 8-bit gray first)."""
    if image.mode != "L":
        image = image.convert("L")
    out = io.BytesIO()
    image.save(out, "PPM")  # mode L is written as P5, a PGM
    return out.getvalue()


class PdfPages:
    """One PDF open in PDFium, rendering pages (1-based) within a pixel budget."""

    def __init__(self, path: str) -> None:
        import pypdfium2 as pdfium

        self._pdf = pdfium.PdfDocument(path)  # reads from the file as needed, not into memory

    def __len__(self) -> int:
        return len(self._pdf)

    def close(self) -> None:
        self._pdf.close()

    def picture(self, number: int, dpi: int, min_dpi: int, max_pixels: int) -> tuple[bytes, int]:
        """Page ``number`` as a PGM, and the dpi it was rendered at."""
        from pypdfium2 import PdfiumError

        if not 1 <= number <= len(self._pdf):
            raise PageFailed("ocr_failed", f"Page {number} could not be rendered: the PDF renderer finds only "
                                           f"{len(self._pdf)} pages in this file.")
        try:
            return self._render(number, dpi, min_dpi, max_pixels)
        except PdfiumError as exc:  # one page PDFium cannot load or draw: that page only
            if "bitmap" in str(exc).lower():
                raise PageFailed("too_large", f"Rendering page {number} needed more memory than the worker limit "
                                              "allows; the page was skipped.") from None
            raise PageFailed("ocr_failed", f"Page {number} could not be rendered (it is damaged); "
                                           "the page was skipped.") from None

    def _render(self, number: int, dpi: int, min_dpi: int, max_pixels: int) -> tuple[bytes, int]:
        import pypdfium2.raw as pdfium_c

        page = self._pdf[number - 1]
        try:
            width, height = page.get_size()  # points (1/72 inch), as displayed (after /Rotate)
            dpi = _fitting_dpi(number, width, height, dpi, min_dpi, max_pixels)
            for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
                w, h = image.get_px_size()
                if w * h > 4 * max_pixels:
                    raise PageFailed("too_large", f"Page {number} holds an image of {w:,} x {h:,} pixels; LexIntel "
                                                  f"reads images up to {_millions(4 * max_pixels)} pixels.")
            bitmap = page.render(scale=dpi / 72, grayscale=True)
            return to_pgm(bitmap.to_pil()), dpi
        finally:
            page.close()


def _fitting_dpi(number: int, width: float, height: float, dpi: int, min_dpi: int, max_pixels: int) -> int:
    area_in = max(width, 1.0) * max(height, 1.0) / (72 * 72)  # square inches
    if area_in * dpi * dpi <= max_pixels:
        return dpi
    fits = int(math.sqrt(max_pixels / area_in))
    if fits >= min_dpi:
        return fits
    raise PageFailed(
        "too_large",
        f"Page {number} is too large to read as a scan: it measures {width / 72:,.0f} x {height / 72:,.0f} inches, "
        f"{_millions(area_in * min_dpi * min_dpi)} pixels even at {min_dpi} dpi; the limit is "
        f"{_millions(max_pixels)}.",
    )


class ImageFrames:
    """An image file open in Pillow: one frame per page (a multi-page TIFF has several)."""

    def __init__(self, path: str, max_pixels: int) -> None:
        from PIL import Image

        self._max_pixels = max_pixels
        Image.MAX_IMAGE_PIXELS = max_pixels
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                self._image = Image.open(path)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise PageFailed("too_large", self._too_large(*_declared_size(path))) from None

    def __len__(self) -> int:
        return int(getattr(self._image, "n_frames", 1))

    def close(self) -> None:
        self._image.close()

    def _too_large(self, width: int, height: int) -> str:
        size = f"{width:,} x {height:,} pixels" if width and height else "larger than the limit"
        return f"The image is {size}; LexIntel reads images up to {_millions(self._max_pixels)} pixels."

    def check(self, number: int) -> None:
        """Raise :class:`PageFailed` when frame ``number`` (1-based) is larger than the pixel budget."""
        self._image.seek(number - 1)
        width, height = self._image.size
        if width * height > self._max_pixels:
            prefix = f"Page {number}: " if len(self) > 1 else ""
            raise PageFailed("too_large", prefix + self._too_large(width, height))

    def picture(self, number: int) -> tuple[bytes, int | None]:
        """Frame ``number`` upright (EXIF orientation applied) as a PGM, and the dpi the file states."""
        from PIL import ImageOps

        self.check(number)
        frame = self._image
        dpi = frame.info.get("dpi")
        upright = ImageOps.exif_transpose(frame) if frame.format == "JPEG" else frame
        stated = round(float(dpi[0])) if isinstance(dpi, tuple) and dpi and dpi[0] else None
        return to_pgm(upright), stated if stated in _SANE_DPI else None


def _declared_size(path: str) -> tuple[int, int]:
    """Width and height from an image header without Pillow's limit (only to say them in the reason)."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:
        return 0, 0
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def classify(exc: BaseException) -> tuple[str, str] | None:
    """The renderers' own errors as (code, sentence); None for anything else."""
    from PIL import UnidentifiedImageError
    from pypdfium2 import PdfiumError

    if isinstance(exc, PdfiumError):
        if "password" in str(exc).lower():
            return "encrypted_pdf", "The PDF is password-protected; upload a copy without a password."
        return "corrupt_pdf", "The PDF is damaged: its pages cannot be rendered for OCR."
    if isinstance(exc, UnidentifiedImageError):
        return "corrupt_image", "The image is damaged or in a variant LexIntel cannot decode."
    if isinstance(exc, (OSError, SyntaxError, ValueError)) and "image" in str(exc).lower():
        return "corrupt_image", "The image is damaged (it may be cut off); upload it again."
    return None
