"""What a person typed -> a parsed query, and a parsed query -> an FTS5 expression that cannot be injected.

The syntax a lawyer expects, and nothing else:

* words: any of them may match (ranked: more of them, closer together, ranks higher); stop words ("the",
  "of"...) are never required and never make a passage a hit on their own;
* ``"quoted phrases"``: those words in that order (stemmed, like every word);
* ``prefix*``: any word beginning so (at least 2 letters before the star);
* ``-word`` / ``-"a phrase"`` / ``NOT word``: passages holding it are left out;
* ``a AND b`` (or ``+b``): both required; ``a OR b``: either (the default between words anyway).

Operators count only in capitals (``or`` is a word); anything else (``:``, ``^``, ``(``, ``NEAR``, stray quotes)
is punctuation. Terms reach FTS5 only inside double quotes and only made of word characters, so no input can
change the expression's structure, and no input raises: a query with nothing to search for is a 400
(:class:`~lexintel.errors.InvalidInput` ``empty_query``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lexintel.errors import InvalidInput

__all__ = ["STOP_WORDS", "Item", "Query", "parse", "quote", "words_of"]

_TOKEN = re.compile(r'(?P<sign>[-+]?)"(?P<phrase>[^"]*)"'
                    r"|(?P<sign2>[-+]?)(?P<word>[\w'\u2019.\-]*\w\*?|\*)", re.UNICODE)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

_STOP_TEXT = """
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
him his how i if in into is it its itself just me more most my no nor not now of off on once only or other our
out over own same she should so some such than that the their them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your
consider document documents whether mention state states specify include includes
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
"""Words never required. The last line holds the framing words of questions ("Consider ...; does the document
mention whether ..."), which say nothing about the passage wanted."""


def words_of(text: str) -> list[str]:
    """The words of ``text`` as the index's tokenizer splits them (letters and digits; case kept)."""
    return _WORD.findall(text)


def quote(word: str) -> str:
    """A term as an FTS5 string: only word characters reach here, quoted so it is never an operator."""
    return '"' + word.replace('"', '""') + '"'


@dataclass(frozen=True)
class Item:
    """A word (``prefix`` if it ended in ``*``) or a phrase (several words in order)."""

    words: tuple[str, ...]
    prefix: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    @property
    def is_stop(self) -> bool:
        return not self.is_phrase and not self.prefix and self.words[0].lower() in STOP_WORDS


@dataclass
class Query:
    """``groups``: alternatives (any may match), each a list of items that must all match; ``excluded``: items
    no hit may hold. ``terms``: the positive items in the order typed (for proximity and marking)."""

    text: str
    groups: list[list[Item]] = field(default_factory=list)
    excluded: list[Item] = field(default_factory=list)
    required: list[Item] = field(default_factory=list)

    @property
    def terms(self) -> list[Item]:
        return [item for group in self.groups for item in group] + self.required

    @property
    def plain(self) -> bool:
        """True when the query is only words and phrases (no AND/+): any-word ranking applies."""
        return not self.required and all(len(group) == 1 for group in self.groups)


_POSSESSIVE = re.compile(r"['\u2019]s?(?=\*?$)", re.IGNORECASE)


def _item(raw: str, is_phrase: bool) -> Item | None:
    prefix = not is_phrase and raw.endswith("*")
    if not is_phrase:
        raw = _POSSESSIVE.sub("", raw)  # "Motorola's", "AGProjects'": the name itself
    words = tuple(words_of(raw))
    if not words:
        return None
    if prefix and len(words[-1]) < 2:
        prefix = False  # "a*" would be every word starting with a: read it as the word
    if prefix and len(words) > 1:  # "co-oper*": the phrase with the last word as a prefix is rare; keep words
        prefix = False
    return Item(words, prefix)


def parse(text: str) -> Query:
    """Parse ``text`` (any string) into a :class:`Query`; raises ``empty_query`` when nothing is left to find."""
    query = Query(text)
    join_next = negate_next = False
    operators: list[str] = []
    for match in _TOKEN.finditer(text):
        phrase, word = match.group("phrase"), match.group("word")
        sign = match.group("sign") or match.group("sign2") or ""
        if word in ("AND", "OR", "NOT") and not sign:
            operators.append(word)
            if word == "AND" and query.groups:
                join_next = True
            elif word == "NOT":
                negate_next = True
            continue
        item = _item(phrase if phrase is not None else (word or ""), phrase is not None)
        if item is None:
            continue
        if sign == "-" or negate_next:
            query.excluded.append(item)
        elif sign == "+":
            query.required.append(item)
        elif join_next and query.groups:
            query.groups[-1].append(item)
        else:
            query.groups.append([item])
        join_next = negate_next = False
    if not query.groups and not query.required and not query.excluded and operators:
        query.groups = [[Item((word,))] for word in operators]  # "AND OR NOT" alone: the words themselves
    _drop_stop_words(query)
    if not query.groups and not query.required:
        if query.excluded:
            raise InvalidInput("empty_query", "Say what to find as well as what to leave out (a word without '-').")
        raise InvalidInput("empty_query", "Type at least one word to search for.")
    return query


def _drop_stop_words(query: Query) -> None:
    """Stop words are never required: drop them from alternatives and AND-groups, unless nothing else is left
    ("to be or not to be" still searches)."""
    content = [[item for item in group if not item.is_stop] for group in query.groups]
    if any(content) or query.required:
        query.groups = [group for group in content if group]
