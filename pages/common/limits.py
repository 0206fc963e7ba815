"""Every bound on a user-controlled size, in one place.

One server answers a whole class on a small machine, so nothing a student types, uploads or
asks to train may grow without bound. At a bound the page runs; past it the student is told
which bound and which value, and nothing runs. Pages take the numbers for their widgets from
here, so the slider's end and the check's limit can never disagree.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from llm_core.data.user_text import UserTextError, read_user_text


class LimitError(ValueError):
    """A value outside its bound; the message is written for the student."""


@dataclass(frozen=True)
class Bound:
    """An inclusive range and the words to explain a value outside it."""

    minimum: int
    maximum: int
    describe: str  # "{value:,}" becomes the value, e.g. "Text is {value:,} characters long"

    def message(self, value: int) -> str | None:
        """Why `value` is refused, or None when it is within the bound."""
        if value > self.maximum:
            return f"{self.describe.format(value=value)}; the limit is {self.maximum:,}."
        if value < self.minimum:
            return f"{self.describe.format(value=value)}; the minimum is {self.minimum:,}."
        return None

    def over(self, value: int) -> str | None:
        """Why `value` is refused for passing the maximum, or None: for a box whose emptiness the page
        answers in its own words."""
        return self.message(value) if value > self.maximum else None

    def check(self, value: int) -> int:
        """Return `value` unchanged, or raise LimitError naming the bound and the value."""
        if (problem := self.message(value)) is not None:
            raise LimitError(problem)
        return value


# Text typed or uploaded. Model pages run every token through attention (quadratic in
# length), so they take less than the tokenizer pages, which only split text.
TEXT_CHARS = Bound(1, 2_000, "Text is {value:,} characters long")
TOKENIZER_TEXT_CHARS = Bound(1, 10_000, "Text is {value:,} characters long")
TOKENS = Bound(1, 512, "The text is {value:,} tokens long")
UPLOAD_BYTES = Bound(1, 1_000_000, "The file is {value:,} bytes")  # server.maxUploadSize is 1 MiB
# A corpus a student trains tokenizers on (uploaded or pasted): about the size of the built-in
# prose, so that training every tokenizer and the growth chart take seconds, not minutes.
CORPUS_CHARS = Bound(1, 300_000, "The corpus is {value:,} characters long")
# Tokenizer trainers slow down faster than linearly with a word's length: one 100,000-character
# word (no space or line break in it) keeps a core busy for tens of seconds, 300,000 for minutes.
CORPUS_WORD_CHARS = Bound(
    1, 1_000, "The corpus has a word (characters with no space or line break between them) of {value:,} characters"
)
# Pages that draw one heatmap row per token, for every head of every layer (MiniLM: 72 heatmaps).
SENTENCE_TOKENS = Bound(1, 32, "The sentence is {value:,} tokens long, special tokens included")
# Words placed in one embedding projection (each one a point, a t-SNE input and a row of cosines).
WORD_LIST = Bound(3, 150, "Different words in the list: {value:,}")  # a repeated word is one point
# Short boxes: a search in a vocabulary, one word to look up, a question for a tiny model.
SEARCH_CHARS = Bound(0, 100, "The search is {value:,} characters long")
WORD_CHARS = Bound(1, 40, "The word is {value:,} characters long")
TRY_SENTENCES = Bound(1, 20, "There are {value:,} sentences")  # each one a row, classified by three models
QUESTION_CHARS = Bound(1, 200, "The question is {value:,} characters long")
# Digits given to the tiny encoder-decoder (trained on 2 to 7; its block holds 16 tokens).
SEQ2SEQ_DIGITS = Bound(1, 10, "The digit sequence has {value:,} digits")

# Tokenizers and models a student may build and train.
VOCAB_SIZE = Bound(30, 8_000, "A vocabulary of {value:,} tokens was asked for")
N_LAYER = Bound(1, 6, "The model has {value:,} layers")
N_HEAD = Bound(1, 8, "The model has {value:,} attention heads")
N_EMBD = Bound(8, 256, "The embedding size is {value:,}")
TRAIN_STEPS = Bound(1, 2_000, "Training for {value:,} steps was asked for")
TRAIN_SECONDS = Bound(1, 60, "Training for {value:,} seconds was asked for")
GENERATE_TOKENS = Bound(1, 200, "Generating {value:,} tokens was asked for")

SEED = Bound(0, 2**31 - 1, "The seed is {value:,}")

# Trainings that may run at once in this server process. Each uses every torch thread, so a
# few at a time finish sooner than many sharing the cores.
CONCURRENT_TRAININGS = 2


def check_text(text: str, max_chars: int = TEXT_CHARS.maximum) -> str:
    """Typed text made safe to tokenize, or LimitError with a sentence saying what to change.

    The cleaning (lone surrogates, line ends, control characters, NFC; emoji, CJK and
    combining marks kept) and the refusal of empty or whitespace-only text are
    `llm_core.data.user_text`'s; this only phrases its verdict for the page.
    """
    try:
        return read_user_text(text, max_chars)
    except UserTextError as why:
        raise LimitError(_sentence(why)) from None


def read_upload(data: bytes, max_chars: int = TOKENIZER_TEXT_CHARS.maximum) -> str:
    """An uploaded file's text: size-checked, decoded as UTF-8 (binary refused), cleaned."""
    try:
        return read_user_text(data, max_chars, max_bytes=UPLOAD_BYTES.maximum)
    except UserTextError as why:
        raise LimitError(_sentence(why)) from None


def check_corpus(text: str) -> str:
    """A corpus already read by check_text or read_upload, refused when a word is too long to train on."""
    CORPUS_WORD_CHARS.check(max(map(len, text.split()), default=0))
    return text


def _sentence(why: Exception) -> str:
    message = str(why)
    return message[:1].upper() + message[1:] + "."


class Busy(RuntimeError):
    """Every training slot is taken; the message asks the student to retry."""


_training_slots = threading.BoundedSemaphore(CONCURRENT_TRAININGS)


@contextmanager
def training_slot() -> Iterator[None]:
    """Hold one of the server's training slots for the duration of a training run.

    Never waits: when all slots are taken it raises Busy at once, so a page can say so
    instead of freezing. The slot is released however the run ends (finished, stopped,
    or interrupted by a rerun).
    """
    if not _training_slots.acquire(blocking=False):
        raise Busy(
            f"The server is running as many trainings as it can at once ({CONCURRENT_TRAININGS}) for other "
            "students; try again in a moment."
        )
    try:
        yield
    finally:
        _training_slots.release()
