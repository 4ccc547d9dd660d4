"""Migration 2, accounts and access (issue 13 items 7, 14, 15): disabled users and read-only shares.

``users.disabled``: a disabled user cannot log in and their sessions, API tokens and stream tokens stop
working (the rows stay, so enabling the user again restores their tokens; sessions are deleted on disable).
``case_shares.access``: ``read`` (see the case, its documents, text, search and streams) or ``write`` (also
upload, retry, delete documents). Shares made before this migration let the sharee "read and work in" the
case, so existing rows become ``write``: nobody loses what they had. New shares always name their access
(the API's default is ``read``), so the column default only ever applies to those old rows.
"""

from __future__ import annotations

SQL = """
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE case_shares ADD COLUMN access TEXT NOT NULL DEFAULT 'write' CHECK (access IN ('read', 'write'));
"""
