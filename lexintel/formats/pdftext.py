"""pdfminer's text converter, set up the way issue 15's real legal PDFs need, one page at a time.

Imported only inside worker processes (it imports pdfminer at the top; :mod:`lexintel.formats.pdf` does not).

- ``LAParams(all_texts=True)``: text inside form XObjects (stamps, templates, many court and bankruptcy forms)
  goes through layout analysis like the rest, so its words keep their spaces and lines ("the Territory", not
  "theTerritory"); 13 of 15 glued files in the issue were fixed by it, at the same cost.
- ``detect_vertical=True`` only on pages whose effective ``/Rotate`` is 90 or 270: pdfminer turns such pages
  upright, so text the writer set horizontally runs top to bottom and came out one character per line. On
  upright pages vertical detection regroups ordinary text, so they keep the plain settings.
- ``PDFResourceManager(caching=False)``: with caching pdfminer keeps every font it ever built for the life of
  the document; an Acrobat ClearScan scan builds new fonts on every page and grew the worker ~70 MB per page.
  Fonts are built again per page instead (measured in docs/benchmarks.md). pdfminer's parsers refer to
  themselves (a bound method kept on the instance), so a page's CMap parser, and the font map it fills, is
  freed only by the cyclic garbage collector; collecting after every page costs ~30 % of extraction time, so
  it runs when the worker's resident memory has grown by ``COLLECT_EVERY_MB`` since the last collection.
- The device also notes whether a page draws anything (images, paths) and how much of it images cover, which
  tells a scanned page from a blank one when the text layer is empty or thin.
"""

from __future__ import annotations

import gc
import io
import os
from typing import Any

from pdfminer.converter import TextConverter
from pdfminer.layout import LAParams
from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager

__all__ = ["COLLECT_EVERY_MB", "PageReader", "resident_mb"]

COLLECT_EVERY_MB = 64
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def resident_mb() -> float:
    """This process's resident memory now (``/proc/self/statm``; 0 where there is no /proc)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE_MB
    except (OSError, IndexError, ValueError):
        return 0.0


class _Device(TextConverter):
    """A text converter that also records what else the page draws (nothing of it is kept)."""

    def __init__(self, manager: PDFResourceManager, out: io.StringIO, laparams: LAParams) -> None:
        super().__init__(manager, out, laparams=laparams)
        self.drawn = False
        self.image_area = 0.0
        self.page_area = 1.0

    def begin_page(self, page: Any, ctm: Any) -> None:
        super().begin_page(page, ctm)
        x0, y0, x1, y1 = page.cropbox
        self.page_area = max(abs((x1 - x0) * (y1 - y0)), 1.0)
        self.drawn = False
        self.image_area = 0.0

    def render_image(self, name: str, stream: Any) -> None:
        a, b, c, d, _, _ = self.ctm  # an image fills the unit square mapped by the current matrix
        self.image_area += abs(a * d - b * c)
        self.drawn = True

    def paint_path(self, gstate: Any, stroke: bool, fill: bool, evenodd: bool, path: Any) -> None:
        self.drawn = True


class PageReader:
    """Reads pages of one document: the right layout settings per page, text plus what the page draws."""

    def __init__(self, boxes_flow: float | None) -> None:
        self._out = io.StringIO()
        manager = PDFResourceManager(caching=False)
        upright = LAParams(boxes_flow=boxes_flow, all_texts=True)
        turned = LAParams(boxes_flow=boxes_flow, all_texts=True, detect_vertical=True)
        self._devices = (_Device(manager, self._out, upright), _Device(manager, self._out, turned))
        self._interpreters = tuple(PDFPageInterpreter(manager, device) for device in self._devices)
        self._collected_at = resident_mb()

    def read(self, page: Any) -> tuple[str, bool, float]:
        """(text, draws anything, share of the page covered by images) for one ``PDFPage``."""
        which = 1 if page.rotate in (90, 270) else 0
        self._out.seek(0)
        self._out.truncate()
        self._interpreters[which].process_page(page)
        device = self._devices[which]
        if resident_mb() - self._collected_at > COLLECT_EVERY_MB:
            gc.collect()
            self._collected_at = resident_mb()
        text = self._out.getvalue().rstrip("\f")  # TextConverter ends pages with a form feed
        return text, device.drawn, min(device.image_area / device.page_area, 1.0)
