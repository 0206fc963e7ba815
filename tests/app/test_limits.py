"""Bounds on user input: at the bound it runs, past it the message names the bound and the value."""

from __future__ import annotations

import threading

import pytest

from pages.common import limits


def test_at_the_bound_a_value_passes_and_past_it_the_message_names_both_numbers():
    bound = limits.TOKENIZER_TEXT_CHARS
    assert bound.check(10_000) == 10_000
    assert bound.message(10_000) is None
    with pytest.raises(limits.LimitError) as refused:
        bound.check(12_345)
    assert str(refused.value) == "Text is 12,345 characters long; the limit is 10,000."


def test_below_the_minimum_the_message_names_the_minimum():
    assert limits.N_LAYER.message(0) == "The model has 0 layers; the minimum is 1."


def test_over_speaks_only_past_the_maximum():
    assert limits.WORD_CHARS.over(0) is None and limits.WORD_CHARS.over(40) is None  # empty: the page's own words
    assert limits.WORD_CHARS.over(41) == "The word is 41 characters long; the limit is 40."


def test_every_bound_is_a_non_empty_range():
    bounds = [value for value in vars(limits).values() if isinstance(value, limits.Bound)]
    assert len(bounds) >= 10
    assert all(0 <= b.minimum <= b.maximum for b in bounds)
    assert limits.TEXT_CHARS.maximum < limits.TOKENIZER_TEXT_CHARS.maximum  # attention is quadratic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the cat sat", "the cat sat"),
        ("héllo 🙂 世界 e\u0301", "héllo 🙂 世界 é"),  # emoji, CJK kept; combining mark composed (NFC)
        ("a\r\nb\x07c\x00", "a\nbc"),  # line ends unified, control characters dropped
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
    ],
)
def test_check_text_cleans_what_it_can(text, expected):
    assert limits.check_text(text) == expected


@pytest.mark.parametrize(
    ("text", "max_chars", "words"),
    [
        ("", 100, "empty"),
        ("  \n\t ", 100, "whitespace"),
        ("x" * 2_001, 2_000, "2,001 characters; the limit is 2,000"),
    ],
)
def test_check_text_refuses_with_a_sentence_saying_what_to_change(text, max_chars, words):
    with pytest.raises(limits.LimitError) as refused:
        limits.check_text(text, max_chars)
    message = str(refused.value)
    assert words in message and message[0].isupper() and message.endswith(".")


def test_uploads_are_size_checked_and_binary_files_refused():
    assert limits.read_upload("naïve café".encode()) == "naïve café"
    with pytest.raises(limits.LimitError, match="PNG"):
        limits.read_upload(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    with pytest.raises(limits.LimitError, match="limit is 1,000,000"):
        limits.read_upload(b"a" * 1_000_001, max_chars=10_000_000)


def test_training_slots_answer_busy_at_once_and_free_up_however_the_run_ends():
    held = [limits.training_slot() for _ in range(limits.CONCURRENT_TRAININGS)]
    for slot in held:
        slot.__enter__()
    try:
        with pytest.raises(limits.Busy, match="try again in a moment"), limits.training_slot():
            pass
    finally:
        for slot in held:
            slot.__exit__(None, None, None)

    with pytest.raises(RuntimeError, match="stopped"), limits.training_slot():
        raise RuntimeError("stopped")  # a run interrupted by an error still gives its slot back
    with limits.training_slot():
        pass


def test_training_slots_are_shared_by_every_thread_of_the_server():
    entered, release = threading.Barrier(limits.CONCURRENT_TRAININGS + 1), threading.Event()

    def train() -> None:
        with limits.training_slot():
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=train) for _ in range(limits.CONCURRENT_TRAININGS)]
    for t in threads:
        t.start()
    entered.wait()  # every slot is now held by another session's thread
    try:
        with pytest.raises(limits.Busy), limits.training_slot():
            pass
    finally:
        release.set()
        for t in threads:
            t.join()
