"""Figures of the embeddings page: the vocabulary as points in 2D or 3D, coloured by word class.

One colour and marker per word class, fixed across every plot of the page (before and after
training, tiny model and MiniLM), so a student can compare plots by colour alone. Fourteen
classes are more than the eight Okabe-Ito colours, so classes past the eighth repeat a colour
with another marker shape. The searched word is a large star and its nearest neighbours are
ringed, so "similar words lie close" can be checked by eye.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from llm_core.data import WORD_CLASSES
from pages.common.attention_figures import escape
from pages.common.figures import FONT_SIZE, OKABE_ITO, style

OTHER = "other"  # words of a MiniLM list that the synthetic world does not classify
# The classes a default plot shows most come first, so that each gets a colour of its own (circles);
# the rest repeat the colours as diamonds.
MAIN_CLASSES = ["animal", "food", "color", "place", "action", "number", "name", "adjective"]
CLASS_ORDER = [*MAIN_CLASSES, *(c for c in WORD_CLASSES if c not in MAIN_CLASSES), OTHER]
SYMBOLS_2D = ["circle", "diamond", "square", "triangle-up"]
SYMBOLS_3D = ["circle", "diamond", "square", "cross"]
# Okabe-Ito with its yellow darkened, so that small yellow dots stay visible on white.
PALETTE = [*OKABE_ITO[:6], "#b8a300", OKABE_ITO[7]]
RING = "#000000"  # ring around the neighbours, like the star of the searched word
LABEL_ALL_BELOW = 70  # with fewer points every word is written beside its dot


def class_style(cls: str, three_d: bool = False) -> tuple[str, str]:
    """(colour, marker symbol) of a word class, the same on every plot."""
    if cls == OTHER:
        return "#7f7f7f", "x" if not three_d else "cross"
    i = CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER)
    symbols = SYMBOLS_3D if three_d else SYMBOLS_2D
    return PALETTE[i % len(PALETTE)], symbols[(i // len(PALETTE)) % len(symbols)]


def projection(
    points: np.ndarray,
    words: Sequence[str],
    classes: Sequence[str],
    title: str,
    *,
    query: str | None = None,
    neighbours: Sequence[str] = (),
    axis_names: tuple[str, str, str] = ("component 1", "component 2", "component 3"),
    height: int = 560,
) -> go.Figure:
    """A scatter of projected word vectors (N, 2) or (N, 3), one legend entry per word class."""
    three_d = points.shape[1] == 3
    label_all = len(words) < LABEL_ALL_BELOW
    marked = set(neighbours) | ({query} if query else set())
    fig = go.Figure()
    for cls in [c for c in CLASS_ORDER if c in set(classes)]:
        rows = [i for i, c in enumerate(classes) if c == cls]
        colour, symbol = class_style(cls, three_d)
        shown = [escape(words[i]) if label_all or words[i] in marked else "" for i in rows]
        common = {
            "name": cls, "mode": "markers+text", "text": shown, "textposition": "top center",
            "customdata": [[escape(words[i]), cls] for i in rows],
            "marker": {"color": colour, "symbol": symbol, "size": 9 if three_d else 12,
                       "line": {"width": 1, "color": "white"}},
            "textfont": {"size": FONT_SIZE - 4, "color": colour},
        }  # fmt: skip
        if three_d:
            fig.add_trace(go.Scatter3d(
                x=points[rows, 0], y=points[rows, 1], z=points[rows, 2],
                hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]})<br>(%{x:.2f}, %{y:.2f}, %{z:.2f})"
                              "<extra></extra>", **common,
            ))  # fmt: skip
        else:
            fig.add_trace(go.Scatter(
                x=points[rows, 0], y=points[rows, 1],
                hovertemplate="<b>%{customdata[0]}</b> (%{customdata[1]})<br>(%{x:.2f}, %{y:.2f})<extra></extra>",
                **common,
            ))  # fmt: skip
    index = {w: i for i, w in enumerate(words)}
    ringed = [index[w] for w in neighbours if w in index]
    if ringed:
        ring = {"name": "nearest neighbours", "mode": "markers", "hoverinfo": "skip",
                "marker": {"size": 22 if not three_d else 12, "color": RING, "symbol": "circle-open",
                           "line": {"width": 3}}}  # an open symbol is drawn in the marker colour
        if three_d:
            fig.add_trace(go.Scatter3d(x=points[ringed, 0], y=points[ringed, 1], z=points[ringed, 2], **ring))
        else:
            fig.add_trace(go.Scatter(x=points[ringed, 0], y=points[ringed, 1], **ring))
    if query in index:
        q = index[query]
        star = {"name": f"“{escape(query)}”", "mode": "markers+text", "text": [f"<b>{escape(query)}</b>"],
                "textposition": "bottom center", "hoverinfo": "skip", "textfont": {"size": FONT_SIZE},
                "marker": {"size": 24 if not three_d else 14, "color": "#000000", "symbol": "star" if not three_d
                           else "diamond", "line": {"width": 2, "color": "white"}}}  # fmt: skip
        if three_d:
            fig.add_trace(go.Scatter3d(x=points[[q], 0], y=points[[q], 1], z=points[[q], 2], **star))
        else:
            fig.add_trace(go.Scatter(x=points[[q], 0], y=points[[q], 1], **star))
    if three_d:
        # Coordinates of a projection mean nothing on their own: no tick numbers, just the cloud, turnable.
        axis = {"showticklabels": False, "title": {"font": {"size": FONT_SIZE - 4}}}
        fig.update_layout(scene={
            "xaxis": {**axis, "title": {**axis["title"], "text": axis_names[0]}},
            "yaxis": {**axis, "title": {**axis["title"], "text": axis_names[1]}},
            "zaxis": {**axis, "title": {**axis["title"], "text": axis_names[2]}},
            "aspectmode": "cube", "camera": {"eye": {"x": 1.35, "y": 1.35, "z": 0.9}},
        })  # fmt: skip
        fig = style(fig, title=title, height=height)
        fig.update_layout(margin={"l": 0, "r": 0, "b": 0})
    else:
        fig = style(fig, title=title, x_title=axis_names[0], y_title=axis_names[1], height=height)
    # Below the plot, so that two plots side by side keep their width for the points.
    fig.update_layout(legend={"title": {"text": "word class "}, "itemsizing": "constant", "orientation": "h",
                              "yanchor": "top", "y": -0.14, "x": 0, "font": {"size": FONT_SIZE - 3}})
    return fig
