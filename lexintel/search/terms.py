"""A parsed query as FTS5 expressions, and the query's words matched against a passage's words in Python.

Both sides use the index's own stemmer (:func:`lexintel.store.search.stems`), so what is marked in a snippet,
and what counts as "all words" or "close together", is exactly what the index matched.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Sequence

from lexintel.search.query import Item, Query, quote
from lexintel.store import search as store

__all__ = ["PREFIX_WORDS", "TOKEN_CACHE", "Matcher", "Tokens", "expression", "expressions_for_prefixes",
           "min_window", "name_expression", "tokens", "tokens_many"]

PREFIX_WORDS = 64
"""A prefix is searched as the indexed words it begins (``indemnit*`` -> indemnity, indemnities, ...), up to
this many; past that it is searched as a prefix of stems (which can miss a few inflections)."""


def _render(item: Item, expansions: dict[str, list[str]]) -> str:
    if item.is_phrase:
        return quote(" ".join(item.words))
    word = item.words[0]
    if item.prefix:
        found = expansions.get(word.lower())
        if found:
            return "(" + " OR ".join(quote(w) for w in found) + ")"
        return quote(word) + " *"
    return quote(word)


def expressions_for_prefixes(conn: sqlite3.Connection, query: Query) -> dict[str, list[str]]:
    """``prefix -> the indexed words it begins`` for each prefix item (empty when there are too many)."""
    out: dict[str, list[str]] = {}
    for item in query.terms + query.excluded:
        if item.prefix:
            key = item.words[0].lower()
            words = store.vocabulary(conn, _fold(key), PREFIX_WORDS + 1)
            out[key] = words if len(words) <= PREFIX_WORDS else []
    return out


def _fold(word: str) -> str:
    """Lowercase without diacritics, as the vocabulary stores words."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))


def expression(query: Query, expansions: dict[str, list[str]], skip: frozenset[Item] = frozenset()) -> str | None:
    """The FTS5 expression of ``query`` without the items in ``skip`` (common words ranked in Python), or None
    when nothing positive is left."""
    groups = []
    for group in query.groups:
        kept = [item for item in group if item not in skip]
        if kept:
            groups.append("(" + " AND ".join(_render(item, expansions) for item in kept) + ")")
    required = [_render(item, expansions) for item in query.required]
    if not groups and not required:
        return None
    expr = "(" + " OR ".join(groups) + ")" if groups else ""
    if required:
        expr = " AND ".join(([expr] if expr else []) + [f"({r})" for r in required])
    if query.excluded:
        expr = f"({expr}) NOT (" + " OR ".join(_render(item, expansions) for item in query.excluded) + ")"
    return expr


def name_expression(query: Query) -> str | None:
    """Any word of the query as the start of a word of a document's or case's name (names run words together:
    ``ExcelerateStandardNDAFormat``); words under 3 letters must match whole."""
    words = dict.fromkeys(w.lower() for item in query.terms for w in item.words)
    return " OR ".join(quote(w) + (" *" if len(w) >= 3 else "") for w in words) or None


class Tokens:
    """A text's words: their lowercased forms and stems, and (worked out when first asked for) their character
    spans and where each stem occurs. Re-ranking needs only the words of each candidate; the spans are for the
    few hits whose snippet is shown."""

    __slots__ = ("_spans", "_where", "lower", "stems", "text")

    def __init__(self, text: str, lower: list[str], stems: list[str]) -> None:
        self.text, self.lower, self.stems = text, lower, stems
        self._spans: list[tuple[int, int]] | None = None
        self._where: dict[str, list[int]] | None = None

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Each word's ``(start, end)`` in the text (same order as :attr:`lower`)."""
        if self._spans is None:
            self._spans = [m.span() for m in _WORDS.finditer(self.text)]
        return self._spans

    @property
    def where(self) -> dict[str, list[int]]:
        """``stem -> the word indexes holding it``."""
        if self._where is None:
            where: dict[str, list[int]] = {}
            for i, stem in enumerate(self.stems):
                found = where.get(stem)
                if found is None:
                    where[stem] = [i]
                else:
                    found.append(i)
            self._where = where
        return self._where


_WORDS = re.compile(r"[^\W_]+")


def tokens(text: str) -> Tokens:
    """Tokenize ``text`` like the index does and stem every word (cached: see :func:`tokens_many`)."""
    return tokens_many([text])[0]


def tokens_many(texts: Sequence[str]) -> list[Tokens]:
    """:func:`tokens` of each text, the words never stemmed before sent to the stemmer in one batch (a search
    re-ranks a hundred passages; one SQLite round trip per passage cost more than the tokenizing). Cached by
    text, oldest first out past :data:`TOKEN_CACHE` texts: passages repeat across searches, and a passage's
    text never changes. Lazy parts of :class:`Tokens` are filled in at most once per text; two threads
    filling one at once compute the same value."""
    out: list[Tokens | None] = [_tokens.get(text) for text in texts]
    todo = [i for i, found in enumerate(out) if found is None]
    if todo:
        lowers = [_lower_words(texts[i]) for i in todo]
        stems = store.stem_each([w for words in lowers for w in words])
        at = 0
        with _tokens_lock:
            for i, words in zip(todo, lowers, strict=True):
                made = out[i] = Tokens(texts[i], words, stems[at : at + len(words)])
                at += len(words)
                _tokens[texts[i]] = made
            while len(_tokens) > TOKEN_CACHE:
                del _tokens[next(iter(_tokens))]
    return [t for t in out if t is not None]


def _lower_words(text: str) -> list[str]:
    """The words of ``text`` lowercased. When every letter and digit in it is ASCII (nearly every passage:
    curly quotes and dashes are not word characters) the text is lowercased first and split on ``[a-z0-9]+``,
    which finds the same words three times faster than the Unicode pattern word by word."""
    if text.isascii() or _NON_ASCII_WORD.search(text) is None:
        return _ASCII_WORDS.findall(text.lower())
    return [w.lower() for w in _WORDS.findall(text)]


_ASCII_WORDS = re.compile(r"[a-z0-9]+")
_NON_ASCII_WORD = re.compile(r"(?![\x00-\x7f])[^\W_]")
TOKEN_CACHE = 20_000
_tokens: dict[str, Tokens] = {}
_tokens_lock = threading.Lock()


class Matcher:
    """The query's positive items as stems, checked against a passage's tokens."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)
        words = [w.lower() for item in self.items for w in item.words]
        stem = store.stems(words)
        self.stems: list[tuple[str, ...]] = [tuple(stem[w.lower()] for w in item.words) for item in self.items]

        self._firsts = frozenset(st[0] for item, st in zip(self.items, self.stems, strict=True) if not item.prefix)
        self._folds = [_fold(item.words[0]) if item.prefix else "" for item in self.items]
        self._prefixes = {fold for fold in self._folds if fold}

    def positions(self, toks: Tokens) -> list[list[int]]:
        """For each item, the token positions where it starts. One pass over the passage's stems picks out the
        query's (re-ranking asks this of a hundred passages per search; a stem -> positions map of every word
        of each would cost more than the rest of the search)."""
        stems = toks.stems
        firsts = self._firsts
        at: dict[str, list[int]] = {}
        for i in [i for i, stem in enumerate(stems) if stem in firsts]:
            found = at.get(stems[i])
            if found is None:
                at[stems[i]] = [i]
            else:
                found.append(i)
        starts: dict[str, list[int]] = {}
        for prefix in self._prefixes:
            starts[prefix] = [i for i, w in enumerate(toks.lower)
                              if w.startswith(prefix) or (not w.isascii() and _fold(w).startswith(prefix))]
        out = []
        for item, want, fold in zip(self.items, self.stems, self._folds, strict=True):
            if item.prefix:
                out.append(starts[fold])
            elif len(want) == 1:
                out.append(at.get(want[0], []))
            else:
                n = len(want)
                out.append([i for i in at.get(want[0], []) if tuple(stems[i : i + n]) == want])
        return out

    def marked(self, toks: Tokens) -> set[int]:
        """Token indexes to mark in a snippet."""
        out: set[int] = set()
        for item, where in zip(self.items, self.positions(toks), strict=True):
            for start in where:
                out.update(range(start, start + len(item.words)))
        return out


def min_window(positions: Iterable[list[int]]) -> int | None:
    """The smallest token window holding one occurrence of every item (None if one is missing)."""
    lists = list(positions)
    if not lists or any(not p for p in lists):
        return None
    events = sorted((pos, k) for k, plist in enumerate(lists) for pos in plist)
    need, best, left = len(lists), None, 0
    have: dict[int, int] = {}
    for pos, k in events:
        have[k] = have.get(k, 0) + 1
        while len(have) == need:
            lpos, lk = events[left]
            width = pos - lpos + 1
            best = width if best is None or width < best else best
            have[lk] -= 1
            if not have[lk]:
                del have[lk]
            left += 1
    return best
