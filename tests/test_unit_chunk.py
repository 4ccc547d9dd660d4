"""Chunking, through its public functions only: what passages come out of a page's text.

Fast (no server, no files). The properties a refactor must keep: passages never exceed the size, never cross
a page, cover the page's text in order, overlap by about the configured amount starting on a word, and cut
at a paragraph break, else a sentence end, else a space, when one is in the last half of the window.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from lexintel.pipeline.chunk import chunk_page, chunk_pages, normalize


def sentences(count: int, start: int = 1) -> str:
    """Distinct, numbered sentences, so every passage has exactly one place in the text."""
    return " ".join(f"Clause {n} binds the lessee to term {n * 7} of the lease." for n in range(start, start + count))


def spans(text: str, passages: list[str]) -> list[tuple[int, int]]:
    """Where each passage sits in ``text`` (each must be a verbatim slice, later than the previous one)."""
    found: list[tuple[int, int]] = []
    at = 0
    for passage in passages:
        begin = text.find(passage, at)
        assert begin >= 0, f"passage is not a slice of the page text after offset {at}: {passage[:60]!r}"
        found.append((begin, begin + len(passage)))
        at = begin + 1
    return found


def test_empty_and_blank_pages_give_no_passages() -> None:
    assert chunk_page("", 1200, 200) == []
    assert chunk_page(" \n\t\f\r\n \u00a0 ", 1200, 200) == []
    assert chunk_pages([(1, ""), (2, "   ")], 1200, 200) == []


def test_a_short_page_is_one_passage_of_its_normalised_text() -> None:
    assert chunk_page("  Hello,\t\tworld.  \r\n", 1200, 200) == ["Hello, world."]


@pytest.mark.parametrize(("size", "overlap"), [(1200, 200), (300, 60), (100, 0), (150, 74)])
def test_passages_are_bounded_ordered_and_cover_the_whole_page(size: int, overlap: int) -> None:
    text = normalize(sentences(80))
    passages = chunk_page(text, size, overlap)
    assert len(passages) > 1
    assert all(0 < len(p) <= size for p in passages)
    where = spans(text, passages)
    assert where[0][0] == 0 and where[-1][1] == len(text)
    for (_, end), (begin, _) in pairwise(where):
        assert begin <= end + 1, "a gap between passages: text lost"  # +1: the space at a cut is dropped


def test_consecutive_passages_overlap_by_at_most_the_overlap_and_start_on_a_word() -> None:
    text = normalize(sentences(60))
    passages = chunk_page(text, 400, 100)
    where = spans(text, passages)
    for (_, end), (begin, _) in pairwise(where):
        assert 0 < end - begin <= 100, (end - begin)
        assert text[begin - 1] == " ", "a passage after the first begins mid-word"


def test_without_overlap_passages_partition_the_text() -> None:
    text = normalize(sentences(40))
    passages = chunk_page(text, 200, 0)
    assert " ".join(passages) == text


def test_cuts_prefer_a_paragraph_break_then_a_sentence_end_then_a_space() -> None:
    first = "A" * 10 + " " + "word " * 60  # ~310 characters of one paragraph
    text = f"{first.strip()}\n\nSecond paragraph. " + sentences(5)
    passages = chunk_page(text, 400, 50)
    assert passages[0] == first.strip(), "did not cut at the paragraph break"

    no_break = "Intro words here. " + "plain " * 40 + "end of sentence. " + "tail " * 60
    cut = chunk_page(no_break, 300, 50)[0]
    assert cut.endswith("end of sentence."), cut[-40:]

    spaces_only = "word " * 200
    assert all(p.split(" ") == ["word"] * len(p.split(" ")) for p in chunk_page(spaces_only, 120, 20))


def test_text_without_any_break_is_cut_hard_and_still_terminates() -> None:
    blob = "x" * 2500
    passages = chunk_page(blob, 1000, 100)
    assert all(len(p) <= 1000 for p in passages)
    assert passages[0] == "x" * 1000
    assert sum(len(p) for p in passages) >= 2500  # nothing lost (overlap may repeat some)


def test_normalize_keeps_paragraphs_and_drops_layout_noise() -> None:
    raw = "Title\r\n\r\n\r\n  First\u00a0\u00a0line \t of  text  \rSecond line\fNext page  \n \n\n Last"
    assert normalize(raw) == "Title\n\nFirst line of text\nSecond line\nNext page\n\nLast"


def test_chunk_pages_keeps_page_numbers_and_never_crosses_a_page() -> None:
    pages = [(1, sentences(30, 1)), (2, ""), (3, "Short page three."), (7, sentences(30, 100))]
    out = chunk_pages(pages, 300, 50)
    assert [page for page, _ in out] == sorted(page for page, _ in out)
    assert {page for page, _ in out} == {1, 3, 7}
    for page, passage in out:
        source = normalize(dict(pages)[page])
        assert passage in source, f"passage of page {page} is not from page {page}"
    assert (3, "Short page three.") in out
    assert [p for page, p in out if page == 1] == chunk_page(pages[0][1], 300, 50)
