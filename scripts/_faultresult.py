"""One fault case's verdict and figures (shared by scripts/faults.py and scripts/faults_hostile.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from scripts._faultkit import Server, Tally, server_5xx


@dataclass
class Result:
    fault: str
    events_lost: int = 0
    docs_stuck: int = 0
    errors_5xx: int = 0
    peak_rss_mb: float = 0.0
    ok: bool = True
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, condition: bool, failure: str) -> None:
        if not condition:
            self.ok = False
            self.notes.append("FAIL: " + failure)


def finish(result: Result, servers: list[Server], tally: Tally) -> None:
    """Fill in 5xx and peak RSS from the servers, and fail the case on unexpected 5xx or stuck documents."""
    for s in servers:
        s.sample_rss()
    result.errors_5xx = max(tally.unexpected_5xx, sum(server_5xx(s) for s in servers if s.proc and
                                                        s.proc.poll() is None) - sum(tally.expected.values()))
    result.peak_rss_mb = round(max(s.peak_rss_kb for s in servers) / 1024, 1)
    result.check(result.errors_5xx == 0, f"{result.errors_5xx} unexpected 5xx")
    result.check(result.docs_stuck == 0, f"{result.docs_stuck} documents stuck")
