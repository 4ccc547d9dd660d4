"""Batch benchmark: a large batch uploaded and indexed, then a large chunked upload's memory footprint.

1. Builds a ZIP (or a multipart request) of ``--documents`` files by repeating the corpus PDFs, uploads it to
   a real ``lexintel serve`` subprocess, and polls ``GET /batches/{id}/progress`` until the batch is terminal.
   Prints documents/s, pages/s (pages the pipeline reports), the batch's counts and the server's peak RSS
   (VmHWM of the server process; extraction workers are separate processes and reported apart).
2. Sends a ``--upload-mb`` MB file through the chunked upload (``--chunk-mb`` chunks) and finishes it,
   sampling the server's RSS meanwhile. Prints the growth over the RSS before the upload; the target is
   <= 50 MB whatever the file size. The bytes are random, so finishing ends in 415 (not a PDF/text) after
   the full assembly and hash: the whole upload path runs, without spending minutes extracting noise.

    python scripts/bench_batch.py                                  # full scale: 500 documents, 1 GB upload
    python scripts/bench_batch.py --documents 60 --upload-mb 200   # reduced scale on a shared machine
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

CORPUS = Path(os.environ.get("LEXINTEL_CORPUS", "/work/shared/corpus"))
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_kb(pid: int, field: str) -> int:
    """VmRSS / VmHWM of a process in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


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
            self.max_rss_kb = max(self.max_rss_kb, proc_kb(self.pid, "VmRSS"))
            for child in children(self.pid):
                self.worker_peak_kb = max(self.worker_peak_kb, proc_kb(child, "VmHWM"))
            time.sleep(0.05)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(5)


class Server:
    """``python -m lexintel serve`` on a free port with a throw-away data dir."""

    def __init__(self, workers: int, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "LEXINTEL_DATA_DIR": str(data_dir), "LEXINTEL_PORT": str(self.port),
               "LEXINTEL_HOST": "127.0.0.1", "LEXINTEL_EXTRACTION_WORKERS": str(workers),
               "LEXINTEL_LOG_LEVEL": "WARNING", "LEXINTEL_AUTH": "off"}
        self.log = open(data_dir.parent / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "lexintel", "serve"], env=env, stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit("server did not start within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def build_documents(count: int) -> list[tuple[str, bytes]]:
    pdfs = sorted(CORPUS.glob("*.pdf"))
    if not pdfs:
        raise SystemExit(f"no PDFs in {CORPUS} (set LEXINTEL_CORPUS)")
    return [(f"doc-{i:04d}-{pdfs[i % len(pdfs)].name}", pdfs[i % len(pdfs)].read_bytes()) for i in range(count)]


def bench_batch(server: Server, http: httpx.Client, documents: int, mode: str) -> dict[str, Any]:
    docs = build_documents(documents)
    case_id = http.post("/cases", json={"name": "bench batch"}).json()["id"]
    sampler = Sampler(server.proc.pid)
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
    while True:
        progress = http.get(f"/batches/{batch_id}/progress").json()
        if progress["status"] in ("completed", "failed"):
            break
        time.sleep(0.5)
    seconds = time.monotonic() - t0
    sampler.stop()
    pages = sum(d["pages_done"] or 0 for d in progress["documents"])
    return {
        "mode": mode, "documents": documents, "status": progress["status"], "counts": progress["counts"],
        "pages": pages, "seconds": seconds, "accepted_after": accepted,
        "documents_per_second": documents / seconds, "pages_per_second": pages / seconds,
        "server_peak_rss_mb": proc_kb(server.proc.pid, "VmHWM") / 1024,
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
    baseline = proc_kb(server.proc.pid, "VmRSS")
    sampler = Sampler(server.proc.pid)
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

    tmp = Path(tempfile.mkdtemp(prefix="lexintel-bench-batch-"))
    data_dir = tmp / "data"
    data_dir.mkdir()
    server = Server(args.workers, data_dir)
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
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
