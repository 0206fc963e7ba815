"""What the fine-tuning page shares between sessions: the shipped models, what they answer before any
fine-tuning (cached), and the records of a finished run that the page keeps in a session.
Here rather than in the page script, which runs again on every interaction: see `pages/common`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from llm_core import finetune
from llm_core import objectives as O
from llm_core.data import instruction_split
from llm_core.model import Transformer
from llm_core.tokenizers import Tokenizer
from pages.common import models


@dataclass(frozen=True)
class Shipped:
    """A shipped tiny model and its tokenizer (the encoder and the decoder share one vocabulary)."""

    model: Transformer
    tokenizer: Tokenizer


def encoder() -> Shipped:
    model, tokenizer, _ = models.tiny("encoder")
    return Shipped(model, tokenizer)


def decoder() -> Shipped:
    model, tokenizer, _ = models.tiny("decoder")
    return Shipped(model, tokenizer)


@st.cache_data(max_entries=4, show_spinner=False)
def base_answers(questions: tuple[str, ...]) -> list[str]:
    """The shipped decoder's greedy answers: what instruction tuning starts from."""
    d = decoder()
    return [finetune.answer(d.model, d.tokenizer, q) for q in questions]


@st.cache_data(max_entries=4, show_spinner=False)
def base_exact_match() -> float:
    d = decoder()
    return finetune.exact_match_rate(d.model, d.tokenizer, instruction_split()[1])


@dataclass
class TaskResult:
    """What a downstream run trained, and on what, for the results shown after it."""

    classifiers: dict[str, O.SequenceClassifier]
    label_names: tuple[str, ...]
    n_labels: int
    source: str
    signature: tuple


@dataclass
class InstructResult:
    model: Transformer
    settings: dict


@dataclass
class PreferenceResult:
    model: Transformer
    reference: Transformer
    settings: dict


@st.cache_resource(show_spinner="Preparing the starting model: the decoder taught to answer both ways (once)…")
def starting_model() -> Transformer:
    """The reference of preference tuning, shared by every session and never trained further."""
    d = decoder()
    return finetune.answering_both_ways(d.model, d.tokenizer, finetune.preference_split()[0])


@st.cache_data(max_entries=2, show_spinner=False)
def base_preference_scores() -> list[finetune.PreferenceScore]:
    return finetune.preference_scores(starting_model(), decoder().tokenizer, finetune.preference_split()[1])


@st.cache_data(max_entries=16, show_spinner=False)
def sampled_answers(prompts: tuple[str, ...], seed: int) -> list[str]:
    tokenizer = decoder().tokenizer
    return [finetune.answer(starting_model(), tokenizer, p, greedy=False, seed=seed) for p in prompts]
