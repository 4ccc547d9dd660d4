"""Moved to :mod:`tests.support.pdfs`; this name stays so tests written before the move keep importing."""

from __future__ import annotations

from tests.support.pdfs import bomb_pdf, make_pdf, slow_pdf, text_page, text_pdf

__all__ = ["bomb_pdf", "make_pdf", "slow_pdf", "text_page", "text_pdf"]
