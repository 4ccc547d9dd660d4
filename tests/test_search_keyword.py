"""Keyword search as a lawyer uses it (issue 14), against a real server with accounts on: stemming, phrases,
prefixes, operators, one hit per page, paging, the passage's range in the page text, document names, modes,
hostile queries (never a 5xx), and access filtering (another member's words never change your hits)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lexintel.settings import Settings
from tests.auth_helpers import Account, add_account
from tests.support.servers import ServerProcess
from tests.support.waiting import wait_for

LEASE = (
    "Indemnity. The lessee shall indemnify the lessor against all claims arising from the use of the premises.\n\n"
    "Return of documents. On termination the receiving party shall return or destroy all confidential material."
    "\fDepositions may be taken of any witness. The arbitration shall be held in Zürich.\n\n"
    "Nothing in this lease creates a partnership between the parties."
)
MEMO = "The witness statement of Mr Smith was filed late. Indemnities are capped at the fees paid."
NOTES = "Destroy the draft. Documents return to the archive each Friday. The lessor repairs the roof & <gutters>."


def long_pages(word: str, pages: int) -> str:
    """``pages`` pages, each long enough for several overlapping passages that all hold ``word``."""
    filler = " ".join(f"Clause {n} concerns the {word} of the parties and ordinary matters." for n in range(40))
    return "\f".join(f"Page {p}. {filler}" for p in range(1, pages + 1))


@dataclass
class Ctx:
    server: ServerProcess
    http: httpx.Client
    alice: Account
    bob: Account
    case: str
    bob_case: str
    docs: dict[str, str]

    def search(self, q: str, who: Account | None = None, **params: Any) -> httpx.Response:
        return self.http.get("/search", params={"q": q, "case_id": self.case, **params},
                             headers=(who or self.alice).headers)

    def hits(self, q: str, **params: Any) -> list[dict[str, Any]]:
        resp = self.search(q, **params)
        assert resp.status_code == 200, resp.text
        hits: list[dict[str, Any]] = resp.json()["hits"]
        return hits

    def names(self, q: str, **params: Any) -> list[str]:
        return [h["filename"] for h in self.hits(q, **params)]


def upload(http: httpx.Client, who: Account, case_id: str, files: dict[str, str]) -> dict[str, str]:
    resp = http.post(f"/cases/{case_id}/documents", headers=who.headers,
                     files=[("files", (name, text.encode(), "text/plain")) for name, text in files.items()])
    assert resp.status_code == 202, resp.text
    ids = {d["filename"]: d["id"] for d in resp.json()["documents"]}

    def indexed() -> bool:
        states = [http.get(f"/documents/{i}/status", headers=who.headers).json()["status"] for i in ids.values()]
        assert "failed" not in states, states
        return all(s == "indexed" for s in states)

    wait_for(indexed, 60, "documents indexed")
    return ids


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ctx]:
    root = tmp_path_factory.mktemp("search")
    settings = Settings(data_dir=root / "data", auth="on")
    alice, bob = add_account(settings, "alice"), add_account(settings, "bob")
    # keyword retrieval on its own (hybrid and semantic search are tested where vectors exist: test_embeddings)
    server = ServerProcess(root / "data", env={"LEXINTEL_AUTH": "on", "LEXINTEL_EXTRACTION_WORKERS": "1",
                                               "LEXINTEL_SHUTDOWN_GRACE": "0", "LEXINTEL_PROGRESS_INTERVAL": "0",
                                               "LEXINTEL_EMBEDDINGS": "off"})
    server.start()
    http = httpx.Client(base_url=server.url, timeout=30)
    try:
        case = http.post("/cases", json={"name": "Smith v Jones"}, headers=alice.headers).json()["id"]
        bob_case = http.post("/cases", json={"name": "Other matter"}, headers=bob.headers).json()["id"]
        docs = upload(http, alice, case, {"lease.txt": LEASE, "witness-memo.txt": MEMO, "notes.txt": NOTES,
                                          "long.txt": long_pages("quitclaim", 12)})
        yield Ctx(server, http, alice, bob, case, bob_case, docs)
    finally:
        http.close()
        server.stop()


def test_stemming_finds_other_forms_and_exact_forms_still_match(ctx: Ctx) -> None:
    assert set(ctx.names("indemnities")) == {"lease.txt", "witness-memo.txt"}  # indemnity, indemnify, Indemnities
    assert set(ctx.names("indemnity")) == {"lease.txt", "witness-memo.txt"}
    assert ctx.names("depositions") == ["lease.txt"] and ctx.names("deposition") == ["lease.txt"]
    assert ctx.names("zurich") == ["lease.txt"]  # diacritics folded


def test_prefix_or_and_excluded(ctx: Ctx) -> None:
    assert set(ctx.names("indemnit*")) == {"lease.txt", "witness-memo.txt"}
    assert set(ctx.names("witness OR deposition")) == {"lease.txt", "witness-memo.txt"}
    assert ctx.names("witness AND arbitration") == ["lease.txt"]
    assert ctx.names("witness -arbitration") == ["witness-memo.txt"]
    assert ctx.names("witness NOT arbitration") == ["witness-memo.txt"]
    assert ctx.names('lessor -"return of documents"') == ["notes.txt"]
    assert ctx.names("zzyzx*") == []


def test_phrases_need_the_words_in_order_and_rank_first(ctx: Ctx) -> None:
    assert ctx.names('"return or destroy"') == ["lease.txt"]
    assert ctx.names('"destroy or return"') == []
    # any word matches, but the passage holding them all, close together, comes first
    hits = ctx.hits("does the receiving party have to destroy documents on termination?")
    assert hits[0]["filename"] == "lease.txt" and hits[0]["page"] == 1
    assert "notes.txt" in {h["filename"] for h in hits}  # "destroy" alone still finds it, ranked lower
    assert ctx.hits("the of and") != []  # only stop words: searched anyway


def test_hits_cite_the_page_range_and_mark_the_words(ctx: Ctx) -> None:
    hit = ctx.hits("depositions witness")[0]
    assert (hit["filename"], hit["page"], hit["matched_by"]) == ("lease.txt", 2, ["keyword"])
    text = ctx.http.get(f"/documents/{hit['document_id']}/text", headers=ctx.alice.headers).json()["pages"][1]["text"]
    passage = text[hit["char_start"]:hit["char_end"]]
    assert passage.startswith("Depositions may be taken") and passage.endswith("between the parties.")
    assert "<mark>Depositions</mark>" in hit["snippet_html"] and "<mark>witness</mark>" in hit["snippet_html"]
    assert "<mark>" not in hit["snippet"] and "Depositions" in hit["snippet"]
    assert hit["case_name"] == "Smith v Jones" and isinstance(hit["passage_id"], int) and hit["score"] > 0
    roof = ctx.hits("roof")[0]
    assert "&lt;gutters&gt;" in roof["snippet_html"] and "&amp;" in roof["snippet_html"]  # escaped
    assert "<gutters>" in roof["snippet"]


def test_one_hit_per_page_total_and_paging(ctx: Ctx) -> None:
    first = ctx.search("quitclaim", limit=5).json()
    assert first["total"] == 12 and (first["offset"], first["limit"], first["mode"]) == (0, 5, "keyword")
    seen: list[tuple[str, int]] = []
    for offset in range(0, 15, 5):
        body = ctx.search("quitclaim", limit=5, offset=offset).json()
        assert body["total"] == 12 and body["offset"] == offset
        seen += [(h["document_id"], h["page"]) for h in body["hits"]]
    assert len(seen) == 12 and len(set(seen)) == 12  # every page once, none repeated across pages of results
    assert sorted(p for _, p in seen) == list(range(1, 13))
    assert ctx.search("quitclaim", offset=12).json()["hits"] == []


def test_a_document_named_in_the_query_ranks_first(ctx: Ctx) -> None:
    assert ctx.names("witness memo")[0] == "witness-memo.txt"
    assert ctx.names("memo") == ["witness-memo.txt"]  # in its name only
    assert ctx.names("lessor notes")[0] == "notes.txt"
    assert ctx.names("lessor lease")[0] == "lease.txt"


def test_modes(ctx: Ctx) -> None:
    assert ctx.search("witness", mode="hybrid").json()["mode"] == "hybrid"
    assert ctx.names("witness", mode="hybrid") == ctx.names("witness", mode="keyword")
    resp = ctx.search("witness", mode="semantic")
    assert resp.status_code == 409 and resp.json()["code"] == "no_vectors", resp.text
    assert ctx.search("witness", mode="fuzzy").status_code == 400
    assert ctx.search("witness", limit=101).status_code == 400
    assert ctx.search("witness", offset=-1).status_code == 400


HOSTILE = ['"unbalanced', "AND OR NOT", "col:umn*", "((( lease", "NEAR(a b)", 'lessee" OR "roof', "text:lessor",
           "^lessee", "*", "-", "- - -", '""', "a*", "NOT", "AND lessee", "lessee AND", '"a" * "b"', "\x00", "'",
           "\u2019\u2019", "{text}: x", "rowid:1", "x" * 5000, "é" * 300, "OR OR OR", "* * *", '-"', "+",
           "+lessee -lessee"]


def test_hostile_queries_are_never_a_server_error(ctx: Ctx) -> None:
    rng = random.Random(14)
    alphabet = list('abc XYZ"*-+:^()[]{}\'\u2019,.;/\\%_=<>&|~!?@#$0123456789éü\u00a0\t\nANDORNOTNEAR')
    queries = HOSTILE + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60))) for _ in range(300)]
    queries += [" ".join(rng.choice(["AND", "OR", "NOT", "NEAR", "-", "*", '"', "lessee", "(", ")"])
                         for _ in range(rng.randint(1, 12))) for _ in range(100)]
    for q in queries:
        for mode in ("keyword", "hybrid"):
            resp = ctx.search(q, mode=mode)
            assert resp.status_code in (200, 400), (q, resp.status_code, resp.text)
            if resp.status_code == 400:
                assert resp.json()["code"] in ("empty_query", "validation_error"), (q, resp.text)


def _view(ctx: Ctx, q: str) -> tuple[int, list[tuple[str, int]]]:
    body = ctx.search(q, limit=100).json()
    return body["total"], sorted((h["document_id"], h["page"]) for h in body["hits"])


def test_another_members_words_never_change_your_hits(ctx: Ctx) -> None:
    queries = ["witness", "indemnit*", "destroy documents", '"return or destroy"', "quitclaim", "lessor -roof"]
    before = {q: _view(ctx, q) for q in queries}
    everything = {q: ctx.http.get("/search", params={"q": q}, headers=ctx.alice.headers).json()["total"]
                  for q in queries}
    # bob's case is full of the same words, and of a word alice never wrote
    upload(ctx.http, ctx.bob, ctx.bob_case, {f"b{i}.txt": f"{LEASE}\n\n{MEMO} {NOTES} quitclaim zanzibarite"
                                             for i in range(30)})
    assert {q: _view(ctx, q) for q in queries} == before
    assert {q: ctx.http.get("/search", params={"q": q}, headers=ctx.alice.headers).json()["total"]
            for q in queries} == everything  # across all of alice's cases too
    assert ctx.search("zanzibarite").json()["total"] == 0
    assert ctx.http.get("/search", params={"q": "zanzibarite"}, headers=ctx.alice.headers).json()["hits"] == []
    # bob sees only his own; alice's case is a 404 for him, like a missing one
    own = ctx.http.get("/search", params={"q": "witness"}, headers=ctx.bob.headers).json()["hits"]
    assert own and {h["case_id"] for h in own} == {ctx.bob_case}
    assert ctx.search("witness", who=ctx.bob).status_code == 404


def test_deleting_a_document_removes_its_passages_from_search(ctx: Ctx, tmp_path: Path) -> None:
    ids = upload(ctx.http, ctx.alice, ctx.case, {"temporary-estoppel.txt": "Promissory estoppel applies here."})
    assert ctx.names("estoppel") == ["temporary-estoppel.txt"]
    assert ctx.http.delete(f"/documents/{ids['temporary-estoppel.txt']}",
                           headers=ctx.alice.headers).status_code == 204
    deadline = time.monotonic() + 10
    while ctx.names("estoppel") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ctx.names("estoppel") == []
    assert ctx.names("temporary") == []  # its name is gone from the name index too


def test_the_cli_pages_through_results_in_a_mode(ctx: Ctx) -> None:
    from tests.test_cli import lexintel

    env = {"LEXINTEL_TOKEN": ctx.alice.token}
    first = lexintel("search", "quitclaim", "--case", "Smith v Jones", "--limit", "5", "--mode", "keyword",
                     "--server", ctx.server.url, env=env)
    assert first.returncode == 0, first.stderr
    assert "1-5 of 12 hits for 'quitclaim' (keyword)" in first.stdout
    assert "More results: add --offset 5" in first.stdout
    last = lexintel("search", "quitclaim", "--case", "Smith v Jones", "--limit", "5", "--offset", "10",
                    "--server", ctx.server.url, env=env)
    assert last.returncode == 0 and "11-12 of 12 hits" in last.stdout and "More results" not in last.stdout
    beyond = lexintel("search", "quitclaim", "--case", "Smith v Jones", "--offset", "12", "--server", ctx.server.url,
                      env=env)
    assert beyond.returncode == 1 and "No more hits for 'quitclaim': 12 in all." in beyond.stdout
    semantic = lexintel("search", "quitclaim", "--mode", "semantic", "--server", ctx.server.url, env=env)
    assert semantic.returncode == 2 and "embedding" in semantic.stderr, semantic.stderr
