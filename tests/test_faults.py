"""The fault suite's quick cases, run the way a user runs them: ``python -m scripts.faults --fast``.

Each case starts its own real servers (and kills them: -9, full disk, hanging PDF, 1,000 idle clients, a
flapping client); this test only checks the verdicts and figures the script reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_fast_fault_suite_loses_nothing_and_leaves_nothing_stuck(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    proc = subprocess.run([sys.executable, "-m", "scripts.faults", "--fast", "--json", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.exists(), proc.stderr[-3000:]
    results = json.loads(out.read_text())
    names = [r["fault"] for r in results]
    assert len(results) == 5, names
    for r in results:
        assert r["ok"], (r["fault"], r["notes"])
        assert (r["events_lost"], r["docs_stuck"], r["errors_5xx"]) == (0, 0, 0), r
        assert r["peak_rss_mb"] > 0, r
    assert proc.returncode == 0
    table = proc.stdout
    assert "fault" in table.splitlines()[0] and "peak RSS MB" in table.splitlines()[0]
    assert "FAIL" not in table
    notes = {r["fault"]: " ".join(r["notes"]) for r in results}
    assert "killed with" in notes["kill -9 mid-batch + restart"]
    assert "507 disk_full" in notes["disk full (size-limited data dir)"]
    assert "did not finish within" in notes["hanging PDF"]
