"""The query parser and the FTS5 expression it builds (``lexintel.search.query``/``terms``), checked against a
real in-memory FTS5 table with the index's tokenizer: any word matches, a "quoted phrase" must occur in order,
prefixes, AND/OR/NOT/-, and nothing a user types is an FTS5 operator or makes SQLite raise (a 500)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator

import pytest

from lexintel.errors import BadRequest
from lexintel.search.fusion import rrf
from lexintel.search.query import parse
from lexintel.search.terms import expression, min_window

ROWS = {
    1: "The lessee shall indemnify the lessor against all claims.",
    2: "The lessor shall repair the roof; the lessee pays for damage.",
    3: "Herr Müller co-operates under clause 12.3 of the lease.",
    4: "Nothing in this lease creates a partnership.",
    5: "Claims against the lessee are time-barred after six years.",
}
VOCAB = {"less": ["lessee", "lessor"], "partn": ["partnership"]}


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", ROWS.items())
    yield conn
    conn.close()


def hits(conn: sqlite3.Connection, q: str) -> set[int]:
    expr = expression(parse(q), VOCAB)
    assert expr is not None
    return {row[0] for row in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,))}


def test_any_word_matches_stemmed_in_any_case(fts: sqlite3.Connection) -> None:
    assert hits(fts, "lessee") == {1, 2, 5}
    assert hits(fts, "CLAIM roofs") == {1, 2, 5}
    assert hits(fts, "indemnified") == {1}  # the stem of indemnify


def test_a_quoted_phrase_must_occur_in_order(fts: sqlite3.Connection) -> None:
    assert hits(fts, '"the lessee shall"') == {1}
    assert hits(fts, '"shall the lessee"') == set()
    assert hits(fts, '"against the lessee" AND claims') == {5}


@pytest.mark.parametrize(("typed", "expected"), [
    ("lease OR partnership", {3, 4}),
    ("lessee AND roof", {2}),
    ("lessee +roof", {2}),
    ("lessee NOT roof", {1, 5}),
    ("lessee -roof", {1, 5}),
    ("less*", {1, 2, 5}),  # expanded to the indexed words it begins
    ("partn*", {4}),
    ("text:lessor", {1, 2}),  # no column filter: "text" is a word to find (none has it)
    ("^lessee", {1, 2, 5}),
    ("NEAR(lessee lessor)", {1, 2, 5}),  # "near" is a word here, not an operator
    ('"lessee', {1, 2, 5}),  # an unbalanced quote is punctuation
    ("(lessor", {1, 2}),
    ('lessee" OR "roof', {1, 2, 5}),
    ("AND OR NOT", set()),  # only operators: the words themselves
])
def test_operators_and_fts5_syntax_typed_by_a_user(fts: sqlite3.Connection, typed: str, expected: set[int]) -> None:
    assert hits(fts, typed) == expected


def test_unicode_words_hyphens_and_numbers(fts: sqlite3.Connection) -> None:
    assert hits(fts, "Muller") == {3}
    assert hits(fts, '"co-operates"') == {3}
    assert hits(fts, '"clause 12.3"') == {3}


def test_stop_words_are_never_required() -> None:
    query = parse("Does the lessee have to pay for the roof?")
    assert [item.words for item in query.terms] == [("lessee",), ("pay",), ("roof",)]
    assert [item.words for item in parse("to be or not to be").terms][:2] == [("to",), ("be",)]


@pytest.mark.parametrize("typed", ["", "   ", '""', "*", "- + ^ ( ) : ,", '" "', "?!"])
def test_nothing_to_search_for_is_a_clear_400(typed: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse(typed)
    assert info.value.code == "empty_query"
    assert "word" in info.value.detail


def test_only_exclusions_say_what_is_missing() -> None:
    with pytest.raises(BadRequest) as info:
        parse("-roof")
    assert "leave out" in info.value.detail


def test_random_input_never_makes_fts5_raise(fts: sqlite3.Connection) -> None:
    rng = random.Random(7)
    alphabet = list('ab lessee"*-+:^(){}\'\u2019,.;/%_=<>&|~!?0123456789éü\u00a0ANDORNOTNEAR')
    for _ in range(2000):
        typed = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        try:
            query = parse(typed)
        except BadRequest:
            continue
        expr = expression(query, VOCAB)
        if expr is not None:
            fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (expr,)).fetchall()  # raises on a syntax error


def test_min_window_and_rrf() -> None:
    assert min_window([[0, 10], [3], [12]]) == 10
    assert min_window([[1], []]) is None
    fused = rrf([["a", "b", "c"], ["c", "a"]])
    assert [item for item, _ in fused] == ["a", "c", "b"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    # weighted: the second list's vote counts half; with weight 0 its own items only follow the others
    half = rrf([["a", "b"], ["b", "c"]], weights=(1.0, 0.5))
    assert [item for item, _ in half] == ["b", "a", "c"] and half[0][1] == pytest.approx(1 / 62 + 0.5 / 61)
    assert [item for item, _ in rrf([["a", "b"], ["c", "b"]], weights=(1.0, 0.0))] == ["a", "b", "c"]
