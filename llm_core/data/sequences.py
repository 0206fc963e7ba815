"""Digit-sequence tasks for sequence-to-sequence models and for in-context (few-shot) learning.

Each task maps a short sequence of digits to an output sequence:

    copy     3 1 2  ->  3 1 2
    reverse  3 1 2  ->  2 1 3
    sort     3 1 2  ->  1 2 3
    spell    3 1 2  ->  three one two      (numbers to words)

Symbols are separated by single spaces, so a word-level tokenizer sees one token per digit and a
character-level one sees the same text; the vocabulary stays tiny (10 digits, 10 number words,
"=", ";" and an optional task name).

Few-shot prompt format (one line, what a small decoder learns to continue):

    [task :] src = tgt ; src = tgt ; query =

Each solved example is "src = tgt ;". The prompt ends with "query =" and the expected
continuation is " tgt ;" (the ";" tells a generator to stop). With zero examples and no task
name the model can only guess; each example narrows down which task is meant, which is what the
accuracy-vs-shots curve shows. Naming the task ("sort :") makes zero-shot possible.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .synthetic import NUMBER_WORDS

SEQUENCE_TASKS: tuple[str, ...] = ("copy", "reverse", "sort", "spell")
IN_OUT = "="  # separates an example's input from its output
END = ";"  # ends an example (and a generated answer)


def solve(task: str, source: str) -> str:
    """The exact target of a task for a source string such as '3 1 2'."""
    digits = source.split()
    if task == "copy":
        out = digits
    elif task == "reverse":
        out = digits[::-1]
    elif task == "sort":
        out = sorted(digits)
    elif task == "spell":
        out = [NUMBER_WORDS[int(d)] for d in digits]
    else:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(SEQUENCE_TASKS)}")
    return " ".join(out)


def random_digits(rng: random.Random, min_len: int = 3, max_len: int = 6) -> str:
    return " ".join(str(rng.randrange(10)) for _ in range(rng.randint(min_len, max_len)))


def sequence_pairs(
    task: str, n: int = 1000, seed: int = 0, min_len: int = 3, max_len: int = 6
) -> list[tuple[str, str]]:
    """n (source, target) pairs of one task, for example ('3 1 2', '1 2 3') for sort."""
    rng = random.Random(seed)
    sources = [random_digits(rng, min_len, max_len) for _ in range(n)]
    return [(src, solve(task, src)) for src in sources]


def few_shot_prompt(examples: Sequence[tuple[str, str]], query: str, task: str | None = None) -> str:
    """'sort : 3 1 2 = 1 2 3 ; 5 4 = 4 5 ; 9 0 7 =' (see the module docstring for the format)."""
    parts = [f"{task} :"] if task else []
    parts += [f"{src} {IN_OUT} {tgt} {END}" for src, tgt in examples]
    parts.append(f"{query} {IN_OUT}")
    return " ".join(parts)


@dataclass(frozen=True)
class FewShotEpisode:
    """A prompt with n_shots solved examples of one task, and the answer that should follow it."""

    task: str
    n_shots: int
    prompt: str
    answer: str  # the target alone, e.g. '1 2 3'; the model should write f" {answer} ;"


def few_shot_episodes(
    n: int = 1000,
    seed: int = 0,
    shots: Sequence[int] = (0, 1, 2, 3, 4),
    tasks: Sequence[str] = SEQUENCE_TASKS,
    name_task: float = 0.0,
    min_len: int = 3,
    max_len: int = 6,
) -> list[FewShotEpisode]:
    """n episodes with a random task and a number of shots drawn from `shots`.

    name_task is the probability that the prompt starts with the task name; at 0 the task must
    be inferred from the examples alone.
    """
    rng = random.Random(seed)
    episodes = []
    for _ in range(n):
        task, k = rng.choice(list(tasks)), rng.choice(list(shots))
        examples = [(s, solve(task, s)) for s in (random_digits(rng, min_len, max_len) for _ in range(k))]
        query = random_digits(rng, min_len, max_len)
        named = task if rng.random() < name_task else None
        episodes.append(FewShotEpisode(task, k, few_shot_prompt(examples, query, named), solve(task, query)))
    return episodes


def few_shot_corpus(n_episodes: int = 5000, seed: int = 0, **kwargs) -> str:
    """Training text for an in-context learner: one solved episode per line ('prompt answer ;')."""
    return "\n".join(f"{e.prompt} {e.answer} {END}" for e in few_shot_episodes(n_episodes, seed, **kwargs))
