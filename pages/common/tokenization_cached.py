"""What the tokenization page computes, cached once for every session: corpora, trained tokenizers,
merge histories, growth curves and vocabulary tables, shared and never modified.
Here rather than in the page script, which runs again on every interaction: see `pages/common`.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import streamlit as st

from llm_core.data import prose_corpus, synthetic_corpus
from llm_core.tokenizers import (
    Tokenizer,
    bpe_merges,
    merge_counts,
    minilm_tokenizer,
    train_tokenizer,
    vocab_growth,
)
from pages.common import chips, figures


@st.cache_resource(show_spinner=False)
def builtin_corpus(name: str) -> str:
    return prose_corpus() if name == "prose" else synthetic_corpus()


@st.cache_resource(max_entries=64, show_spinner=False)
def trained(kind: str, vocab_size: int, corpus_key: str, _corpus: str) -> Tokenizer:
    """A tokenizer trained on a corpus, once per server process (corpus_key names the corpus)."""
    return train_tokenizer(kind, _corpus, vocab_size)


@st.cache_resource(show_spinner=False)
def minilm() -> Tokenizer:
    return minilm_tokenizer()


def tokenizer_for(kind: str, vocab_size: int, corpus_key: str, corpus: str) -> Tokenizer:
    """The page's tokenizer of `kind`: MiniLM's own, or one trained on the corpus."""
    return minilm() if kind == "minilm" else trained(kind, vocab_size, corpus_key, corpus)


@st.cache_data(max_entries=32, show_spinner=False)
def merge_history(vocab_size: int, corpus_key: str, _corpus: str) -> tuple[list[tuple[str, str]], list[int]]:
    """The BPE merges in the order learned, and how often each pair occurred when it was merged."""
    tokenizer = trained("bpe", vocab_size, corpus_key, _corpus)
    merges = bpe_merges(tokenizer)
    return merges, merge_counts(tokenizer, _corpus, merges)


def ticks_over(values) -> dict:
    """Log-axis ticks over the range of `values`, with room around it."""
    return figures.log_ticks(min(values) / 1.5, max(values) * 1.5)


@st.cache_resource(max_entries=32, show_spinner=False)
def growth_rows(kind: str, vocab_size: int | None, corpus_key: str, _corpus: str) -> pd.DataFrame:
    """`vocab_growth` of one kind. Word and character vocabularies grow with the corpus whatever the page's
    vocabulary size (None): theirs are computed once per corpus, not again at every step of its slider."""
    return vocab_growth(_corpus, kinds=(kind,), **({} if vocab_size is None else {"bpe_vocab_size": vocab_size}))


@st.cache_resource(max_entries=16, show_spinner="Training tokenizers on growing parts of the corpus…")
def growth_figures(vocab_size: int, corpus_key: str, _corpus: str) -> tuple[figures.Figure, figures.Figure]:
    """Vocabulary size and held-out [UNK] rate against corpus size, for word, character and BPE."""
    table = pd.concat([growth_rows(kind, vocab_size if kind == "bpe" else None, corpus_key, _corpus)
                       for kind in ("word", "char", "bpe")])  # fmt: skip
    names = {"word": "word-level", "char": "character", "bpe": f"BPE ({vocab_size:,} budget)"}
    words = sorted(table["words"].unique())
    by_kind = {names[k]: table[table["kind"] == k].sort_values("words") for k in names}
    common = {  # the legend at the figure's foot, in a margin of its own below the x axis's title
        "x_title": "words of training text", "log_x": True, "xaxis": ticks_over(words),
        "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
        "margin": {"l": 10, "r": 10, "t": figures.TITLED_TOP, "b": 60},
    }  # fmt: skip
    vocab_fig = figures.line_chart(
        words, {n: list(d["vocab_size"]) for n, d in by_kind.items()}, "Vocabulary needed",
        y_title="vocabulary size", log_y=True, decimals=0, yaxis=ticks_over(table["vocab_size"]), **common,
    )
    oov_fig = figures.line_chart(
        words, {n: list(100 * d["oov_rate"]) for n, d in by_kind.items()}, "Unknown words in held-out text",
        y_title="% of words with [UNK]", decimals=1, **common,
    )
    for fig in (vocab_fig, oov_fig):
        for trace, dash, symbol in zip(fig["data"], ("solid", "dash", "dot"), ("circle", "square", "diamond"),
                                       strict=True):
            trace |= {"mode": "lines+markers", "line": {**trace["line"], "dash": dash},
                      "marker": {"size": 11, "symbol": symbol}}
    return vocab_fig, oov_fig


@st.cache_resource(max_entries=256, show_spinner=False)
def merge_count_figure(vocab_size: int, corpus_key: str, _corpus: str, k: int) -> figures.Figure:
    """How often each merged pair occurred, with a dashed line at merge k. Shared: never modified."""
    _, counts = merge_history(vocab_size, corpus_key, _corpus)
    return figures.line_chart(
        list(range(1, len(counts) + 1)), {"pair count": counts}, "How often each merged pair occurred",
        x_title="merge number", y_title="occurrences in the corpus", log_y=True, decimals=0,
        yaxis=ticks_over(counts),
        shapes=[figures.vline(k, width=2, dash="dash", color=figures.OKABE_ITO[5])] if k > 0 else [],
    )


@st.cache_resource(max_entries=32, show_spinner=False)
def vocabulary(kind: str, vocab_size: int, corpus_key: str, _corpus: str) -> pa.Table:
    """The vocabulary as an Arrow table: shared by every session (an Arrow table cannot be changed)
    and sent to the browser as it is, with no conversion on each rerun."""
    table = tokenizer_for(kind, vocab_size, corpus_key, _corpus).vocab_table()
    table["token"] = table["token"].map(chips.visible)
    return pa.Table.from_pandas(table, preserve_index=False)
