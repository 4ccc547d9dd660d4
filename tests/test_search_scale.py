"""Keyword search in a case larger than its match budget (issue 14's latency work), in-process on a real
database written the way the server writes one (migrations, document rows, passages through
``store.documents.insert_chunks`` and the search triggers). The budget is a parameter of
:func:`lexintel.search.keyword.search`, so a case of a few hundred passages shows what a case of 100,000 does
with the default: common words left to the re-ranking, candidates spread over the case for an expression that
matches too much, named documents found by their common words, estimated counts, and the tokenizer's fast
paths giving the same words as the Unicode one."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexintel.pipeline.chunk import ChunkSpan
from lexintel.search import keyword
from lexintel.search.query import parse
from lexintel.search.terms import _WORDS, _lower_words
from lexintel.store import documents
from lexintel.store import search as store
from lexintel.store.db import Database

BUDGET = 40
FILLER = ["the agreement binds the party", "the party shall keep the agreement", "agreement of the party"]


def add_document(db: Database, case_id: str, doc_id: str, filename: str, pages: list[str]) -> None:
    """A document of one passage per page, inserted as the pipeline does (the triggers index it)."""
    with db.transaction() as conn:
        documents.insert(conn, {"id": doc_id, "case_id": case_id, "filename": filename, "kind": "text",
                                "size_bytes": 1, "sha256": "", "storage_path": "", "status": "indexed",
                                "stage": "completed", "created_at": "", "chunks": len(pages)})
        for n, text in enumerate(pages, start=1):
            conn.execute("INSERT INTO pages (document_id, page, text) VALUES (?, ?, ?)", (doc_id, n, text))
        documents.insert_chunks(conn, doc_id, case_id, 0,
                                [ChunkSpan(n, text, 0, len(text)) for n, text in enumerate(pages, start=1)])


def add_case(db: Database, case_id: str, name: str) -> None:
    with db.transaction() as conn:
        conn.execute("INSERT INTO cases (id, name, description, owner_id, created_at) VALUES (?, ?, '', NULL, '')",
                     (case_id, name))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Case "mine": 30 documents of 10 pages, every page holding "widget" and the common filler words,
    "khronos" on every 5th page (60 pages: over half the budget), "zebra" once, and a document named Velco
    whose pages hold only common words. Case "theirs" (another member's): "widget" and "khronos" everywhere."""
    path = tmp_path_factory.mktemp("scale") / "lexintel.db"
    database = Database(path)
    add_case(database, "mine", "Large matter")
    add_case(database, "theirs", "Another member's matter")
    rng = random.Random(7)
    for d in range(30):
        pages = []
        for p in range(10):
            words = [rng.choice(FILLER), f"widget number {d * 10 + p}"]
            if (d * 10 + p) % 5 == 0:
                words.append("khronos")
            if d == 17 and p == 3:
                words.append("zebra")
            pages.append(". ".join(words) + ".")
        add_document(database, "mine", f"m{d}", f"contract-{d}.txt", pages)
    add_document(database, "mine", "velco", "Velco-Supply.txt",
                 ["Preamble of the supply terms.", "The agreement binds each party to supply.",
                  "Signatures follow."])
    for d in range(20):
        add_document(database, "theirs", f"t{d}", f"theirs-{d}.txt",
                     [f"widget khronos zebra widget page {p}" for p in range(10)])
    database.close()
    return path


def search(path: Path, q: str, case_id: str = "mine", want: int = 10) -> keyword.Ranked:
    conn = sqlite3.connect(path)
    try:
        return keyword.search(conn, parse(q), store.scope(conn, None, case_id), want, budget=BUDGET)
    finally:
        conn.close()


def test_a_word_typed_twice_still_searches(db: Path) -> None:
    # the rarest word is searched whatever its count; "khronos" was counted once per time it was typed, the
    # second time pushed it past the budget, it was left out as common, and nothing was left to search
    found = search(db, "khronos and khronos agreement")
    assert found.hits, "a word typed twice must still be searched"
    assert all("khronos" in h.chunk.text for h in found.hits[:10])
    assert {h.chunk.case_id for h in found.hits} == {"mine"}


def test_a_word_found_everywhere_is_ranked_from_a_spread_of_the_case(db: Path) -> None:
    found = search(db, "widget")  # on all 300 pages of the case: far past the budget
    assert len(found.hits) >= 10
    assert all("widget" in h.chunk.text and h.chunk.case_id == "mine" for h in found.hits)
    documents_seen = {h.chunk.document_id for h in found.hits}
    assert len(documents_seen) >= 10, documents_seen  # candidates from across the case, not its first documents
    assert 150 <= found.total <= 600, found.total  # 300 pages, estimated


def test_an_and_query_past_the_budget_keeps_its_meaning(db: Path) -> None:
    found = search(db, "widget AND khronos -zebra")
    assert found.hits
    assert all("widget" in h.chunk.text and "khronos" in h.chunk.text and "zebra" not in h.chunk.text
               for h in found.hits)


def test_a_named_documents_passages_are_found_by_its_common_words(db: Path) -> None:
    # "zebra" is rare (searched by FTS5), "agreement" and "party" are everywhere (left to the re-ranking);
    # Velco's passage holding them must be a candidate and, named by the query, come first (before: only
    # Velco's first passage stood for it, holding none of the words)
    top = search(db, "Velco agreement party zebra").hits[0]
    assert top.chunk.document_id == "velco"
    assert "agreement" in top.chunk.text


def test_another_cases_data_never_changes_the_candidates(db: Path) -> None:
    before = [(h.chunk.id, h.tier) for h in search(db, "widget khronos").hits]
    database = Database(db)
    add_document(database, "theirs", "t-more", "theirs-more.txt", ["widget khronos agreement party"] * 50)
    database.close()
    assert [(h.chunk.id, h.tier) for h in search(db, "widget khronos").hits] == before
    assert {h.chunk.case_id for h in search(db, "widget", case_id="theirs").hits} == {"theirs"}


def test_counts_are_exact_under_the_cap_and_estimated_over_it(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        where = store.scope(conn, None, "mine")
        assert store.estimate_matches(conn, '"khronos"', where, 1000) == (60, True)
        estimate, exact = store.estimate_matches(conn, '"widget"', where, 50)
        assert not exact and 200 <= estimate <= 450, estimate  # 300 in fact, spread evenly
        assert store.word_counts(conn, ['"khronos"', '"widget"'], where, 41) == [41, 41]
        assert store.word_counts(conn, ['"zebra"'], where, 41) == [1]
    finally:
        conn.close()


def test_the_fast_tokenizer_finds_the_same_words() -> None:
    rng = random.Random(3)
    # ASCII, punctuation outside ASCII (curly quotes, ellipsis, section sign, dash, soft hyphen), letters and
    # digits outside it, some changing length when lowercased (dotted I), a combining accent
    alphabet = ("abcXYZ019 .,;-_'\u2019\u201c\u201d\u2026\u00a7\u2013\u00ad\u00e9\u00c9\u0130\u0131\u00df"
                "\u1e9e\u00b2\u01c5\uff15\u216b\ufb01\u0301\t\n")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert _lower_words(text) == [w.lower() for w in _WORDS.findall(text)], repr(text)


def test_numbers_are_their_own_stem_as_sqlite_stems_them() -> None:
    words = ["0", "7", "12", "007", "2024", "123456789012345678901234567890", "1990s", "clauses", "indemnities"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE w USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, 'instance')")
    conn.executemany("INSERT INTO w (rowid, x) VALUES (?, ?)", enumerate(words))
    sqlite = {int(doc): str(term) for term, doc in conn.execute("SELECT term, doc FROM v")}
    assert store.stem_each(words) == [sqlite[i] for i in range(len(words))]
