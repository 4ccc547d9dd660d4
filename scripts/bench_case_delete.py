"""How long deleting a big case takes, and how long it holds the event loop (the one write transaction).

    python -m scripts.bench_case_delete                      # 1,000 documents x 20 passages, 10 pages each
    python -m scripts.bench_case_delete --documents 200      # quicker

Builds the case in a temporary data dir with the real store (documents, pages, passages indexed by FTS5,
events on every document's stream and the case's, a file per document), then deletes it through
:meth:`lexintel.cases.Cases.delete`, the code ``DELETE /cases/{id}`` runs. Prints the rows it held, the time
of the delete transaction (the event loop runs nothing else meanwhile: that is the pause other requests and
streams see) and the whole delete including the files (removed in a worker thread).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from lexintel.auth.users import IMPLICIT_ADMIN
from lexintel.clock import new_id, utc_now_iso
from lexintel.services import Services
from lexintel.settings import Settings
from lexintel.store import cases as case_sql
from lexintel.store import documents as rows
from lexintel.store import event_log

WORDS = ["limitation", "period", "contract", "breach", "notice", "clause", "damages", "party", "agreement", "term"]


def build(svc: Services, documents: int, passages: int, pages: int) -> str:
    case_id = svc.records.create_case("Benchmark matter")["id"]
    text = " ".join(WORDS * 20)  # ~1,300 characters: a passage of the default size
    now = utc_now_iso()
    for n in range(documents):
        doc_id = new_id()
        path = svc.files.final_path(doc_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.7 benchmark\n" * 50)
        with svc.db.transaction() as conn:
            rows.insert(conn, {"id": doc_id, "case_id": case_id, "batch_id": None, "filename": f"doc-{n}.pdf",
                               "kind": "pdf", "size_bytes": 950, "sha256": "0" * 64, "storage_path": str(path),
                               "status": "indexed", "stage": "completed", "progress": 100, "run": 1,
                               "message": "", "created_at": now, "pages_done": pages, "chunks": passages})
            rows.store_pages(conn, doc_id, [(p, text) for p in range(1, pages + 1)])
            rows.insert_chunks(conn, doc_id, case_id, 0, [((i % pages) + 1, text) for i in range(passages)])
            for i in range(1, 6):  # a handful of events per document, on its stream and the case's
                event_log.append(conn, f"document:{doc_id}", i, 1, "progress", "{}")
                event_log.append(conn, f"case:{case_id}", n * 5 + i, 0, "progress", "{}")
    return str(case_id)


async def measure(documents: int, passages: int, pages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", auth="off")
        svc = Services.build(settings)
        try:
            case_id = build(svc, documents, passages, pages)
            held = case_sql.contents(svc.db, case_id)
            gaps: list[float] = []
            done = asyncio.Event()

            async def ticker() -> None:  # what every other request and stream sees: the loop's longest pause
                last = time.perf_counter()
                while not done.is_set():
                    await asyncio.sleep(0.001)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            tick = asyncio.create_task(ticker())
            await asyncio.sleep(0.01)
            t0 = time.perf_counter()
            await svc.cases.delete(case_id, IMPLICIT_ADMIN)
            total = time.perf_counter() - t0
            done.set()
            await tick
            left = svc.db.query_one("SELECT COUNT(*) FROM chunks")
        finally:
            svc.db.close()
    print(f"case: {held.documents:,} documents, {held.passages:,} passages, {held.pages:,} pages, "
          f"{held.documents * 5 * 2:,} events, {held.documents:,} files")
    print(f"whole delete incl. files: {total:.2f} s; longest event-loop pause: {max(gaps):.3f} s")
    print(f"passages left: {left[0] if left else '?'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--passages", type=int, default=20, help="per document")
    parser.add_argument("--pages", type=int, default=10, help="per document")
    args = parser.parse_args()
    asyncio.run(measure(args.documents, args.passages, args.pages))


if __name__ == "__main__":
    main()
