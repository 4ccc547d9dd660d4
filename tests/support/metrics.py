"""Reading a server's Prometheus ``/metrics`` as plain numbers, for waiting on a gauge or checking a counter."""

from __future__ import annotations

import httpx

__all__ = ["parse_metrics", "scrape_metrics"]


def parse_metrics(text: str) -> dict[str, float]:
    """``name{labels}`` (exactly as exposed) -> value, for every sample line of the text format."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                continue
    return out


def scrape_metrics(base_url: str, timeout: float = 10.0) -> dict[str, float]:
    """The samples of ``{base_url}/metrics``; empty while the server is unreachable (it may be restarting)."""
    try:
        return parse_metrics(httpx.get(f"{base_url}/metrics", timeout=timeout).text)
    except httpx.HTTPError:
        return {}
