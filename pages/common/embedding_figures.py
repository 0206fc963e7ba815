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

from llm_core.data import WORD_CLASSES
from pages.common.attention_figures import escape
from pages.common.figures import FONT_SIZE, OKABE_ITO, TITLED_TOP, Figure, figure

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
LEGEND_PX = 220  # the class legend's margin: 16 entries in two columns, as half a 1280 screen has room for


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
) -> Figure:
    """A scatter of projected word vectors (N, 2) or (N, 3), one legend entry per word class."""
    three_d = points.shape[1] == 3
    label_all = len(words) < LABEL_ALL_BELOW
    marked = set(neighbours)  # labelled even when not every word is; the query gets its own bold label
    kind = "scatter3d" if three_d else "scatter"

    def at(rows: list[int]) -> dict:  # the coordinates of some points
        return dict(zip("xyz", (points[rows, d] for d in range(points.shape[1])), strict=False))

    where = "(%{x:.2f}, %{y:.2f}, %{z:.2f})" if three_d else "(%{x:.2f}, %{y:.2f})"
    traces = []
    for cls in [c for c in CLASS_ORDER if c in set(classes)]:
        rows = [i for i, c in enumerate(classes) if c == cls]
        colour, symbol = class_style(cls, three_d)
        shown = [escape(words[i]) if (label_all or words[i] in marked) and words[i] != query else "" for i in rows]
        traces.append({
            "type": kind, **at(rows), "name": cls, "mode": "markers+text", "text": shown,
            "textposition": "top center", "customdata": [[escape(words[i]), cls] for i in rows],
            "hovertemplate": f"<b>%{{customdata[0]}}</b> (%{{customdata[1]}})<br>{where}<extra></extra>",
            "marker": {"color": colour, "symbol": symbol, "size": 9 if three_d else 12,
                       "line": {"width": 1, "color": "white"}},
            "textfont": {"size": FONT_SIZE - 4, "color": colour},
        })  # fmt: skip
    index = {w: i for i, w in enumerate(words)}
    ringed = [index[w] for w in neighbours if w in index]
    if ringed:
        traces.append({
            "type": kind, **at(ringed), "name": "nearest neighbours", "mode": "markers", "hoverinfo": "skip",
            "marker": {"size": 22 if not three_d else 12, "color": RING, "symbol": "circle-open", "line": {"width": 3}},
        })  # an open symbol is drawn in the marker colour  # fmt: skip
    if query in index:
        traces.append({
            "type": kind, **at([index[query]]), "name": f"“{escape(query)}”", "mode": "markers+text",
            "text": [f"<b>{escape(query)}</b>"], "textposition": "bottom center", "hoverinfo": "skip",
            "textfont": {"size": FONT_SIZE},
            "marker": {"size": 24 if not three_d else 14, "color": "#000000",
                       "symbol": "star" if not three_d else "diamond", "line": {"width": 2, "color": "white"}},
        })  # fmt: skip
    # Below the plot, so that two plots side by side keep their width for the points.
    # At the figure's foot, in a margin of its own (below the x axis's title, not over it); entries of one width
    # line up in columns.
    legend = {"title": {"text": "word class", "side": "top"}, "itemsizing": "constant", "orientation": "h",
              "xref": "container", "x": 0, "yref": "container", "yanchor": "bottom", "y": 0,
              "font": {"size": FONT_SIZE - 3}, "entrywidth": 0.5, "entrywidthmode": "fraction"}  # fmt: skip
    margin = {"l": 10, "r": 10, "t": TITLED_TOP, "b": LEGEND_PX}
    if not three_d:
        return figure(traces, title=title, x_title=axis_names[0], y_title=axis_names[1], height=height + LEGEND_PX,
                      legend=legend, margin=margin)  # fmt: skip
    # Coordinates of a projection mean nothing on their own: no tick numbers, just the cloud, turnable.
    axes = {
        f"{name}axis": {"showticklabels": False, "title": {"font": {"size": FONT_SIZE - 4}, "text": text}}
        for name, text in zip("xyz", axis_names, strict=True)
    }
    scene = {**axes, "aspectmode": "cube", "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 1.0}}}
    return figure(traces, title=title, height=height + LEGEND_PX, scene=scene, legend=legend,
                  margin={**margin, "l": 0, "r": 0})  # fmt: skip
