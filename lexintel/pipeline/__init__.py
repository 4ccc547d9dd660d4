"""The in-process pipeline: extract (process pool) -> chunk -> index, with progress events at each step."""
