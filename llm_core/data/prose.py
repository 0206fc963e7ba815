"""Real English prose that every Python installation carries: the text of `pydoc_data.topics`.

The app cannot download a corpus, but CPython ships the language reference as plain text for
`help()`. Its sentences are real technical English (plurals, "-ing" forms, long rare words),
which is what a subword tokenizer needs to show why it splits words. Code samples, grammar
rules and headings are dropped so that what remains reads as prose.
"""

from __future__ import annotations

import re
from functools import lru_cache

_UNDERLINE = re.compile(r"^\s*([*=\-~^])\1{2,}\s*$")  # "*****" or "=====" under a heading
_EMPHASIS = re.compile(r"\*{1,2}([^*\s][^*]*?)\*{1,2}")  # *word*, **PEP 8**
_PROSE_WORD = re.compile(r"[(\"“‘]?[A-Za-z][A-Za-z’'-]*[)\"”’]?[.,;:?!]?")
_LIST_MARK = re.compile(r"^(\* |\d+\. |\[\d+\] )")


def _is_prose(paragraph: str) -> bool:
    """Mostly ordinary words: at least six, and seven in ten look like English words."""
    words = paragraph.split()
    if len(words) < 6 or "::=" in paragraph or ">>>" in paragraph:
        return False
    return sum(bool(_PROSE_WORD.fullmatch(w)) for w in words) >= 0.7 * len(words)


def _clean(paragraph: str) -> str:
    lines = [line.strip() for line in paragraph.splitlines() if not _UNDERLINE.match(line)]
    text = ""
    for line in lines:  # re-join hard-wrapped lines; "built-\nin" was one word
        if text.endswith("-") and text[-2:-1].isalpha():
            text += line
        else:
            text += " " + line
    text = _LIST_MARK.sub("", text.strip())
    text = _EMPHASIS.sub(r"\1", text)
    return " ".join(text.split())


@lru_cache(maxsize=1)
def prose_paragraphs() -> tuple[str, ...]:
    """The cleaned paragraphs, in a fixed order (topics sorted by name), duplicates removed."""
    from pydoc_data.topics import topics

    paragraphs: dict[str, None] = {}
    for name in sorted(topics):
        for raw in re.split(r"\n\s*\n", topics[name]):
            if any(_UNDERLINE.match(line) for line in raw.splitlines()):
                continue  # a heading
            paragraph = _clean(raw)
            if _is_prose(paragraph):
                paragraphs[paragraph] = None
    return tuple(paragraphs)


@lru_cache(maxsize=1)
def prose_corpus() -> str:
    """All cleaned paragraphs, separated by blank lines (a few hundred kB of English)."""
    return "\n\n".join(prose_paragraphs())
