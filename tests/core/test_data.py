"""The built-in data: reproducible with a seed, and delivering what each generator promises."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from llm_core.data import (
    SEQUENCE_TASKS,
    VOCABULARY,
    WORD_CLASSES,
    UserTextError,
    few_shot_corpus,
    few_shot_episodes,
    few_shot_prompt,
    instruction_pairs,
    instruction_split,
    nsp_pairs,
    preference_pairs,
    prose_corpus,
    prose_paragraphs,
    read_user_text,
    sentiment_examples,
    sentiment_rule,
    sequence_pairs,
    solve,
    synthetic_corpus,
    synthetic_sentences,
    word_class,
)
from llm_core.data import synthetic as world

# --- the synthetic world ------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> str:
    return synthetic_corpus(300_000, seed=0)


def test_vocabulary_is_modest_lowercase_and_classes_are_disjoint():
    assert 150 <= len(VOCABULARY) <= 300
    assert all(w == w.lower() and " " not in w for w in VOCABULARY)
    assert sum(len(words) for words in WORD_CLASSES.values()) == len(set(VOCABULARY))
    assert {"animal", "food", "color", "place", "action", "positive", "negative", "name", "pronoun",
            "function", "punctuation"} <= set(WORD_CLASSES)  # fmt: skip
    assert word_class("cat") == word_class("cats") == word_class("mice") == "animal"
    assert word_class("eats") == word_class("eat") == "action"
    assert word_class("apple") == "food" and word_class("red") == "color" and word_class("park") == "place"
    assert word_class("wonderful") == "positive" and word_class("awful") == "negative"
    assert word_class("anna") == "name" and word_class("it") == "pronoun" and word_class(".") == "punctuation"
    assert word_class("xylophone") is None


def test_generators_are_reproducible_with_a_seed():
    assert synthetic_sentences(50, seed=3) == synthetic_sentences(50, seed=3)
    assert synthetic_sentences(50, seed=3) != synthetic_sentences(50, seed=4)
    assert synthetic_corpus(5_000, seed=1) == synthetic_corpus(5_000, seed=1)
    assert sentiment_examples(40, seed=2) == sentiment_examples(40, seed=2) != sentiment_examples(40, seed=5)
    assert nsp_pairs(40, seed=2) == nsp_pairs(40, seed=2) != nsp_pairs(40, seed=5)
    assert preference_pairs(seed=1) == preference_pairs(seed=1)
    assert instruction_split(seed=1) == instruction_split(seed=1) != instruction_split(seed=2)
    assert sequence_pairs("sort", 20, seed=1) == sequence_pairs("sort", 20, seed=1) != sequence_pairs("sort", 20, 2)
    assert few_shot_episodes(20, seed=1) == few_shot_episodes(20, seed=1)


def test_one_megabyte_on_demand():
    text = synthetic_corpus(1_000_000, seed=7)
    assert len(text) >= 1_000_000
    assert len(text) < 1_000_000 + 200  # whole lines, not much more than asked
    assert text == text.strip() and "\n\n" not in text


def test_corpus_uses_only_the_vocabulary_and_every_class(corpus):
    words = corpus.split()
    counts = Counter(words)
    assert set(counts) <= set(VOCABULARY)
    for cls in ("animal", "food", "color", "place", "action", "positive", "negative", "adjective", "name",
                "pronoun", "number", "function", "punctuation"):  # fmt: skip
        assert any(counts[w] for w in WORD_CLASSES[cls]), cls
    assert len(counts) >= 0.8 * (len(VOCABULARY) - len(WORD_CLASSES["dialogue"]))
    assert all(line.endswith(" .") for line in corpus.splitlines())


def test_subject_verb_agreement(corpus):
    """Right after an animal or a name, a verb agrees in number: "the cat eats", "the cats eat"."""
    third_person = {**world.TRANSITIVE_VERBS, **world.INTRANSITIVE_VERBS}  # eats -> eat
    plural_form = set(third_person.values())
    singular_nouns = set(world.ANIMALS) | set(world.NAMES)
    plural_nouns = set(world.ANIMALS.values())
    seen = Counter()
    for line in corpus.splitlines():
        words = line.split()
        for noun, verb in zip(words, words[1:], strict=False):
            if noun in singular_nouns and (verb in third_person or verb in plural_form):
                assert verb in third_person, line
                seen["singular"] += 1
            elif noun in plural_nouns and (verb in third_person or verb in plural_form):
                assert verb in plural_form, line
                seen["plural"] += 1
    assert seen["singular"] > 1000 and seen["plural"] > 300


def test_pronouns_refer_back_to_the_subject(corpus):
    """In "X is hungry , so it eats ..." the pronoun fits X: it / they / she / he."""
    checked = 0
    for line in corpus.splitlines():
        m = re.match(r"(.+?) (is|are) (hungry|tired) , so (\w+) ", line)
        if not m:
            continue
        head = m.group(1).split()[-1]
        expected = world.NAMES.get(head) or ("they" if head in world.ANIMALS.values() else "it")
        assert m.group(4) == expected, line
        checked += 1
    assert checked > 200


def test_the_world_facts_dominate(corpus):
    """Each animal is said to eat its own food more often than any other food."""
    singular = {plural: food for food, plural in world.COUNTABLE_FOODS.items()}
    for animal, (food, _, _) in world.ANIMAL_FACTS.items():
        eaten = Counter()
        for clause in re.findall(rf"\b{animal} eats ([^.,]*)", corpus):
            first_food = next(w for w in clause.split() if word_class(w) == "food")
            eaten[singular.get(first_food, first_food)] += 1
        assert eaten.most_common(1)[0][0] == singular.get(food, food), (animal, eaten)


# --- labelled variants --------------------------------------------------------------------

POSITIVE = set(world.ANTONYMS)
NEGATIVE = set(world.ANTONYMS.values())


def reference_sentiment(text: str) -> int:
    """Written again here, independently: last sentiment word decides; "not" right before flips it."""
    words = text.split()
    last = max(i for i, w in enumerate(words) if w in POSITIVE | NEGATIVE)
    return int((words[last] in POSITIVE) != (words[last - 1] == "not"))


def test_sentiment_is_balanced_and_follows_its_rule():
    examples = sentiment_examples(1000, seed=0)
    assert Counter(e.label for e in examples) == {0: 500, 1: 500}
    assert all(reference_sentiment(e.text) == e.label == sentiment_rule(e.text) for e in examples)
    assert len({e.text for e in examples}) > 800
    # not a one-keyword task: "contains a positive word" is a poor classifier
    keyword = sum(int(any(w in POSITIVE for w in e.text.split())) == e.label for e in examples) / len(examples)
    assert keyword < 0.85
    assert any("not" in e.text.split() for e in examples) and any(" but " in e.text for e in examples)


def test_instruction_answers_are_the_world_facts():
    pairs = instruction_pairs()
    lookup = {p.instruction: p.answer for p in pairs}
    assert len(lookup) == len(pairs) >= 150  # one answer per question
    assert lookup["what does the cat eat ?"] == "fish"
    assert lookup["what color is the apple ?"] == "red"
    assert lookup["where does the duck live ?"] == "lake"
    assert lookup["what is the plural of mouse ?"] == "mice"
    assert lookup["what is the singular of berries ?"] == "berry"
    assert lookup["what is the opposite of awful ?"] == "wonderful"
    assert lookup["what type of word is park ?"] == "place"
    assert all(p.answer in VOCABULARY and len(p.answer.split()) == 1 for p in pairs)
    assert all(set(p.instruction.split()) <= set(VOCABULARY) for p in pairs)


def test_instruction_split_holds_out_some_of_every_kind():
    train, test = instruction_split(test_fraction=0.2, seed=0)
    assert not set(train) & set(test)
    assert sorted(train + test, key=str) == sorted(instruction_pairs(), key=str)
    assert 0.15 < len(test) / (len(train) + len(test)) < 0.25
    kinds = {p.kind for p in instruction_pairs()}
    assert {p.kind for p in train} == kinds == {p.kind for p in test}


def test_preference_pairs_are_well_formed():
    pairs = preference_pairs(seed=0)
    assert {p.kind for p in pairs} == {"polite", "safe"}
    for p in pairs:
        assert p.prompt.endswith(" ?") and p.chosen != p.rejected
        assert set(f"{p.prompt} {p.chosen} {p.rejected}".split()) <= set(VOCABULARY), p
    unsafe = [p for p in pairs if "chocolate" in p.prompt]
    assert unsafe and all(p.chosen.startswith("no ,") and p.rejected.startswith("yes ,") for p in unsafe)
    # the safe answer is sometimes "yes": refusing everything is not what is preferred
    assert any(p.kind == "safe" and p.chosen.startswith("yes ,") for p in pairs)
    assert any("stupid" in p.rejected or "go away" in p.rejected for p in pairs if p.kind == "polite")


def test_next_sentence_pairs_are_balanced_and_coherent():
    pairs = nsp_pairs(600, seed=0)
    assert Counter(p.is_next for p in pairs) == {0: 300, 1: 300}
    for p in pairs:
        assert p.first != p.second and p.first.endswith(" .") and p.second.endswith(" .")
        assert set(f"{p.first} {p.second}".split()) <= set(VOCABULARY)
    # a real next sentence repeats a noun of the first one (place or food); a random one rarely does
    def shares_noun(p):
        nouns = set(world.PLACES) | set(world.WORD_CLASSES["food"])
        return bool(set(p.first.split()) & set(p.second.split()) & nouns)

    assert all(shares_noun(p) for p in pairs if p.is_next)
    assert sum(shares_noun(p) for p in pairs if not p.is_next) < 30


# --- sequence and in-context tasks --------------------------------------------------------


def test_sequence_tasks_are_solved_exactly():
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    for task in SEQUENCE_TASKS:
        for src, tgt in sequence_pairs(task, 200, seed=1, min_len=2, max_len=7):
            digits = src.split()
            assert 2 <= len(digits) <= 7 and all(d in "0123456789" for d in digits)
            expected = {"copy": digits, "reverse": list(reversed(digits)), "sort": sorted(digits, key=int),
                        "spell": [words[int(d)] for d in digits]}[task]  # fmt: skip
            assert tgt == " ".join(expected)
    with pytest.raises(ValueError, match="unknown task"):
        solve("shuffle", "1 2")


def test_few_shot_prompt_format():
    assert few_shot_prompt([("3 1 2", "1 2 3"), ("5 4", "4 5")], "9 0 7") == "3 1 2 = 1 2 3 ; 5 4 = 4 5 ; 9 0 7 ="
    assert few_shot_prompt([], "9 0 7", task="sort") == "sort : 9 0 7 ="


def test_few_shot_episodes_hold_what_they_say():
    episodes = few_shot_episodes(400, seed=0, shots=(0, 1, 2, 4), name_task=0.5)
    assert {e.n_shots for e in episodes} == {0, 1, 2, 4} and {e.task for e in episodes} == set(SEQUENCE_TASKS)
    named = 0
    for e in episodes:
        body = e.prompt
        if body.startswith(f"{e.task} : "):
            body, named = body[len(e.task) + 3 :], named + 1
        *shots, query = body.split(" ; ")
        assert len(shots) == e.n_shots and query.endswith(" =")
        for shot in shots:
            src, tgt = shot.split(" = ")
            assert solve(e.task, src) == tgt
        assert e.answer == solve(e.task, query[: -len(" =")])
    assert 120 < named < 280
    lines = few_shot_corpus(50, seed=0).splitlines()
    assert len(lines) == 50 and all(line.endswith(" ;") and " = " in line for line in lines)


# --- real prose ---------------------------------------------------------------------------


def test_prose_is_clean_deterministic_english():
    text = prose_corpus()
    assert text is prose_corpus()  # cached
    assert len(text) > 200_000
    assert "\n\n".join(prose_paragraphs()) == text
    assert not re.search(r"\*\*\*|===|>>>|::=", text)
    assert all(p == " ".join(p.split()) and len(p.split()) >= 6 for p in prose_paragraphs())
    counts = Counter(re.findall(r"[a-z]+", text.lower()))
    assert [w for w, _ in counts.most_common(3)][0] == "the"
    assert counts["returns"] > 10 and counts["using"] > 10  # the endings a subword tokenizer should find


# --- user text ----------------------------------------------------------------------------


def test_user_text_accepts_emoji_cjk_and_combining_marks():
    text = "Café 😀 漢字 👩‍👩‍👧 नमस्ते"
    assert read_user_text(text, max_chars=100) == text
    assert read_user_text(text.encode("utf-8"), max_chars=100, max_bytes=1000) == text
    assert read_user_text("e\u0301", max_chars=10) == "\u00e9"  # NFC: one character
    assert read_user_text("\ufeffhello".encode(), max_chars=10) == "hello"  # UTF-8 BOM dropped
    assert read_user_text("héllo\n".encode("utf-16"), max_chars=10) == "héllo\n"  # UTF-16 with BOM


def test_user_text_is_cleaned():
    assert read_user_text("a\r\nb\rc\x07d\te\x00f", max_chars=100) == "a\nb\ncd\tef"
    assert read_user_text("x\ud800y", max_chars=100) == "x\ufffdy"  # lone surrogate
    assert read_user_text("x\ud83d\ude00y", max_chars=100) == "x😀y"  # a split pair is joined


def test_user_text_bounds_name_the_limit_and_the_value():
    assert read_user_text("a" * 10_000, max_chars=10_000) == "a" * 10_000  # at the bound it runs
    with pytest.raises(UserTextError, match="text is 12,345 characters; the limit is 10,000"):
        read_user_text("a" * 12_345, max_chars=10_000)
    with pytest.raises(UserTextError, match="2,001 bytes; the limit is 2,000"):
        read_user_text(b"a" * 2001, max_chars=10_000, max_bytes=2000)
    with pytest.raises(UserTextError, match="1,500 characters; the limit is 1,000"):
        read_user_text(b"a" * 1500, max_chars=1000, max_bytes=10_000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
        (b"%PDF-1.7\n", "PDF document"),
        (b"PK\x03\x04rest", "ZIP archive"),
        (b"hello\x00world", "NUL byte at position 5"),
        (b"caf\xe9 au lait", "not valid UTF-8: byte 0xe9 at position 3"),
        (b"ok \xc3", "not valid UTF-8"),
        ("hi".encode("utf-32"), "UTF-32"),
        (b"", "the file is empty"),
        (b" \n ", "the file contains only whitespace"),
        ("", "text is empty; type some text"),  # a box, which has no upload beside it
        (" \n\t  ", "only whitespace; type some words"),
        ("\x00\x01\x02", "text holds only control characters, which are removed; type some words"),
        ("\x01\x02", "only control characters"),
    ],
)
def test_user_text_rejects_what_is_not_text(data, message):
    with pytest.raises(UserTextError, match=message):
        read_user_text(data, max_chars=1000, max_bytes=1000)
    assert issubclass(UserTextError, ValueError)
