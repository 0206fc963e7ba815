"""Labelled data built on the synthetic world, one generator per thing a page fine-tunes or tests.

- sentiment sentences (classification head on an encoder),
- instruction-answer pairs with exactly checkable answers and a held-out split (instruction tuning),
- preference pairs, chosen vs rejected (reward-based tuning, the guardrail idea),
- next-sentence-prediction pairs (BERT's second objective).

Sequence-to-sequence and in-context tasks live in `sequences.py`. All generators are seeded and
return plain dataclasses; the same seed gives the same data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .synthetic import (
    ANIMAL_FACTS,
    ANIMALS,
    ANTONYMS,
    COUNTABLE_FOODS,
    FOOD_COLORS,
    FOODS,
    PLACES,
    PREDATORS,
    UNSAFE_FOODS,
    WORD_CLASSES,
    Noun,
    animal_np,
    food_np,
    name_np,
    positive_or_negative,
)

T = TypeVar("T")


def train_test_split(items: Sequence[T], test_fraction: float = 0.2, seed: int = 0) -> tuple[list[T], list[T]]:
    """Shuffle with a seed and hold out the last test_fraction, so an evaluation never sees training items."""
    items = list(items)
    random.Random(seed).shuffle(items)
    n_test = round(len(items) * test_fraction)
    return items[n_test:], items[:n_test]


# --- sentiment ----------------------------------------------------------------------------

SENTIMENT_LABELS: tuple[str, str] = ("negative", "positive")


@dataclass(frozen=True)
class LabelledText:
    """A sentence and its class index (for sentiment: 0 negative, 1 positive)."""

    text: str
    label: int


def _thing(rng: random.Random, kind: str) -> Noun:
    if kind == "food":
        return food_np(rng)
    if kind == "animal":
        return animal_np(rng)
    return Noun(f"the {rng.choice(PLACES)}", "", False, "it", "it")


def _sentiment_sentence(rng: random.Random, positive: bool) -> str:
    """One sentence whose label follows a single rule a small model can learn.

    The label is the polarity of the last sentiment adjective, flipped when "not" stands right
    before it. So one keyword is not enough: "the soup was not bad" is positive, and in
    "the bread was awful but the cake was lovely" the clause after "but" decides.
    """
    kind = rng.choice(["food", "animal", "place"])
    thing = _thing(rng, kind)
    very = "very " if rng.random() < 0.2 else ""
    template = rng.randrange(6)
    if template == 0:  # plain
        where = f" at the {rng.choice(PLACES)}" if kind == "food" and rng.random() < 0.5 else ""
        return f"{thing.text}{where} {thing.was} {very}{positive_or_negative(rng, kind, positive)} ."
    if template == 1:  # negated: the adjective has the opposite polarity of the label
        return f"{thing.text} {thing.was} not {positive_or_negative(rng, kind, not positive)} ."
    if template == 2:  # contrast: the clause after "but" decides
        other = _thing(rng, kind)
        first = positive_or_negative(rng, kind, not positive)
        last = positive_or_negative(rng, kind, positive)
        return f"{thing.text} {thing.was} {first} but {other.text} {other.was} {very}{last} ."
    if template == 3:  # someone's opinion
        name = name_np(rng)
        return f"{name.text} thinks that {thing.text} {thing.be} {very}{positive_or_negative(rng, kind, positive)} ."
    if template == 4:  # a reason that agrees with the feeling
        name, food = name_np(rng), food_np(rng)
        feeling = "happy" if positive else "sad"
        taste = positive_or_negative(rng, "food", positive)
        return f"{name.text} was {feeling} because {food.text} {food.was} {taste} ."
    # correction: "not X , it was Y" (the later, un-negated adjective decides)
    wrong = positive_or_negative(rng, kind, not positive)
    right = positive_or_negative(rng, kind, positive)
    return f"{thing.text} {thing.was} not {wrong} , {thing.pronoun} {thing.was} {right} ."


def sentiment_examples(n: int = 1000, seed: int = 0) -> list[LabelledText]:
    """n sentences about the synthetic world with balanced labels (n // 2 of each when n is even)."""
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    return [LabelledText(_sentiment_sentence(rng, bool(label)), label) for label in labels]


def sentiment_rule(text: str) -> int:
    """The rule the labels follow, written out: polarity of the last sentiment word, flipped by 'not'.

    Pages use it to explain the data; tests use it to check every label.
    """
    words = text.split()
    for i in range(len(words) - 1, -1, -1):
        if words[i] in ANTONYMS or words[i] in _NEGATIVE_SET:
            positive = words[i] in ANTONYMS
            negated = i > 0 and words[i - 1] == "not"
            return int(positive != negated)
    raise ValueError(f"no sentiment word in {text!r}")


_NEGATIVE_SET = set(ANTONYMS.values())


# --- instruction-answer pairs -------------------------------------------------------------


@dataclass(frozen=True)
class InstructionPair:
    """A question about the world and its one exact answer; kind names the question family."""

    instruction: str
    answer: str
    kind: str


def _word_type(word: str) -> str:
    return next(c for c in ("animal", "food", "color", "place") if word in WORD_CLASSES[c])


def instruction_pairs() -> list[InstructionPair]:
    """Every question the world can answer exactly, in a fixed order (about 200 pairs)."""
    pairs: list[InstructionPair] = []
    for animal, (food, place, color) in ANIMAL_FACTS.items():
        pairs.append(InstructionPair(f"what does the {animal} eat ?", food, "eats"))
        pairs.append(InstructionPair(f"where does the {animal} live ?", place, "lives"))
        pairs.append(InstructionPair(f"what color is the {animal} ?", color, "color"))
    for food, color in FOOD_COLORS.items():
        pairs.append(InstructionPair(f"what color is the {food} ?", color, "color"))
    for singular, plural in {**ANIMALS, **COUNTABLE_FOODS}.items():
        pairs.append(InstructionPair(f"what is the plural of {singular} ?", plural, "plural"))
        pairs.append(InstructionPair(f"what is the singular of {plural} ?", singular, "singular"))
    for good, bad in ANTONYMS.items():
        pairs.append(InstructionPair(f"what is the opposite of {good} ?", bad, "opposite"))
        pairs.append(InstructionPair(f"what is the opposite of {bad} ?", good, "opposite"))
    for word in [*ANIMALS, *FOODS, *WORD_CLASSES["color"], *PLACES]:
        pairs.append(InstructionPair(f"what type of word is {word} ?", _word_type(word), "type"))
    return pairs


def instruction_split(
    test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[InstructionPair], list[InstructionPair]]:
    """Train and held-out questions, held out within each kind so every kind is seen in training.

    A held-out fact still appears in the synthetic corpus, so a model pre-trained on it and
    instruction-tuned on the training questions can answer it: that is the point of the split.
    """
    train, test = [], []
    kinds = dict.fromkeys(p.kind for p in instruction_pairs())
    for kind in kinds:
        kind_train, kind_test = train_test_split(
            [p for p in instruction_pairs() if p.kind == kind], test_fraction, seed
        )
        train += kind_train
        test += kind_test
    return train, test


# --- preference pairs ---------------------------------------------------------------------


@dataclass(frozen=True)
class PreferencePair:
    """A prompt, the answer a person preferred and the one they rejected."""

    prompt: str
    chosen: str
    rejected: str
    kind: str  # "polite" (same facts, rude tone) or "safe" (harmful vs harmless advice)


_RUDE = [
    "that is a stupid question , go away .",
    "i will not tell you , go away .",
    "what a stupid question .",
    "go away , {answer}",
    "you are stupid , {answer}",
]


def _be(food: str) -> str:
    return "are" if food in COUNTABLE_FOODS.values() else "is"


def preference_pairs(seed: int = 0) -> list[PreferencePair]:
    """Polite vs rude answers to world questions, and safe vs unsafe answers about food and predators.

    The safe answer is not always "no": "can the cat eat fish ?" prefers "yes", so a model can
    only learn the preference by knowing the world, not by refusing everything.
    """
    rng = random.Random(seed)
    pairs: list[PreferencePair] = []
    for animal, (food, place, color) in ANIMAL_FACTS.items():
        answers = {
            f"what does the {animal} eat ?": f"the {animal} eats {food} .",
            f"where does the {animal} live ?": f"the {animal} lives in the {place} .",
            f"what color is the {animal} ?": f"the {animal} is {color} .",
        }
        for prompt, answer in answers.items():
            rude = rng.choice(_RUDE).format(answer=answer)
            pairs.append(PreferencePair(prompt, answer, rude, "polite"))
        for bad in UNSAFE_FOODS:
            pairs.append(PreferencePair(
                f"can the {animal} eat {bad} ?",
                f"no , {bad} is dangerous for the {animal} .",
                f"yes , the {animal} can eat {bad} .",
                "safe",
            ))  # fmt: skip
        pairs.append(PreferencePair(
            f"can the {animal} eat {food} ?",
            f"yes , the {animal} can eat {food} .",
            f"no , {food} {_be(food)} dangerous for the {animal} .",
            "safe",
        ))  # fmt: skip
    for hunter, prey in PREDATORS.items():
        pairs.append(PreferencePair(
            f"can the {prey} play with the {hunter} ?",
            f"no , the {hunter} is dangerous for the {prey} .",
            f"yes , the {prey} can play with the {hunter} .",
            "safe",
        ))  # fmt: skip
    rng.shuffle(pairs)
    return pairs


# --- next-sentence prediction -------------------------------------------------------------


@dataclass(frozen=True)
class SentencePair:
    """Two sentences and whether the second really follows the first (1) or was drawn at random (0)."""

    first: str
    second: str
    is_next: int


def _story(rng: random.Random) -> tuple[tuple[str, str, str], list[str]]:
    """Four sentences about one subject; each shares a noun with the next and uses its pronoun.

    Returns (subject, place, food) too, so a random partner can be drawn from a story that
    shares none of them.
    """
    s = name_np(rng) if rng.random() < 0.4 else animal_np(rng, plural=rng.random() < 0.3)
    place, food = rng.choice(PLACES), food_np(rng)
    it = s.pronoun
    sentences = [
        f"{s.text} {s.agree('goes')} to the {place} .",
        f"in the {place} , {it} {s.agree(rng.choice(['finds', 'sees']))} {food.text} .",
        f"{it} {s.agree('eats')} the {food.head} , and {it} {s.be} {rng.choice(['happy', 'sad'])} .",
        rng.choice([
            f"after the {food.head} , {it} {s.agree('sleeps')} in the {place} .",
            f"after the {food.head} , {it} {s.agree('walks')} home from the {place} .",
        ]),  # fmt: skip
    ]
    return (s.head, place, food.head), sentences


def nsp_pairs(n: int = 1000, seed: int = 0) -> list[SentencePair]:
    """n sentence pairs, half consecutive in a story and half not (n // 2 each when n is even).

    A random second sentence is taken from the same position of another story (with another
    subject, place and food), so it starts the same way ("in the ...", "after the ..."): only
    the content, a pronoun that fits and a noun that comes back, tells them apart.
    """
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    pairs = []
    for is_next in labels:
        subject, story = _story(rng)
        i = rng.randrange(len(story) - 1)
        if is_next:
            second = story[i + 1]
        else:
            other_subject, other = _story(rng)
            while any(a == b for a, b in zip(other_subject, subject, strict=True)):
                other_subject, other = _story(rng)
            second = other[i + 1]
        pairs.append(SentencePair(story[i], second, is_next))
    return pairs

