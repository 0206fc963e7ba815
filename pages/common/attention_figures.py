"""Figures of the attention page beyond a single heatmap: every head at once, one token's lines, the heads' shapes.

Single matrices use `figures.heatmap`; this module adds what an attention viewer needs on top
of it, in the same look (fonts, Viridis weights, Okabe-Ito accents):

- `head_grid`: all heads of all layers as small multiples in ONE figure (MiniLM: 6 x 12 = 72),
  built as a plain dict so that 72 heatmaps cost milliseconds, with the chosen head framed;
- `token_lines`: where one token looks, as lines from it to every token, thicker for more weight;
- `multi_head_shapes`: the heads' outputs side by side, their concatenation, W_o and the output,
  drawn as boxes in proportion to their shapes;
- `label_tokens`: tick labels that stay distinct when a word repeats and that never render as markup
  (`ui.markdown_literal` does the same for user text in a message).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

from pages.common.figures import FONT_SIZE, OKABE_ITO, SEQUENTIAL, TEXT_COLOR, TITLED_TOP, Figure, figure

HIGHLIGHT = OKABE_ITO[5]  # vermillion frame around the chosen head
CHAR_PX = 0.56 * FONT_SIZE  # the width of an average character of the figures' font, in pixels


def escape(text: str) -> str:
    """User text as Plotly shows it literally: its small HTML subset ("<b>", "<br>") stays text."""
    return html.escape(text, quote=False)


def label_tokens(tokens: Sequence[str]) -> list[str]:
    """One label per position: the token, escaped, with its position when the token repeats."""
    counts: dict[str, int] = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    return [escape(t) if counts[t] == 1 else f"{escape(t)} ({i})" for i, t in enumerate(tokens)]


DENSE_AXIS = 40  # an axis of more cells than this across the page's width gets ...
SPARSE_TICKS = 10  # ... at most this many ticks, numbers Plotly picks, and no gaps between its cells


def sparse_ticks(fig: Figure, axis: str, n: int, limit: int = DENSE_AXIS, nticks: int = SPARSE_TICKS) -> Figure:
    """For a long axis (384 dimensions of MiniLM), let Plotly pick a few numeric ticks instead of every one,
    and drop the 1-pixel gaps between cells, which would otherwise be wider than the cells themselves.
    Changes `fig` in place."""
    if n > limit:
        name = f"{axis}axis"
        kept = {k: v for k, v in fig["layout"].get(name, {}).items() if k not in ("ticktext", "tickvals")}
        fig["layout"][name] = {**kept, "tickmode": "auto", "nticks": nticks}
        for trace in fig["data"]:
            trace[f"{axis}gap"] = 0
    return fig


def head_grid(patterns: np.ndarray, labels: Sequence[str], *, cell_px: int = 80) -> Figure:
    """Small multiples of attention: row = layer, column = head; each square is a (T, T) weight matrix.

    All heads are tiles of ONE heatmap (a mosaic with an empty row and column between tiles), so
    72 heads cost what one costs to send and draw. Every row and column of the mosaic has its own
    category label ("layer 2, query “cat”", "head 5, key “the”"), which is what hover shows; a box
    dragged over a tile gives its position back in mosaic cells (see `grid_cell_to_head`).
    `frame_head` marks the chosen head.
    """
    L, H, T, _ = patterns.shape
    block = T + 1  # a tile and the gap after it
    z = np.full((L * block - 1, H * block - 1), np.nan)  # (rows, cols) of the mosaic
    for layer in range(L):
        for head in range(H):
            z[layer * block : layer * block + T, head * block : head * block + T] = patterns[layer, head]
    gap = "\u2007"  # gap rows/columns need labels too; figure spaces, unique by their count
    x = [f"head {c // block}, key “{labels[c % block]}”" if c % block < T else gap * (c // block + 1)
         for c in range(z.shape[1])]  # fmt: skip
    y = [f"layer {r // block}, query “{labels[r % block]}”" if r % block < T else gap * (r // block + 1)
         for r in range(z.shape[0])]  # fmt: skip
    mosaic = {
        "type": "heatmap", "z": np.round(z, 4), "x": x, "y": y, "colorscale": SEQUENTIAL, "zmin": 0, "zmax": 1,
        "hoverongaps": False, "hovertemplate": "%{y}<br>%{x}<br>weight: %{z:.3f}<extra></extra>",
        "colorbar": {"title": {"text": "weight", "side": "right"}, "thickness": 14},
    }  # fmt: skip
    centre = (T - 1) / 2
    annotations = [
        {"text": f"H{h}", "x": h * block + centre, "y": 1.0, "xref": "x", "yref": "paper", "yanchor": "bottom",
         "showarrow": False, "font": {"size": FONT_SIZE - 2, "color": TEXT_COLOR}}
        for h in range(H)
    ] + [
        {"text": f"L{layer}", "x": 0.0, "y": layer * block + centre, "xref": "paper", "yref": "y",
         "xanchor": "right", "showarrow": False, "font": {"size": FONT_SIZE - 2, "color": TEXT_COLOR}}
        for layer in range(L)
    ]  # fmt: skip
    hidden = {"type": "category", "showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}
    return figure(
        [mosaic], height=int(80 + cell_px * L), xaxis=hidden, yaxis={**hidden, "autorange": "reversed"},
        annotations=annotations, dragmode="select", plot_bgcolor="white",
        margin={"l": 50, "r": 10, "t": 64, "b": 10},  # room above for the mode bar
    )  # fmt: skip


def grid_cell_to_head(x: float, y: float, n_tokens: int) -> tuple[int, int]:
    """A point of the `head_grid` mosaic (in cells) -> (layer, head) of the tile it falls in."""
    block = n_tokens + 1
    return int((y + 0.5) // block), int((x + 0.5) // block)


def frame_head(figure: dict, n_tokens: int, layer: int, head: int) -> dict:
    """A copy of a `head_grid` figure (as a dict) with a thick frame around one head's tile."""
    block = n_tokens + 1
    frame = {
        "type": "rect", "xref": "x", "yref": "y", "line": {"color": HIGHLIGHT, "width": 4},
        "x0": head * block - 0.7, "x1": head * block + n_tokens - 0.3,
        "y0": layer * block - 0.7, "y1": layer * block + n_tokens - 0.3,
    }  # fmt: skip
    return {**figure, "layout": {**figure["layout"], "shapes": [frame]}}


def token_lines(weights: np.ndarray, labels: Sequence[str], query: int, *, title: str) -> Figure:
    """Where token `query` looks: a line from it (left) to every token (right), thicker for more weight.

    The tokens are written once, on the left; the right column prints each token's weight in its row, and
    hovering a dot there names the token and gives the exact value.
    """
    T = len(labels)
    row = weights[query]  # (T,), sums to 1
    top = row.max() if row.size else 1.0
    traces = [
        {"type": "scatter", "x": [0, 1], "y": [query, key], "mode": "lines", "hoverinfo": "skip", "showlegend": False,
         "line": {"width": 1 + 14 * w / top, "color": OKABE_ITO[0]}, "opacity": 0.25 + 0.75 * w / top}
        for key, w in enumerate(row.tolist()) if w >= 1e-4
    ]  # fmt: skip
    colors = ["#1f1f1f"] * T
    colors[query] = HIGHLIGHT
    right = [f"{w:.2f}" for w in row.tolist()]
    traces.append({
        "type": "scatter", "x": [0] * T, "y": list(range(T)), "mode": "markers+text", "text": list(labels),
        "textposition": "middle left", "marker": {"size": 10, "color": colors}, "cliponaxis": False,
        "textfont": {"size": FONT_SIZE, "color": colors}, "hovertemplate": "query: %{text}<extra></extra>",
        "showlegend": False,
    })  # fmt: skip
    traces.append({
        "type": "scatter", "x": [1] * T, "y": list(range(T)), "mode": "markers+text", "text": right,
        "textposition": "middle right", "marker": {"size": 10, "color": OKABE_ITO[0]}, "textfont": {"size": FONT_SIZE},
        "customdata": [[label, round(w, 4)] for label, w in zip(labels, row.tolist(), strict=True)],
        "showlegend": False, "cliponaxis": False,
        "hovertemplate": f"{labels[query]} → %{{customdata[0]}}<br>weight: %{{customdata[1]:.4f}}<extra></extra>",
    })  # fmt: skip
    # The labels sit in the margins, each as wide as its longest text, so that no weight is ever cut off.
    width = {side: 16 + math.ceil(CHAR_PX * max(map(len, texts), default=0))
             for side, texts in (("l", labels), ("r", right))}  # fmt: skip
    return figure(
        traces, title=title, height=int(min(900, max(320, 90 + 34 * T))),
        xaxis={"visible": False, "range": [-0.05, 1.05], "fixedrange": True},
        yaxis={"visible": False, "autorange": "reversed", "fixedrange": True},
        margin={**width, "t": TITLED_TOP, "b": 10},
    )  # fmt: skip


def multi_head_shapes(n_head: int, T: int, d_k: int, C: int, *, title: str) -> Figure:
    """Boxes drawn to scale: H heads of (T x d_k) -> concat (T x H*d_k) -> times W_o (H*d_k x C) -> output (T x C).

    Widths count columns and heights count rows, in the same unit, so a student sees that the
    heads are thin slices, that the concatenation is as wide as the model, and that W_o is square.
    """
    gap = max(2.0, 0.15 * d_k)  # between two heads
    space = 0.12 * C + 8  # between the stages, where the arrows go
    boxes = []  # (x0, width, height, colour, hover)
    x = 0.0
    for head in range(n_head):
        boxes.append((x, d_k, T, OKABE_ITO[head % 8], f"head {head}: {T} × {d_k}"))
        x += d_k + gap
    stages = [(0.0, x - gap, T, f"{n_head} heads<br>each {T} × {d_k}")]
    x += space - gap
    concat_x = x
    for head in range(n_head):
        boxes.append((x + head * d_k, d_k, T, OKABE_ITO[head % 8], f"concat: head {head}'s {d_k} columns"))
    stages.append((concat_x, n_head * d_k, T, f"concat<br>{T} × {n_head * d_k}"))
    x += n_head * d_k + space
    boxes.append((x, C, n_head * d_k, "#c8c8c8", f"W_o: {n_head * d_k} × {C}"))
    stages.append((x, C, n_head * d_k, f"× W_o<br>{n_head * d_k} × {C}"))
    x += C + space
    boxes.append((x, C, T, OKABE_ITO[0], f"output: {T} × {C}"))
    stages.append((x, C, T, f"= output<br>{T} × {C}"))
    right = x + C
    tallest = max(T, n_head * d_k)

    shapes = [
        {"type": "rect", "x0": x0, "x1": x0 + w, "y0": 0, "y1": -h, "fillcolor": colour, "opacity": 0.85,
         "line": {"color": "#333333", "width": 1}}
        for x0, w, h, colour, _ in boxes
    ]  # fmt: skip
    # Each stage's name above its size, on two short lines: one line was wider than its boxes on a narrow chart.
    annotations = [
        {"x": x0 + w / 2, "y": 0, "yshift": 6, "text": text, "showarrow": False, "yanchor": "bottom",
         "font": {"size": FONT_SIZE}}
        for x0, w, _, text in stages
    ]  # fmt: skip
    for (x0, w, _, _), (x1, _, _, _) in zip(stages, stages[1:], strict=False):
        annotations.append({"x": x1, "y": -T / 2, "ax": x0 + w + 1, "ay": -T / 2, "xref": "x", "yref": "y",
                            "axref": "x", "ayref": "y", "showarrow": True, "arrowhead": 2, "arrowsize": 1.5,
                            "arrowwidth": 2, "text": ""})  # fmt: skip
    hover = {
        "type": "scatter", "x": [x0 + w / 2 for x0, w, _, _, _ in boxes], "y": [-h / 2 for _, _, h, _, _ in boxes],
        "mode": "markers", "marker": {"size": 18, "opacity": 0}, "text": [text for *_, text in boxes],
        "hovertemplate": "%{text}<extra></extra>", "showlegend": False,
    }  # fmt: skip
    return figure(
        [hover], title=title, height=int(min(460, max(260, 110 + 0.6 * tallest))), shapes=shapes,
        annotations=annotations, xaxis={"visible": False, "range": [-2, right + 2], "fixedrange": True},
        yaxis={"visible": False, "range": [-tallest - 2, 0.12 * tallest + 6], "scaleanchor": "x", "fixedrange": True},
    )  # fmt: skip
