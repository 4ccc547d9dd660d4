"""Batch benchmark: a large batch uploaded and indexed, then a large chunked upload's memory footprint.

1. Builds a ZIP (or a multipart request) of ``--documents`` files by repeating the corpus PDFs, uploads it to
   a real ``lexintel serve`` subprocess, and polls ``GET /batches/{id}/progress`` until the batch is terminal.
   Prints documents/s, pages/s (pages the pipeline reports), the batch's counts and the server's peak RSS
   (VmHWM of the server process; extraction workers are separate processes and reported apart).
2. Sends a ``--upload-mb`` MB file through the chunked upload (``--chunk-mb`` chunks) and finishes it,
   sampling the server's RSS meanwhile. Prints the growth over the RSS before the upload; the target is
   <= 50 MB whatever the file size. The bytes are random, so finishing ends in 415 (not a PDF/text) after
   the full assembly and hash: the whole upload path runs, without spending minutes extracting noise.

    python -m scripts.bench_batch                                  # full scale: 500 documents, 1 GB upload
    python -m scripts.bench_batch --documents 60 --upload-mb 200   # reduced scale on a shared machine
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import threading
import time
import zipfile
from typing import Any

import httpx

from scripts._benchlib import Server
from tests.support import CORPUS, child_pids, corpus_pdfs, status_kb, wait_for

MB = 1024 * 1024


class Sampler(threading.Thread):
    """Samples the server's RSS (and its workers' peak) every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.max_rss_kb = 0
        self.worker_peak_kb = 0
        self.stop_flag = threading.Event()

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.max_rss_kb = max(self.max_rss_kb, status_kb(self.pid, "VmRSS"))
            for child in child_pids(self.pid):
                self.worker_peak_kb = max(self.worker_peak_kb, status_kb(child, "VmHWM"))
            time.sleep(0.05)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(5)


def build_documents(count: int) -> list[tuple[str, bytes]]:
    pdfs = corpus_pdfs()
    if not pdfs:
        raise SystemExit(f"no PDFs in {CORPUS} (set LEXINTEL_CORPUS)")
    return [(f"doc-{i:04d}-{pdfs[i % len(pdfs)].name}", pdfs[i % len(pdfs)].read_bytes()) for i in range(count)]


def bench_batch(server: Server, http: httpx.Client, documents: int, mode: str) -> dict[str, Any]:
    docs = build_documents(documents)
    case_id = http.post("/cases", json={"name": "bench batch"}).json()["id"]
    sampler = Sampler(server.pid)
    sampler.start()
    t0 = time.monotonic()
    if mode == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in docs:
                zf.writestr(name, data)
        resp = http.post(f"/cases/{case_id}/documents", files=[("files", ("production.zip", buf.getvalue()))])
    else:
        resp = http.post(f"/cases/{case_id}/documents", files=[("files", d) for d in docs])
    resp.raise_for_status()
    batch_id = resp.json()["batch_id"]
    accepted = time.monotonic() - t0

    def finished() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/batches/{batch_id}/progress").json()
        return body if body["status"] in ("completed", "failed") else None

    progress = wait_for(finished, timeout=6 * 3600, what=f"batch {batch_id} terminal", interval=0.5)
    seconds = time.monotonic() - t0
    sampler.stop()
    pages = sum(d["pages_done"] or 0 for d in progress["documents"])
    return {
        "mode": mode, "documents": documents, "status": progress["status"], "counts": progress["counts"],
        "pages": pages, "seconds": seconds, "accepted_after": accepted,
        "documents_per_second": documents / seconds, "pages_per_second": pages / seconds,
        "server_peak_rss_mb": status_kb(server.pid, "VmHWM") / 1024,
        "worker_peak_rss_mb": sampler.worker_peak_kb / 1024,
    }


def bench_chunked(server: Server, http: httpx.Client, upload_mb: int, chunk_mb: int) -> dict[str, Any]:
    total = upload_mb * MB
    chunk = chunk_mb * MB
    block = bytearray(random.randbytes(chunk))
    case_id = http.post("/cases", json={"name": "bench upload"}).json()["id"]
    session = http.post(f"/cases/{case_id}/uploads",
                        json={"filename": "big.bin", "total_size": total, "chunk_size": chunk}).json()
    time.sleep(1.0)  # let the batch run's memory settle before taking the baseline
    baseline = status_kb(server.pid, "VmRSS")
    sampler = Sampler(server.pid)
    sampler.start()
    t0 = time.monotonic()
    for index in range(session["chunk_count"]):
        block[:8] = index.to_bytes(8, "big")
        size = min(chunk, total - index * chunk)
        resp = http.put(f"/uploads/{session['upload_id']}/chunks/{index}", content=bytes(block[:size]))
        resp.raise_for_status()
    sent = time.monotonic() - t0
    done = http.post(f"/uploads/{session['upload_id']}/complete", timeout=600)
    seconds = time.monotonic() - t0
    time.sleep(0.3)
    sampler.stop()
    return {
        "upload_mb": upload_mb, "chunk_mb": chunk_mb, "chunks": session["chunk_count"], "send_seconds": sent,
        "total_seconds": seconds, "mb_per_second": upload_mb / seconds, "finish_status": done.status_code,
        "finish_code": done.json().get("code"), "baseline_rss_mb": baseline / 1024,
        "max_rss_mb": sampler.max_rss_kb / 1024, "growth_mb": (sampler.max_rss_kb - baseline) / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--mode", choices=["zip", "files"], default="zip")
    parser.add_argument("--workers", type=int, default=2, help="extraction worker processes")
    parser.add_argument("--upload-mb", type=int, default=1024, help="size of the chunked upload (0 skips it)")
    parser.add_argument("--chunk-mb", type=int, default=8)
    args = parser.parse_args()

    server = Server(env={"LEXINTEL_EXTRACTION_WORKERS": str(args.workers)}).start(timeout=60)
    try:
        with httpx.Client(base_url=server.url, timeout=300) as http:
            if args.documents:
                r = bench_batch(server, http, args.documents, args.mode)
                print(f"batch ({r['mode']}): {r['documents']} documents, {r['pages']} pages, status {r['status']},"
                      f" counts {r['counts']}")
                print(f"  202 after {r['accepted_after']:.2f} s; all terminal after {r['seconds']:.1f} s")
                print(f"  documents/s {r['documents_per_second']:.2f}   pages/s {r['pages_per_second']:.2f}")
                print(f"  server peak RSS {r['server_peak_rss_mb']:.1f} MB   "
                      f"extraction worker peak RSS {r['worker_peak_rss_mb']:.1f} MB   ({args.workers} workers)")
            if args.upload_mb:
                c = bench_chunked(server, http, args.upload_mb, args.chunk_mb)
                verdict = "PASS" if c["growth_mb"] <= 50 else "FAIL"
                print(f"chunked upload: {c['upload_mb']} MB in {c['chunks']} chunks of {c['chunk_mb']} MB: sent in "
                      f"{c['send_seconds']:.1f} s, finished in {c['total_seconds']:.1f} s "
                      f"({c['mb_per_second']:.0f} MB/s); finish -> {c['finish_status']} {c['finish_code']}")
                print(f"  server RSS {c['baseline_rss_mb']:.1f} MB before, {c['max_rss_mb']:.1f} MB max: growth "
                      f"{c['growth_mb']:.1f} MB (limit 50 MB) {verdict}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
