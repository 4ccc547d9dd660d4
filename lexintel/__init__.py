"""LexIntel: self-hosted document ingestion with live progress."""

__version__ = "0.1.0"

__all__ = ["__version__"]
