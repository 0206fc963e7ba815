"""What the embeddings page computes, cached once for every session: looked-up rows, word vectors,
projections and the figures drawn from them, as plain data keyed by primitive arguments.
Here rather than in the page script, which runs again on every interaction: see `pages/common`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from llm_core.data import word_class
from llm_core.embeddings import (
    class_agreement,
    cosine_similarity_matrix,
    embedding_matrix,
    embedding_rows,
    minilm_word_vectors,
    nearest_neighbours,
    project,
    vocabulary_words,
)
from pages.common import attention_figures as af
from pages.common import embedding_figures as ef
from pages.common import figures, models

N_NEIGHBOURS = 8


def parse_words(raw: str) -> list[str]:
    """A typed word list: split on commas and spaces, lower-cased, each word once, in order."""
    words = [w.strip().lower() for w in raw.replace("\n", ",").replace(" ", ",").split(",")]
    return list(dict.fromkeys(w for w in words if w))


@st.cache_data(max_entries=64, show_spinner=False)
def lookup_figure(label: str, text: str) -> tuple[dict, dict[str, list]]:
    """The rows a sentence looks up, as a heatmap, and the token -> ID table."""
    tm = models.text_model(label)
    encoding = tm.encode(text)
    rows = embedding_rows(tm.model, encoding.ids)  # (T, C)
    labels = [f"{af.escape(t)} (ID {i})" for t, i in zip(encoding.tokens, encoding.ids, strict=True)]
    T, C = rows.shape
    fig = figures.heatmap(rows, [str(c) for c in range(C)], labels,
                          f"The {T} rows your sentence looks up ({T} × {C})", x_title="embedding dimension",
                          y_title="token (ID)", value_name="value", diverging=True)  # fmt: skip
    af.sparse_ticks(fig, "x", C)
    table = {"token": list(encoding.tokens), "ID": list(encoding.ids)}
    return fig, table


@st.cache_data(max_entries=8, show_spinner=False)
def tiny_vectors(label: str, trained: bool) -> tuple[list[str], list[str], np.ndarray]:
    """(words, classes, embedding rows) of the tiny model's vocabulary, after or before training."""
    name = models.TINY_MODELS[label]
    model, tokenizer, _ = models.tiny(name)
    words, ids, classes = vocabulary_words(tokenizer)
    table = embedding_matrix(model if trained else models.untrained_tiny(name))  # (V, C)
    return words, classes, table[ids]


@st.cache_data(max_entries=32, show_spinner=False)
def minilm_vectors(words: tuple[str, ...], representation: str) -> np.ndarray:
    return minilm_word_vectors(models.minilm(), words, representation)


@st.cache_data(max_entries=64, show_spinner="Projecting…")
def projected(vectors: np.ndarray, method: str, dims: int) -> np.ndarray:
    """The projection of a set of vectors (cached by their content: t-SNE takes a second or two)."""
    return project(vectors, method, dims)


def point_set(label: str, trained: bool, words_raw: str, representation: str):
    """(words, classes, vectors) of one plot: a tiny model's vocabulary, or MiniLM on the word list."""
    if label == models.MINILM:
        words = tuple(parse_words(words_raw))
        classes = [word_class(w) or ef.OTHER for w in words]
        return list(words), classes, minilm_vectors(words, representation)
    return tiny_vectors(label, trained)


def neighbours_table(query: str, words: list[str], classes: list[str], vectors: np.ndarray) -> dict[str, list]:
    found = nearest_neighbours(vectors[words.index(query)], vectors, words, N_NEIGHBOURS, exclude=query)
    klass = dict(zip(words, classes, strict=True))
    return {"rank": list(range(1, len(found) + 1)), "word": [n.word for n in found],
            "class": [klass[n.word] for n in found], "cosine": [round(n.cosine, 3) for n in found]}


@st.cache_data(max_entries=128, show_spinner=False)
def projection_view(label: str, trained: bool, words_raw: str, representation: str, method: str, dims: int,
                    query: str, title: str) -> tuple[dict, dict[str, list] | None, float]:
    """One projection plot (as a figure dict), the neighbour table of `query` ('' for none), the class agreement."""
    words, classes, vectors = point_set(label, trained, words_raw, representation)
    table = neighbours_table(query, words, classes, vectors) if query else None
    fig = ef.projection(projected(vectors, method, dims), words, classes, f"{title}: {method}", query=query or None,
                        neighbours=list(table["word"]) if table is not None else (),
                        height=500 if label != models.MINILM else 560,  # a projected screen holds it, legend and all
                        plot_px=ef.WIDE_PLOT_PX if label == models.MINILM else ef.PLOT_PX)  # fmt: skip
    return fig, table, class_agreement(vectors, classes)


@st.cache_data(max_entries=128, show_spinner=False)
def similarity_view(label: str, words_raw: str, representation: str, picked: tuple[str, ...], title: str) -> dict:
    words, _, vectors = point_set(label, True, words_raw, representation)
    sims = cosine_similarity_matrix(vectors[[words.index(w) for w in picked]])  # (k, k)
    shown = af.label_tokens(picked)
    fig = figures.heatmap(sims, shown, shown, f"Cosine similarity: {title}", x_title="word", y_title="word",
                          value_name="cosine", diverging=True, zmin=-1, zmax=1, decimals=2)
    return fig
