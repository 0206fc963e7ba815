"""What the masking page computes, cached once for every session: each set-up's attention, the effect
of an edit, the decoder's predictions and the encoder's fill-ins, as plain data keyed by token ids.
Here rather than in the page script, which runs again on every interaction: see `pages/common`.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from llm_core import masking
from llm_core.model import Transformer
from llm_core.objectives import pad_rows
from llm_core.tokenizers import Tokenizer
from pages.common import models

TOP_K = 5  # fill-in guesses per [MASK]


@dataclass(frozen=True)
class Sentence:
    """A checked sentence: its word tokens and ids, without special tokens."""

    text: str  # cleaned and lower-cased: what the tokenizer saw
    tokens: list[str]
    ids: list[int]
    unknown: list[str]  # words and symbols the vocabulary does not have (they became [UNK])


def model_of(name: str) -> Transformer:
    """A shipped tiny model ("encoder", "decoder", "seq2seq"), loaded once per server process."""
    return models.tiny(name)[0]


def tokenizer() -> Tokenizer:
    """The encoder and the decoder share one word-level vocabulary over the synthetic corpus."""
    return models.tiny("encoder")[1]


@st.cache_data(max_entries=128, show_spinner=False)
def attention_view(
    name: str, ids: tuple[int, ...], layer: int, head: int, *, cross_source: tuple[int, ...] = (),
    batch: tuple[tuple[int, ...], ...] = (), row: int = 0,
) -> masking.MaskedAttention:
    """One head's mask, scores, masked scores and weights; `batch` runs a padded batch instead of `ids`."""
    model = model_of(name)
    if batch:
        padded = pad_rows(batch, tokenizer().pad_id)  # (2, T)
        return masking.masked_attention(
            model, padded, layer=layer, head=head, attention_mask=padded != tokenizer().pad_id, batch_row=row
        )
    if cross_source:
        return masking.masked_attention(model, list(ids), layer=layer, head=head, cross=True, src=list(cross_source))
    return masking.masked_attention(model, list(ids), layer=layer, head=head)


@st.cache_data(max_entries=64, show_spinner=False)
def perturbation(name: str, ids: tuple[int, ...], edited: tuple[int, ...]) -> masking.Perturbation:
    return masking.perturbation_effect(model_of(name), ids, edited)


@st.cache_data(max_entries=64, show_spinner=False)
def predictions(ids: tuple[int, ...]) -> list[masking.PrefixPrediction]:
    """Next-token predictions at every position of [BOS] sentence; the last target is [EOS], as in training."""
    rows = masking.prefix_predictions(model_of("decoder"), [*ids, tokenizer().eos_id], k=3)
    return rows[:-1]  # the [EOS] position itself would predict the next line


@st.cache_data(max_entries=64, show_spinner=False)
def fill_ins(ids: tuple[int, ...], positions: tuple[int, ...]) -> dict[int, list[tuple[int, float]]]:
    specials = [tokenizer().special_id(role) for role in tokenizer().special_tokens]
    return masking.fill_masks(model_of("encoder"), ids, positions, mask_id=tokenizer().mask_id, k=TOP_K,
                              exclude=[i for i in specials if i is not None])
