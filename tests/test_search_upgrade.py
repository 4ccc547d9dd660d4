"""A data directory written by the schema of today's main (v1, before search's migration) gets the new search
index on start: its passages are re-indexed (stemmed, by case), located in their pages, its documents' names
searchable, and the server logs the re-indexing with counts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.fixtures.v1_database import PAGES, build_v1_data_dir
from tests.support.servers import ServerProcess


def test_a_v1_data_dir_is_reindexed_for_search_on_start(tmp_path: Path) -> None:
    v1 = build_v1_data_dir(tmp_path / "v1")
    with sqlite3.connect(v1.db_path) as conn:  # more passages than a single batch would hide
        conn.execute("PRAGMA user_version")  # (the fixture's database, as v1 wrote it)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'search_stem'").fetchone() == (0,)
    server = ServerProcess(v1.data_dir, env={"LEXINTEL_AUTH": "on", "LEXINTEL_EXTRACTION_WORKERS": "1",
                                             "LEXINTEL_SHUTDOWN_GRACE": "0"})
    try:
        server.start()
        bearer = {"Authorization": f"Bearer {v1.admin_token}"}
        with httpx.Client(base_url=server.url, headers=bearer, timeout=30) as http:
            def search(q: str) -> list[dict[str, object]]:
                resp = http.get("/search", params={"q": q, "case_id": v1.case_id})
                assert resp.status_code == 200, resp.text
                return list(resp.json()["hits"])

            # stemmed: "indemnified" and "arbitrating" were never typed, "indemnify" and "arbitration" were
            [hit] = search("indemnified")
            assert (hit["document_id"], hit["page"], hit["matched_by"]) == (v1.indexed_id, 2, ["keyword"])
            assert (hit["char_start"], hit["char_end"]) == (0, len(PAGES[1]))  # located in the page text
            assert [h["page"] for h in search("arbitrating zurich")] == [1]
            assert [h["page"] for h in search("arbitr*")] == [1]
            assert search('"binding arbitration"')[0]["page"] == 1
            # the document's name and the case's name count as matches
            assert search("agreement")[0]["document_id"] == v1.indexed_id
            everywhere = http.get("/search", params={"q": "acme beta supplier"}).json()
            assert everywhere["hits"][0]["case_name"] == "Acme v Beta"
    finally:
        server.stop()
    log = server.log()
    assert "search migration: re-indexed passages 2/2" in log, log
    assert "search migration: located passages in their pages, documents 1/1" in log
    with sqlite3.connect(v1.db_path) as conn:
        assert conn.execute("SELECT count(*) FROM chunks WHERE char_start IS NULL").fetchone() == (0,)
