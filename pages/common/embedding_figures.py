"""Figures of the embeddings page: the vocabulary as points in 2D or 3D, coloured by word class.

One colour and marker per word class, fixed across every plot of the page (before and after
training, tiny model and MiniLM), so a student can compare plots by colour alone. Fourteen
classes are more than the eight Okabe-Ito colours, so classes past the eighth repeat a colour
with another marker shape. The searched word is a large star and its nearest neighbours are
ringed, so "similar words lie close" can be checked by eye. Word labels are drawn over every
marker, and on a flat plot each takes the first side of its point (above, below, right, left...)
where it covers no other label and no other point, the searched word first, then its neighbours.
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
SCENE_PX = 400  # the height of a 3D scene
PLOT_PX = 300  # the plotting area's width as labels are placed: half a 1280 screen beside the sidebar ...
WIDE_PLOT_PX = 680  # ... or all of it
LABEL_SIZE = FONT_SIZE - 4
# Sides of a point a label may take, in order of preference, as Plotly names them and as (dx, dy) from the
# point to the label's centre in units of (half the label's width + the marker's radius, of its height...).
LABEL_SIDES = {"top center": (0, -1), "bottom center": (0, 1), "middle right": (1, 0), "middle left": (-1, 0),
               "top right": (1, -1), "top left": (-1, -1), "bottom right": (1, 1), "bottom left": (-1, 1)}


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
    plot_px: int = PLOT_PX,
) -> Figure:
    """A scatter of projected word vectors (N, 2) or (N, 3), one legend entry per word class. `height` is a
    flat plot's, without its legend; a 3D scene is SCENE_PX tall, whatever the width of its column. `plot_px`:
    about how wide the plotting area will be on screen, as the labels are placed."""
    three_d = points.shape[1] == 3
    label_all = len(words) < LABEL_ALL_BELOW
    kind = "scatter3d" if three_d else "scatter"

    def at(rows: list[int]) -> dict:  # the coordinates of some points
        return dict(zip("xyz", (points[rows, d] for d in range(points.shape[1])), strict=False))

    where = "(%{x:.2f}, %{y:.2f}, %{z:.2f})" if three_d else "(%{x:.2f}, %{y:.2f})"
    traces = []
    for cls in [c for c in CLASS_ORDER if c in set(classes)]:
        rows = [i for i, c in enumerate(classes) if c == cls]
        colour, symbol = class_style(cls, three_d)
        traces.append({
            "type": kind, **at(rows), "name": cls, "mode": "markers",
            "customdata": [[escape(words[i]), cls] for i in rows],
            "hovertemplate": f"<b>%{{customdata[0]}}</b> (%{{customdata[1]}})<br>{where}<extra></extra>",
            "marker": {"color": colour, "symbol": symbol, "size": 9 if three_d else 12,
                       "line": {"width": 1, "color": "white"}},
        })  # fmt: skip
    index = {w: i for i, w in enumerate(words)}
    ringed = [index[w] for w in neighbours if w in index]
    if ringed:
        traces.append({
            "type": kind, **at(ringed), "name": "neighbours", "mode": "markers", "hoverinfo": "skip",
            "marker": {"size": 22 if not three_d else 12, "color": RING, "symbol": "circle-open", "line": {"width": 3}},
        })  # an open symbol is drawn in the marker colour  # fmt: skip
    if query in index:
        traces.append({
            "type": kind, **at([index[query]]), "name": f"“{escape(query)}”", "mode": "markers", "hoverinfo": "skip",
            "marker": {"size": 24 if not three_d else 14, "color": "#000000",
                       "symbol": "star" if not three_d else "diamond", "line": {"width": 2, "color": "white"}},
        })  # fmt: skip
    # The labels last, over every marker: the searched word, its neighbours nearest first, then the rest.
    labelled = [index[query]] if query in index else []
    labelled += [i for i in ringed if i not in labelled]
    labelled += [i for i, w in enumerate(words) if label_all and i not in labelled]
    texts, sizes, markers, colours = [], [], [], []
    star, ring, dot = (14, 12, 9) if three_d else (24, 24, 12)  # the sizes drawn (a ring: with its line)
    for n, i in enumerate(labelled):
        searched = n == 0 and query in index  # the searched word's label: bold, black and larger, beside its star
        texts.append(f"<b>{escape(words[i])}</b>" if searched else escape(words[i]))
        sizes.append(FONT_SIZE if searched else LABEL_SIZE)
        markers.append(star if searched else ring if i in ringed else dot)
        colours.append("#000000" if searched else class_style(classes[i])[0])
    if labelled:
        traces.append({
            # Invisible markers as large as the ones drawn, which Plotly keeps the text clear of.
            "type": kind, **at(labelled), "name": "word labels", "mode": "markers+text", "hoverinfo": "skip",
            "marker": {"size": markers, "opacity": 0},
            "showlegend": False, "text": texts, "textfont": {"size": sizes, "color": colours},
            "textposition": "top center" if three_d
            else label_sides(points, labelled, words, sizes, markers, height, plot_px),
        })  # fmt: skip
        if not three_d:  # a label beside a point at the edge runs into the margin rather than being cut
            traces[-1]["cliponaxis"] = False
    # Below the plot, so that two plots side by side keep their width for the points.
    # At the figure's foot, in a margin of its own (below the x axis's title, not over it); entries of one width
    # line up in columns: two, or four across a wide plot (not two far apart).
    legend = {"title": {"text": "word class", "side": "top"}, "itemsizing": "constant", "orientation": "h",
              "xref": "container", "x": 0, "yref": "container", "yanchor": "bottom", "y": 0,
              "font": {"size": FONT_SIZE - 3}, "entrywidth": 0.5 if plot_px < WIDE_PLOT_PX else 0.25,
              "entrywidthmode": "fraction"}  # fmt: skip
    margin = {"l": 10, "r": 10, "t": TITLED_TOP, "b": LEGEND_PX}
    if not three_d:
        return figure(traces, title=title, x_title=axis_names[0], y_title=axis_names[1], height=height + LEGEND_PX,
                      legend=legend, margin=margin)  # fmt: skip
    # Coordinates of a projection mean nothing on their own: no tick numbers, just the cloud, turnable.
    axes = {
        f"{name}axis": {"showticklabels": False, "title": {"font": {"size": FONT_SIZE - 4}, "text": text}}
        for name, text in zip("xyz", axis_names, strict=True)
    }
    # Plotly fits the cube to the scene's height: a scene about as tall as a half-screen column is wide
    # shows all of the cube there, with no empty band above it.
    scene = {**axes, "aspectmode": "cube", "camera": {"eye": {"x": 1.5, "y": 1.5, "z": 0.95}}}
    return figure(traces, title=title, height=TITLED_TOP + SCENE_PX + LEGEND_PX, scene=scene, legend=legend,
                  margin={**margin, "l": 0, "r": 0})  # fmt: skip


def label_sides(
    points: np.ndarray, labelled: list[int], words: Sequence[str], sizes: list[int], markers: list[int], height: int,
    plot_px: int = PLOT_PX,
) -> list[str]:
    """A side of its point (a key of LABEL_SIDES) for each label of a flat plot, placed in order (font and
    marker sizes in px).

    Each label takes the first side where it covers no label placed before it, no other point and nothing
    outside the plot; where every side does, the side that covers least. Sizes are estimated in pixels
    from the plot's data ranges (as Plotly pads them) and a plotting area of `plot_px` by the figure's height.
    """
    finite = points[np.isfinite(points).all(1)]  # a point without coordinates is not drawn: it takes no room
    lo, hi = (finite.min(0), finite.max(0)) if len(finite) else (np.zeros(2), np.ones(2))
    pad = (hi - lo) * 0.06 + 1e-9
    area = np.array([plot_px, height - TITLED_TOP - 60])  # the axis titles and ticks take the rest
    px = (points - lo + pad) / (hi - lo + 2 * pad) * area
    px[:, 1] = area[1] - px[:, 1]  # pixels run down the screen
    px[~np.isfinite(px)] = -1e6
    radius = np.full((len(px), 1), 7.0)  # of a point's dot with its white outline, or of its star or ring
    radius[labelled, 0] = np.array(markers) / 2 + 1
    dots = np.concatenate([px - radius, px + radius], axis=1)  # (N, 4) boxes: x0, y0, x1, y1
    plot = np.array([[0.0, 0.0, *area]])
    sides, steps = list(LABEL_SIDES), np.array(list(LABEL_SIDES.values()))  # 8 names, (8, 2) directions
    placed, out = np.zeros((0, 4)), []
    for i, size, marker in zip(labelled, sizes, markers, strict=True):
        half = np.array([0.55 * size * len(words[i]) / 2, 0.6 * size])  # half the label's width and height
        centres = px[i] + steps * (half + marker / 2 + 2)
        boxes = np.concatenate([centres - half, centres + half], axis=1)  # (8, 4): one per side
        outside = 4 * half.prod() - _overlap(boxes, plot)
        cost = _overlap(boxes, placed) + _overlap(boxes, np.delete(dots, i, axis=0)) + outside
        best = int(np.argmin(cost))  # the first side among the cheapest: the preferred one
        placed = np.vstack([placed, boxes[best]])
        out.append(sides[best])
    return out


def _overlap(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """For each box (x0, y0, x1, y1), the area it shares with all of `others`, summed: (len(boxes),)."""
    width = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(boxes[:, None, 0], others[None, :, 0])
    height = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(boxes[:, None, 1], others[None, :, 1])
    return (width.clip(0) * height.clip(0)).sum(1)
