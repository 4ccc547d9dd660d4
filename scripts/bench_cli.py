"""Benchmark: what the terminal client's live view costs as the number of files grows (issue 16 item 3).

Two measurements per N (default 100, 300, 1000 files):

1. **Redraw cost**, in process: the real :class:`lexintel.cli.display.Board` in a real ``rich.live.Live`` on a
   terminal console (output to memory), fed the events of an N-document batch (2 documents active at a time,
   each through extracting/chunking/indexing to indexed). A frame is redrawn every 10 events; the time of each
   redraw is recorded (median, p95, and the rows of the largest frame). For comparison, the same for the old
   view (one ``rich.progress`` bar per document): one frame with N bars, and adding N bars with a frame each.
2. **End to end**: ``lexintel upload`` of N tiny text files in a pseudo-terminal against a real
   ``lexintel serve`` (2 workers): wall time, the CLI's own CPU time, frames drawn and the tallest frame.

    python -m scripts.bench_cli              # 100, 300, 1000
    python -m scripts.bench_cli --sizes 100 1000 --no-e2e
"""

from __future__ import annotations

import argparse
import io
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from lexintel.cli.board import DocState
from lexintel.cli.display import Board
from scripts._benchlib import Server, load_line, percentile

FRAME_EVERY = 10  # events between redraws in the in-process run (the CLI redraws at most 10 times a second)
CURSOR_UP_ERASE = "\x1b[1A\x1b[2K"


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, width=160, color_system="truecolor")


def batch_events(n: int, batch_id: str = "b") -> list[dict[str, Any]]:
    """The events of an n-document batch, two documents in flight at a time (like 2 workers)."""
    events: list[dict[str, Any]] = []

    def doc(i: int, stage: str, progress: float, status: str = "processing", **extra: Any) -> dict[str, Any]:
        return {"document_id": f"d{i}", "batch_id": batch_id, "filename": f"note-{i:04d}.txt", "status": status,
                "stage": stage, "progress": progress, "run": 1, "eta_seconds": 2.0, "message": stage, **extra}

    for first in range(0, n, 2):
        pair = [i for i in (first, first + 1) if i < n]
        for stage, progress in (("extracting", 5.0), ("extracting", 40.0), ("chunking", 80.0), ("indexing", 85.0)):
            events.extend(doc(i, stage, progress, items_total=3, items_done=1) for i in pair)
        events.extend(doc(i, "completed", 100.0, status="completed") for i in pair)
        done = first + len(pair)
        events.append({"document_id": None, "batch_id": batch_id, "status": "processing", "stage": "extracting",
                       "progress": 100.0 * done / n, "eta_seconds": 0.01 * (n - done), "items_total": n,
                       "items_done": done})
    return events


def redraw_new(n: int) -> dict[str, float]:
    """Feed the real Board an n-document batch; time every redraw of its Live view."""
    board = Board(terminal(), title="bench")
    board.add_batch("b", f"{n} files")
    for i in range(n):
        board.add_document(DocState(f"d{i}", f"note-{i:04d}.txt", batch_id="b"))
    times: list[float] = []
    rows = 0
    apply = 0.0
    with Live(board, console=board.err, auto_refresh=False, transient=True) as live:
        for k, event in enumerate(batch_events(n)):
            t0 = time.perf_counter()
            board.on_event(event)
            apply += time.perf_counter() - t0
            if k % FRAME_EVERY == 0:
                t0 = time.perf_counter()
                live.refresh()
                times.append(time.perf_counter() - t0)
                rows = max(rows, live._live_render.last_render_height)
    return {"median_ms": 1000 * statistics.median(times), "p95_ms": 1000 * percentile(times, 95), "rows": rows,
            "apply_us": 1e6 * apply / len(batch_events(n))}


def redraw_worst(n: int) -> dict[str, float]:
    """The largest frame the view draws: n documents with 20 active and a tenth failed (rows are capped)."""
    board = Board(terminal(), title="bench")
    board.add_batch("b", f"{n} files")
    for i in range(n):
        board.add_document(DocState(f"d{i}", f"note-{i:04d}.txt", batch_id="b"))
    for i in range(n):
        status, stage = ("failed", "failed") if i % 10 == 0 else ("processing", "extracting") if i < 30 else \
            ("completed", "completed")
        error = {"code": "corrupt_pdf", "detail": "damaged"} if status == "failed" else None
        board.on_event({"document_id": f"d{i}", "batch_id": "b", "status": status, "stage": stage, "progress": 50.0,
                        "run": 1, "error": error})
    times = []
    with Live(board, console=board.err, auto_refresh=False, transient=True) as live:
        for _ in range(50):
            t0 = time.perf_counter()
            live.refresh()
            times.append(time.perf_counter() - t0)
        rows = live._live_render.last_render_height
    return {"median_ms": 1000 * statistics.median(times), "rows": rows}


def redraw_old(n: int, add_limit: int) -> dict[str, float]:
    """The previous view: one rich progress bar per document. One frame with n bars, and n bars added with a
    frame after each (what a 202 answer for n files cost it; quadratic, so only measured up to ``add_limit``)."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30), TaskProgressColumn(),
                        TextColumn("{task.fields[stage]}"), console=terminal(), auto_refresh=False)
    progress.start()
    t_add = time.perf_counter()
    for i in range(n):
        progress.add_task(f"note-{i:04d}.txt", total=100, stage="queued")
        if n <= add_limit:
            progress.refresh()
    t_add = time.perf_counter() - t_add if n <= add_limit else float("nan")
    frames = []
    for _ in range(5):
        t0 = time.perf_counter()
        progress.refresh()
        frames.append(time.perf_counter() - t0)
    progress.stop()
    return {"frame_ms": 1000 * statistics.median(frames), "add_all_s": t_add}


def end_to_end(n: int, server: Server, workdir: Path) -> dict[str, float]:
    """``lexintel upload`` of n tiny text files in a pseudo-terminal; wall and CPU time of the CLI."""
    import pexpect

    folder = workdir / f"files-{n}"
    folder.mkdir()
    for i in range(n):
        (folder / f"note-{i:04d}.txt").write_text(f"Note {i} on the limitation period.\n" * 3)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    child = pexpect.spawn(sys.executable, ["-m", "lexintel", "upload", str(folder), "--case", f"bench-{n}",
                                           "--server", server.url], dimensions=(40, 160), encoding="utf-8",
                          codec_errors="replace", timeout=None, cwd=str(Path(__file__).resolve().parents[1]))
    out: list[str] = []
    first_line = None
    while True:
        try:
            out.append(child.read_nonblocking(65536, timeout=None))
        except pexpect.EOF:
            break
        if first_line is None and "done" in out[-1]:
            first_line = time.perf_counter() - t0
    child.close()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    raw = "".join(out)
    heights = [len(m.group(0)) // len(CURSOR_UP_ERASE) + 1
               for m in re.finditer(f"(?:{re.escape(CURSOR_UP_ERASE)})+", raw)]
    if child.exitstatus != 0:
        raise RuntimeError(f"upload of {n} files exited {child.exitstatus}:\n{raw[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"first_line_s": first_line or float("nan"), "wall_s": wall, "cpu_s": cpu, "frames": len(heights),
            "rows": max(heights, default=1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--no-e2e", action="store_true", help="only the in-process redraw measurement")
    parser.add_argument("--old-add-limit", type=int, default=300,
                        help="measure adding N bars to the old view only up to this N (1000 takes minutes)")
    args = parser.parse_args()
    print(load_line())
    print("\nredraw cost, in process (a frame every 10 events)")
    print(f"{'files':>6} | {'new: median ms/frame':>20} | {'p95':>6} | {'rows':>4} | {'µs/event':>8} | "
          f"{'largest frame':>18} | {'old: ms/frame':>13} | {'old: add N bars':>15}")
    for n in args.sizes:
        new, worst, old = redraw_new(n), redraw_worst(n), redraw_old(n, args.old_add_limit)
        print(f"{n:>6} | {new['median_ms']:>20.2f} | {new['p95_ms']:>6.2f} | {new['rows']:>4.0f} | "
              f"{new['apply_us']:>8.1f} | {worst['median_ms']:>6.2f} ms, {worst['rows']:>2.0f} rows | "
              f"{old['frame_ms']:>13.1f} | {old['add_all_s']:>13.1f} s")
    print(f"(old: add N bars is measured up to N = {args.old_add_limit} only: quadratic)")
    if args.no_e2e:
        return 0
    print("\nend to end: lexintel upload of N tiny text files in a pseudo-terminal (2 extraction workers)")
    print(f"{'files':>6} | {'batch line after':>16} | {'wall':>7} | {'CLI CPU':>8} | {'CPU/file':>8} | "
          f"{'frames':>6} | {'rows':>4}")
    with tempfile.TemporaryDirectory(prefix="lexintel-bench-cli-") as tmp, \
            Server(env={"LEXINTEL_EXTRACTION_WORKERS": "2"}) as server:
        for n in args.sizes:
            r = end_to_end(n, server, Path(tmp))
            print(f"{n:>6} | {r['first_line_s']:>14.2f} s | {r['wall_s']:>5.1f} s | {r['cpu_s']:>6.2f} s | "
                  f"{1000 * r['cpu_s'] / n:>5.2f} ms | {r['frames']:>6.0f} | {r['rows']:>4.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
