"""Process readings from /proc (Linux): children, memory, CPU time. Used to find a server's extraction workers
and to measure what a server costs; a process that is gone reads as empty/zero rather than raising, because
the processes measured here are killed on purpose."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["child_pids", "cpu_seconds", "descendants", "rss_kb", "status_kb"]


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (e.g. a server's extraction workers), from every thread's ``children`` list:
    a child belongs to the thread that forked it."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            kids.extend(int(x) for x in Path(f"/proc/{pid}/task/{tid}/children").read_text().split())
        except OSError:
            continue
    return kids


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, … of ``pid`` that are alive now."""
    found: list[int] = []
    stack = child_pids(pid)
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(child_pids(child))
    return found


def status_kb(pid: int, key: str) -> int:
    """A KiB figure from ``/proc/<pid>/status``: ``VmRSS`` (now) or ``VmHWM`` (peak); 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid: int, include_children: bool = False) -> int:
    """Resident memory of ``pid`` in KiB, plus all its descendants' when asked (e.g. extraction workers)."""
    pids = [pid, *descendants(pid)] if include_children else [pid]
    return sum(status_kb(p, "VmRSS") for p in pids)


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(CPU seconds of ``pid`` itself, CPU seconds of its live descendants), user + system."""
    return _cpu_s(pid), sum(_cpu_s(child) for child in descendants(pid))
