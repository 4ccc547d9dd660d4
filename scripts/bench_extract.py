"""Extraction throughput: raw pdfminer.six in a bare process pool vs LexIntel's upload -> indexed path.

Raw pdfminer is the physical limit of the design (DESIGN.md); the pipeline should reach >= 90% of it.
Both sides run the same files (the corpus, repeated ``--repeat`` times) with the same number of worker
processes and the same LAParams (``Settings.pdf_boxes_flow``), and both clocks include starting the workers.

    python -m scripts.bench_extract --repeat 10 --workers 2 --rounds 3
    python -m scripts.bench_extract --repeat 4 --compare-boxes-flow     # also LAParams quality/speed

The pipeline side starts a real ``lexintel serve`` subprocess, uploads each repetition of the corpus as one
multipart request, and polls ``GET /cases/{id}`` until every document is indexed or failed; the clock runs
from the first upload byte to the last terminal status. Pages are the pages the pipeline reports
(``pages_total``), checked against the raw run's count.
"""

from __future__ import annotations

import argparse
import io
import itertools
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from scripts._benchlib import Server, http_json, load_line
from tests.support import corpus_pdfs, cpu_seconds, wait_for

MULTICOLUMN = "026-latex-multicolumn"


def _raw_one(path: str, boxes_flow: float | None) -> int:
    """Pages of one file through pdfminer's own ``extract_text`` (what LexIntel would be without LexIntel)."""
    import logging

    logging.disable(logging.WARNING)  # pdfminer's font warnings would dominate the output
    from lexintel.formats.pdf import pdf_text_whole

    try:
        return pdf_text_whole(path, boxes_flow)
    except Exception:
        return 0


def raw_pool(files: list[Path], workers: int, boxes_flow: float | None) -> tuple[int, float, float]:
    """(pages, seconds, worker CPU seconds) for ``files`` through a bare ProcessPoolExecutor, pool start-up included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pages = sum(pool.map(_raw_one, [str(f) for f in files], [boxes_flow] * len(files)))
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return pages, seconds, cpu


def pipeline(files: list[Path], repeat: int, workers: int, boxes_flow: float | None,
             timeout: float, profile: str | None = None) -> dict[str, Any]:
    """Upload the corpus ``repeat`` times into a fresh server and time upload -> all terminal."""
    env = {"LEXINTEL_EXTRACTION_WORKERS": str(workers),
           "LEXINTEL_PDF_BOXES_FLOW": "none" if boxes_flow is None else str(boxes_flow)}
    blobs = [(f.name, f.read_bytes()) for f in files]
    with Server(env=env) as server, httpx.Client(base_url=server.url, timeout=120) as client:
        case_id = http_json("POST", server.url + "/cases", {"name": "bench"})["id"]
        spy = None
        if profile:  # collapsed stacks of the server and its workers: py-spy record --format raw
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "--subprocesses", "--rate", "200",
                                    "--format", "raw", "-o", profile], stdout=subprocess.DEVNULL)
            time.sleep(1.0)
        cpu0 = cpu_seconds(server.pid)
        expected = 0
        t0 = time.perf_counter()
        for _ in range(repeat):
            resp = client.post(f"/cases/{case_id}/documents", files=[("files", b) for b in blobs])
            resp.raise_for_status()
            expected += len(resp.json()["document_ids"])
        t_uploaded = time.perf_counter() - t0

        def finished() -> dict[str, int] | None:
            counts: dict[str, int] = client.get(f"/cases/{case_id}").json()["documents_by_status"]
            return counts if counts.get("indexed", 0) + counts.get("failed", 0) >= expected else None

        # polling is server work too: keep it rare (adds <= 0.25 s to the clock)
        counts = wait_for(finished, timeout=timeout, what=f"{expected} documents terminal", interval=0.25)
        seconds = time.perf_counter() - t0
        cpu1 = cpu_seconds(server.pid)  # anyio keeps idle workers for minutes: they are still alive here
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        docs = client.get(f"/cases/{case_id}/documents").json()
        pages = sum(int(d.get("pages_total") or 0) for d in docs if d["status"] == "indexed")
        failed = [d["filename"] for d in docs if d["status"] == "failed"]
    return {"pages": pages, "seconds": seconds, "upload_seconds": t_uploaded, "documents": expected,
            "counts": counts, "failed": sorted(set(failed)),
            "loop_cpu": cpu1[0] - cpu0[0], "worker_cpu": cpu1[1] - cpu0[1]}


def _continuity(text: str) -> tuple[int, int]:
    """(good, total) joins across a sentence cut by a column or page break.

    A join is a boundary between two text boxes (page numbers skipped) where the first is a paragraph body
    ending mid-sentence or the second starts with a lower-case word. In reading order both hold: the
    sentence continues in the next box. Interleaved columns put an unrelated box in between.
    """
    boxes = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\f", "\n\n"))]
    boxes = [b for b in boxes if b and b[0].isalpha()]
    good = total = 0
    for prev, nxt in itertools.pairwise(boxes):
        cut = len(prev) > 80 and (prev[-1].isalpha() or prev[-1] == "-")
        continues = nxt[0].islower()
        if cut or continues:
            total += 1
            good += cut and continues
    return good, total


def reading_order(boxes_flow: float | None) -> dict[str, Any]:
    """Reading-order evidence on the two-column corpus paper."""
    import logging

    from pdfminer.high_level import extract_text
    from pdfminer.layout import LAParams

    logging.disable(logging.WARNING)
    path = next(p for p in corpus_pdfs() if p.name.startswith(MULTICOLUMN))
    text = extract_text(str(path), laparams=LAParams(boxes_flow=boxes_flow))
    first_page = text.split("\f")[0]
    paragraphs = [p.strip().split("\n")[0] for p in re.split(r"\n\s*\n", first_page) if p.strip()]
    after_abstract = paragraphs[paragraphs.index("Abstract") + 2] if "Abstract" in paragraphs else "?"
    return {"continuity": _continuity(text), "after_abstract": after_abstract}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="corpus repetitions (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes on both sides (default 2)")
    parser.add_argument("--boxes-flow", default="none", help="LAParams boxes_flow: none (LexIntel default) or a float")
    parser.add_argument("--compare-boxes-flow", action="store_true", help="also measure boxes_flow=0.5 (raw)")
    parser.add_argument("--rounds", type=int, default=1, help="alternating raw/pipeline rounds (median ratio)")
    parser.add_argument("--profile", help="write py-spy collapsed stacks of the pipeline run to this file")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    boxes_flow = None if args.boxes_flow.lower() == "none" else float(args.boxes_flow)
    files = corpus_pdfs() * args.repeat
    out = io.StringIO()

    def say(line: str) -> None:
        print(line, flush=True)
        out.write(line + "\n")

    say(f"# bench_extract: {len(corpus_pdfs())} corpus PDFs x {args.repeat} = {len(files)} files, "
        f"{args.workers} workers, boxes_flow={boxes_flow}")
    say(f"# start: {load_line()}")
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    raw_pages, raw_s = 0, 0.0
    raw_cpu = 0.0
    for round_no in range(1, args.rounds + 1):  # alternate raw and pipeline so load drift hits both
        raw_pages, raw_s, raw_cpu = raw_pool(files, args.workers, boxes_flow)
        raw_rate = raw_pages / raw_s
        say(f"[{round_no}] raw pdfminer pool       : {raw_pages} pages in {raw_s:.2f} s = {raw_rate:.1f} pages/s "
            f"(workers {raw_cpu:.1f} CPU s)")
        if args.skip_pipeline:
            continue
        res = pipeline(corpus_pdfs(), args.repeat, args.workers, boxes_flow, args.timeout, args.profile)
        rate = res["pages"] / res["seconds"]
        say(f"[{round_no}] lexintel upload->indexed: {res['pages']} pages in {res['seconds']:.2f} s = {rate:.1f} "
            f"pages/s ({res['documents']} documents, {res['counts']}, uploads {res['upload_seconds']:.2f} s; "
            f"workers {res['worker_cpu']:.1f} CPU s, server loop {res['loop_cpu']:.1f} CPU s)")
        if res["failed"]:
            say(f"    failed documents: {', '.join(res['failed'])}")
        if res["pages"] != raw_pages:
            say(f"    note: page counts differ (raw {raw_pages}, pipeline {res['pages']})")
        ratios.append(rate / raw_rate)
        cpu_ratios.append(raw_cpu / (res["worker_cpu"] + res["loop_cpu"]))
        say(f"[{round_no}] ratio pipeline/raw      : {rate / raw_rate:.1%} wall clock; {cpu_ratios[-1]:.1%} by CPU "
            "(raw worker CPU / pipeline worker + server CPU: what the ratio is when nothing else shares the cores)")
    if ratios:
        median = statistics.median(ratios)
        cpu_median = statistics.median(cpu_ratios)
        say(f"median ratio over {len(ratios)} round(s): {median:.1%} wall clock, {cpu_median:.1%} by CPU "
            f"(target >= 90%: {'met' if median >= 0.9 else 'MISSED'} / {'met' if cpu_median >= 0.9 else 'MISSED'})")
    if args.compare_boxes_flow:
        for bf in (None, 0.5):
            pages, secs, _ = (raw_pages, raw_s, raw_cpu) if bf == boxes_flow else raw_pool(files, args.workers, bf)
            order = reading_order(bf)
            good, total = order["continuity"]
            say(f"boxes_flow={bf!s:4}: raw {pages / secs:6.1f} pages/s; {MULTICOLUMN}: sentences cut by a "
                f"column/page break rejoined {good}/{total}; after the abstract: {order['after_abstract']!r}")
    say(f"# end: {load_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
