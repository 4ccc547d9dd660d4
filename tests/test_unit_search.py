"""The full-text query builder (``fts_query``): user text in, a query SQLite FTS5 accepts and means what the
user typed. Checked against a real in-memory FTS5 table, so any query shape that matches the same rows passes:
every word must occur, a "quoted phrase" must occur in order, nothing the user types is an FTS5 operator, and
no input makes SQLite raise (a syntax error would surface as a 500)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from lexintel.api.search import fts_query
from lexintel.errors import BadRequest

ROWS = {
    1: "The lessee shall indemnify the lessor against all claims.",
    2: "The lessor shall repair the roof; the lessee pays for damage.",
    3: "Herr Müller co-operates under clause 12.3 of the lease.",
    4: "Nothing in this lease creates a partnership.",
    5: "Claims against the lessee are time-barred after six years.",
}


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", ROWS.items())
    yield conn
    conn.close()


def hits(conn: sqlite3.Connection, q: str) -> set[int]:
    return {row[0] for row in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts_query(q),))}


def test_every_word_must_match_in_any_order_and_case(fts: sqlite3.Connection) -> None:
    assert hits(fts, "lessee") == {1, 2, 5}
    assert hits(fts, "CLAIMS lessee") == {1, 5}
    assert hits(fts, "lessee claims roof") == set()


def test_a_quoted_phrase_must_occur_in_order(fts: sqlite3.Connection) -> None:
    assert hits(fts, '"the lessee shall"') == {1}
    assert hits(fts, '"shall the lessee"') == set()
    assert hits(fts, '"against the lessee" claims') == {5}


@pytest.mark.parametrize(("typed", "expected"), [
    ("lease OR partnership", set()),  # OR is a word to find, not an operator: no row has "or"
    ("lessee NOT roof", set()),
    ("lessee AND", set()),
    ("leas*", set()),  # no prefix search: "leas" is not a word here
    ("-lessee", {1, 2, 5}),
    ("text:lessor", set()),  # no column filter: "text" is a word to find
    ("^lessee", {1, 2, 5}),
    ("NEAR(lessee lessor)", set()),  # "near" must occur
    ('"lessee', {1, 2, 5}),  # an unbalanced quote is just punctuation
    ("(lessor", {1, 2}),
    ('lessee" OR "roof', set()),  # quotes cannot close the builder's phrase: "or" is a word to find
])
def test_fts5_syntax_typed_by_a_user_is_literal_and_never_an_error(
    fts: sqlite3.Connection, typed: str, expected: set[int]
) -> None:
    assert hits(fts, typed) == expected


def test_unicode_words_hyphens_and_numbers(fts: sqlite3.Connection) -> None:
    assert hits(fts, "Müller") == {3}
    assert hits(fts, "co-operates") == {3}  # the pieces as a phrase, as the tokenizer split the text
    assert hits(fts, "clause 12.3") == {3}
    assert hits(fts, "time-barred six") == {5}


@pytest.mark.parametrize("typed", ["", "   ", '""', "*", "- + ^ ( ) : ,", '" "'])
def test_nothing_to_search_for_is_a_clear_400(typed: str) -> None:
    with pytest.raises(BadRequest) as info:
        fts_query(typed)
    assert info.value.code == "empty_query"
    assert "word" in info.value.detail  # says what to do, in words
