"""Benchmarks and the fault suite. A package so they run as modules from the repository root
(``python -m scripts.bench_sse``) and import ``scripts._benchlib`` and ``tests.support`` without path edits."""
