"""Durable state: the SQLite database (cases, documents, batches, pages, chunks, event log) and files on disk."""
