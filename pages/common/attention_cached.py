"""What the attention page computes, cached once for every session: one forward pass per (model, sentence),
and the figures drawn from it, as plain dicts keyed by primitive arguments.
Here rather than in the page script, which runs again on every interaction: see `pages/common`.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from llm_core.attention_steps import (
    AttentionSteps,
    MultiHeadOutput,
    ScalingDemo,
    SentenceRun,
    attention_steps,
    hide_positions,
    multi_head_output,
    random_scores,
    record,
    scaling_demo,
    softmax,
)
from pages.common import attention_figures as af
from pages.common import figures, models

D_K_CHOICES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
N_KEYS = 8  # keys in the sqrt(d_k) demo


# Figures are cached as plain dicts keyed by primitive arguments: building a Plotly figure costs far
# more than drawing a cached one, and a layer or head change should answer at once.


@st.cache_data(max_entries=64, show_spinner=False)
def record_for(label: str, text: str) -> SentenceRun:
    """The sentence's one forward pass, recorded at every layer's attention; a layer or head change reuses it."""
    tm = models.text_model(label)
    return record(tm.model, tm.encode(text).ids)


def patterns_for(label: str, text: str) -> np.ndarray:
    """Every head's weights for the sentence: (n_layer, n_head, T, T)."""
    return record_for(label, text).patterns


@st.cache_data(max_entries=64, show_spinner=False)
def shown_patterns(label: str, text: str, hide_special: bool) -> tuple[np.ndarray, list[int], np.ndarray | None]:
    """The weights as the head views show them: (L, H, K, K), the K positions kept, and the hidden share."""
    patterns = patterns_for(label, text)
    tokens = models.text_model(label).encode(text).tokens
    keep = [i for i, t in enumerate(tokens) if not (hide_special and t in models.STRUCTURAL_TOKENS)]
    if len(keep) < 2 or len(keep) == len(tokens):
        return patterns, list(range(len(tokens))), None
    weights, hidden = hide_positions(patterns, keep)
    return weights, keep, hidden


@st.cache_data(max_entries=128, show_spinner=False)
def steps_for(label: str, text: str, layer: int, head: int) -> AttentionSteps:
    return attention_steps(models.text_model(label).model, record_for(label, text), layer, head)


@st.cache_data(max_entries=64, show_spinner=False)
def heads_for(label: str, text: str, layer: int) -> MultiHeadOutput:
    return multi_head_output(models.text_model(label).model, record_for(label, text), layer)


def token_labels(label: str, text: str) -> list[str]:
    return af.label_tokens(models.text_model(label).encode(text).tokens)


def _matrix(z, rows, cols, title, *, x_title, y_title, value_name="value", diverging=True, clip=False,
            abreast=1, cell_decimals=2, height=None) -> dict:
    """One labelled heatmap as a dict. `clip` saturates the colours at the 99th percentile of |z|: a few
    huge dimensions (MiniLM has some) would otherwise wash every other cell out to white. `abreast` figures
    share the page's width: each has that many times fewer pixels for its columns, ticks and gaps."""
    zmin, zmax = (0, 1) if not diverging else (None, None)
    if clip:
        finite = np.abs(z[np.isfinite(z)])
        zmax = float(max(np.percentile(finite, 99), 1e-6)) if finite.size else 1.0
        zmin = -zmax
    fig = figures.heatmap(z, cols, rows, title, x_title=x_title, y_title=y_title, value_name=value_name,
                          diverging=diverging, zmin=zmin, zmax=zmax, cell_decimals=cell_decimals, height=height)
    af.sparse_ticks(fig, "x", len(cols), limit=af.DENSE_AXIS // abreast, nticks=af.SPARSE_TICKS // abreast)
    af.sparse_ticks(fig, "y", len(rows))
    return fig


TRIO_HEIGHT = 460  # W_q, W_k and W_v, three abreast


@st.cache_data(max_entries=256, show_spinner=False)
def step_figures(label: str, text: str, layer: int, head: int | None, step: str) -> list[dict]:
    """The heatmaps of one step of the computation (one to three of them). X is the same for every head of
    a layer, so it is asked for with head None and built once per layer."""
    s = steps_for(label, text, layer, head or 0)
    labels = token_labels(label, text)
    T, C, d_k = s.X.shape[0], s.X.shape[1], s.d_k
    dims, head_dims = [str(i) for i in range(C)], [str(i) for i in range(d_k)]
    # Scores to one decimal ("−2.6"), weights to two ("0.25"): four characters, which fit a cell of a 12 × 12
    # matrix even on a 1024 px screen; the hover gives three.
    pair = {"x_title": "key (attended to)", "y_title": "query (attending)"}
    if step == "X":
        return [_matrix(s.X, labels, dims, f"X: the input of layer {layer} ({T} × {C})",
                        x_title="dimension", y_title="token", clip=True)]
    if step == "W_q, W_k, W_v":
        weights = (("W_q", s.W_q), ("W_k", s.W_k), ("W_v", s.W_v))
        # Their rows are dimensions, not words: short enough for a projected screen to hold the three whole.
        return [_matrix(W, dims, head_dims, f"{name} ({C} × {d_k})", x_title="head dimension",
                        y_title="input dimension", clip=True, abreast=3, height=TRIO_HEIGHT) for name, W in weights]
    if step == "Q, K, V":
        qkv = (("Q", s.Q), ("K", s.K), ("V", s.V))
        return [_matrix(M, labels, head_dims, f"{name} = X W_{name.lower()} ({T} × {d_k})",
                        x_title="head dimension", y_title="token", clip=True, abreast=3) for name, M in qkv]
    if step == "QK^T":
        return [_matrix(s.scores, labels, labels, f"Scores QK^T ({T} × {T})", value_name="q·k", cell_decimals=1,
                        **pair)]
    if step == "÷ √d_k":
        return [_matrix(s.masked, labels, labels, f"Scaled scores QK^T / √{d_k}", value_name="score", cell_decimals=1,
                        **pair)]
    if step == "softmax":
        return [_matrix(s.weights, labels, labels, "Weights: softmax of each row", value_name="weight",
                        diverging=False, **pair)]
    return [_matrix(s.output, labels, head_dims, f"Output = weights × V ({T} × {d_k})", x_title="head dimension",
                    y_title="token")]


@st.cache_data(max_entries=32, show_spinner=False)
def grid_figure(label: str, text: str, hide_special: bool) -> dict:
    weights, keep, _ = shown_patterns(label, text, hide_special)
    labels = token_labels(label, text)
    n_head = weights.shape[1]
    return af.head_grid(weights, [labels[i] for i in keep], cell_px=75 if n_head > 6 else 150)


@st.cache_data(max_entries=256, show_spinner=False)
def head_figure(label: str, text: str, hide_special: bool, layer: int, head: int) -> dict:
    weights, keep, _ = shown_patterns(label, text, hide_special)
    labels = [token_labels(label, text)[i] for i in keep]
    fig = figures.heatmap(weights[layer, head], labels, labels, f"Layer {layer}, head {head}",
                          x_title="key (attended to)", y_title="query (attending)", zmin=0, zmax=1,
                          show_values=len(labels) <= 8)  # in a narrow column, more numbers would overlap
    return fig


@st.cache_data(max_entries=256, show_spinner=False)
def lines_figure(label: str, text: str, hide_special: bool, layer: int, head: int, query: int) -> dict:
    weights, keep, _ = shown_patterns(label, text, hide_special)
    labels = [token_labels(label, text)[i] for i in keep]
    return af.token_lines(weights[layer, head], labels, query, title=f"Where “{labels[query]}” looks")


@st.cache_data(max_entries=32, show_spinner=False)
def shapes_figure(n_head: int, T: int, d_k: int, C: int) -> dict:
    return af.multi_head_shapes(n_head, T, d_k, C, title="Multi-head attention, drawn to scale")


@st.cache_data(max_entries=1, show_spinner=False)
def scaling_curves() -> tuple[ScalingDemo, dict, dict]:
    """The √d_k demo's curves over every d_k, and their two figures."""
    curves = scaling_demo(list(D_K_CHOICES), n_keys=N_KEYS)
    common = {
        "x_title": "d_k (log scale)", "log_x": True, "height": 440,
        "xaxis": {"tickvals": list(D_K_CHOICES[::2]), "ticktext": [str(d) for d in D_K_CHOICES[::2]]},
        # at the figure's foot, below the axis title: above the plot, a two-row legend ran over the title
        "legend": {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0},
        "margin": {"l": 10, "r": 20, "t": figures.TITLED_TOP, "b": 60},
    }  # fmt: skip
    spread = figures.line_chart(curves.d_k, {"QK^T": curves.score_std, "QK^T / √d_k": curves.scaled_score_std},
                                "Spread of the scores as d_k grows", y_title="standard deviation", decimals=2,
                                **common)  # fmt: skip
    peak = figures.line_chart(curves.d_k, {"unscaled": curves.max_weight, "scaled": curves.scaled_max_weight},
                              "Largest softmax weight (mean)", y_title="weight", decimals=3,
                              yaxis={"range": [0, 1.02]}, **common)  # fmt: skip
    return curves, spread, peak


def mark_d_k(figure: dict, curves: ScalingDemo, d_k: int, series: tuple[list[float], list[float]]) -> dict:
    """A copy of a curve figure with the chosen d_k marked on both curves."""
    i = curves.d_k.index(d_k)
    marker = {"type": "scatter", "x": [d_k, d_k], "y": [series[0][i], series[1][i]], "mode": "markers",
              "name": f"d_k = {d_k}", "marker": {"size": 16, "color": "#000000", "symbol": "circle-open",
                                                 "line": {"width": 3}}, "cliponaxis": False,  # whole at the ends
              "hovertemplate": "d_k = %{x}: %{y:.3f}<extra></extra>"}  # fmt: skip
    return {**figure, "data": [*figure["data"], marker]}


@st.cache_data(max_entries=64, show_spinner=False)
def example_figure(d_k: int, scale: bool) -> tuple[dict, float, float, float]:
    """One random query against N_KEYS keys: the softmax weights, and the score range and top weight."""
    raw = random_scores(d_k, N_KEYS)
    scores = raw / np.sqrt(d_k) if scale else raw
    weights = softmax(scores)
    fig = figures.bar_chart([f"key {i}" for i in range(N_KEYS)], weights,
                            f"One query, {N_KEYS} random keys, d_k = {d_k}", x_title="key",
                            y_title="softmax weight", highlight=int(weights.argmax()), decimals=3, height=380,
                            yaxis={"range": [0, 1.02]})  # fmt: skip
    return fig, float(scores.min()), float(scores.max()), float(weights.max())
