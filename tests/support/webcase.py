"""A case of many small documents made through the API, for the page's tests and its benchmark
(``scripts/bench_page.py``): tiny text files in a few multipart requests, a few empty ones among them (failed
rows), waited for until every document has finished."""

from __future__ import annotations

import httpx

from tests.support.waiting import wait_for

__all__ = ["make_case"]


def make_case(url: str, name: str, count: int, *, failed: int = 0, per_request: int = 200,
              headers: dict[str, str] | None = None, timeout: float = 600) -> str:
    """A case with ``count`` documents (``failed`` of them empty files, refused), all finished; its id."""
    with httpx.Client(base_url=url, timeout=120, headers=headers) as http:
        case_id = str(http.post("/cases", json={"name": name}).json()["id"])
        names = [(f"empty-{i:03d}.txt", b"") for i in range(failed)]
        names += [(f"memo-{i:04d}.txt", f"Memo {i}: clause {i % 37} of the lease, ref {name} {i}.".encode())
                  for i in range(count - failed)]
        for start in range(0, len(names), per_request):
            part = names[start:start + per_request]
            resp = http.post(f"/cases/{case_id}/documents",
                             files=[("files", (n, data, "text/plain")) for n, data in part])
            assert resp.status_code == 202, resp.text

        def finished() -> bool:
            by = http.get(f"/cases/{case_id}").json()["documents_by_status"]
            return sum(by.values()) == count and not by.get("pending") and not by.get("processing")

        wait_for(finished, timeout, f"{count} documents to finish", interval=0.5)
        return case_id
