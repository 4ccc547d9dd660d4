"""Migration 5 (issue 15): what OCR says about a page, and the email a document came out of.

``pages.needs_ocr`` marks a page extraction found without a usable text layer and OCR has not read yet (so a
run interrupted between extraction and OCR knows which pages are left, and a document that could not be
OCR'd says which pages have no text); ``pages.ocr_confidence`` is Tesseract's mean word confidence (0-100) for
a page read from its picture, NULL for a page read from its text layer. ``documents.parent_id`` links an email's
attachment to the email (it stays when the email is deleted: the attachment is a document of its own).
"""

from __future__ import annotations

SQL = """
ALTER TABLE pages ADD COLUMN needs_ocr INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pages ADD COLUMN ocr_confidence REAL;
ALTER TABLE documents ADD COLUMN parent_id TEXT REFERENCES documents(id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS documents_parent ON documents(parent_id) WHERE parent_id IS NOT NULL;
"""
