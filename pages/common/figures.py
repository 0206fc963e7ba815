"""Figure builders with one look for every page: readable on a projector, safe for colour blindness.

Builders take plain data (lists, numpy arrays) and return a figure as Plotly's JSON has it, a
`Figure` dict; pages show it with `ui.plot(fig, key=...)`. Every figure gets axis titles, hover
text with exact values and fonts of at least 16px. Colours: Viridis for magnitudes, a red-blue
diverging scale for signed values, and the Okabe-Ito palette for categories, all distinguishable
with colour blindness.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

FONT_SIZE = 18
TITLE_SIZE = 22
FONT_FAMILY = "Source Sans, Helvetica, Arial, sans-serif"
TEXT_COLOR = "#1f1f1f"  # near-black: grey text washes out on a projector

# Okabe & Ito (2008): eight colours that stay distinct for every common colour-vision deficiency.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"  # negative blue, positive red, zero white
MASKED_COLOR = "#3a3a3a"  # cells whose score is -inf: darker than any Viridis value
MINUS_INF = "−∞"
# A half-width heatmap has room for about a dozen rotated tokens side by side: with more columns it
# labels every second, third... one, and the hover still names every cell's token.
MAX_COLUMN_LABELS = 12
# The mode bar (zoom, PNG...) appears over a chart's top right on hover: the title sits below it.
MODE_BAR_PX = 34
TITLED_TOP = MODE_BAR_PX + 42  # top margin of a figure with a title: the bar, then the title's line
MAX_DECADE_LABELS = 6  # labels such as "100M" a half-width log axis fits side by side
# A matrix with more rows or columns than this (MiniLM's 384 × 32 W_q) has cells a few pixels wide:
# drawn without the white line between cells, which would take half of each.
MAX_GAPPED_CELLS = 64
COLORBAR_PX = 16  # thinner than Plotly's 30: a narrow heatmap keeps its width for the cells

Figure = dict  # {"data": [trace dict, ...], "layout": {...}}: what Plotly draws in the browser

# The app's own look, as a Plotly template that every figure names: one dict, never copied.
_AXIS = {
    "gridcolor": "#E5E8EE", "linecolor": "#C8CDD6", "zerolinecolor": "#C8CDD6", "automargin": True,
    # Plotly hides a tick label that would reach past the chart's edge (the last of a row of slanted token
    # labels): drawn instead, the margin grows to hold it.
    "ticklabeloverflow": "allow",
    "tickfont": {"size": FONT_SIZE - 2, "color": TEXT_COLOR}, "title": {"font": {"size": FONT_SIZE}},
}
TEMPLATE = {
    "layout": {
        "paper_bgcolor": "white", "plot_bgcolor": "white", "xaxis": _AXIS, "yaxis": _AXIS,
        "hovermode": "closest", "colorway": OKABE_ITO,
        "font": {"size": FONT_SIZE, "family": FONT_FAMILY, "color": TEXT_COLOR},
        "hoverlabel": {"font": {"size": FONT_SIZE}}, "legend": {"font": {"size": FONT_SIZE}},
        "title": {"font": {"size": TITLE_SIZE}, "x": 0, "xanchor": "left", "yref": "container", "y": 1,
                  "yanchor": "top", "pad": {"t": MODE_BAR_PX}},
    }
}

# Shown on every chart: no Plotly logo, PNG export for slides, no mode bar clutter.
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def figure(
    traces: Sequence[dict],
    *,
    title: str | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    height: int | None = None,
    **layout: object,
) -> Figure:
    """A figure from plain trace and layout dicts, with the shared look, title, axis titles and margins.

    Every builder ends here, and so does a page's own figure. Plotly's figure classes check
    each property one at a time and copy the whole figure before it is sent, 5-25 ms a figure
    on every rerun, in the server's one Python interpreter: for the whole class. So figures stay
    the dicts that Plotly's JSON is written from, and the tests run every figure a page shows
    through Plotly's checks (tests/conftest.py). `layout` holds any other layout property; the
    axis titles are merged into its `xaxis` and `yaxis`.
    """
    layout = {"template": TEMPLATE, "margin": {"l": 10, "r": 10, "t": TITLED_TOP if title else 20, "b": 10}, **layout}
    if title is not None:
        layout["title"] = {"text": title}
    if height is not None:
        layout["height"] = height
    for axis, text in (("xaxis", x_title), ("yaxis", y_title)):
        if text is not None:
            layout[axis] = {**layout.get(axis, {}), "title": {"text": text}}
    return {"data": [_with_compact_numbers(trace) for trace in traces], "layout": layout}


SIGNIFICANT_DIGITS = 7  # a float32's precision: what the models compute in, far below a pixel or a colour step
_COORDINATES = ("x", "y", "z")


def _with_compact_numbers(trace: dict) -> dict:
    """The trace with its coordinates rounded to `SIGNIFICANT_DIGITS` (non-finite ones as null).

    A float32 read as a Python float prints with 17 digits, and writing those digits is most of the
    time Plotly's JSON takes: a page's figures were written ~3x slower on every rerun. Values shown
    as text (hover, cell labels) are formatted separately, at their own precision.
    """
    out = None
    for key in _COORDINATES:
        values = trace.get(key)
        if values is None or isinstance(values, str):
            continue
        array = np.asarray(values)
        if array.dtype.kind != "f":  # labels, integers, or gaps (None): as they are
            continue
        out = out or dict(trace)
        out[key] = compact(array)
    return out or trace


def compact(values: np.ndarray) -> list:
    """Floats rounded to `SIGNIFICANT_DIGITS` significant digits (whole numbers exact), as nested lists;
    inf and NaN become None."""
    a = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(a)
    magnitude = np.floor(np.log10(np.abs(a), out=np.zeros_like(a), where=finite & (a != 0)))
    shift = np.clip(SIGNIFICANT_DIGITS - 1 - magnitude, -300, 300).astype(int)  # 10**shift stays finite
    up = np.where(shift >= 0, 10.0 ** np.abs(shift), 1.0)  # exact powers of ten, so the quotient
    down = np.where(shift < 0, 10.0 ** np.abs(shift), 1.0)  # is the nearest float to the rounded decimal
    rounded = np.where(a == np.round(a), a, np.round(a * up / down) * down / up)  # whole numbers stay exact
    if finite.all():
        return rounded.tolist()
    cells = rounded.astype(object)
    cells[~finite] = None
    return cells.tolist()


def vline(x: float, **line: object) -> dict:
    """A vertical line across the plot at `x`, as a layout shape (`shapes=[vline(...)]`)."""
    return {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1, "line": line}


def heatmap(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    title: str,
    *,
    x_title: str = "Key (attended to)",
    y_title: str = "Query (attending)",
    value_name: str = "weight",
    colorscale: str = SEQUENTIAL,
    zmin: float | None = None,
    zmax: float | None = None,
    diverging: bool = False,
    decimals: int = 3,
    show_values: bool | None = None,
    cell_decimals: int | None = None,
    height: int | None = None,
    trace: Mapping[str, object] | None = None,
    masked_trace: Mapping[str, object] | None = None,
    extra_traces: Sequence[dict] = (),
) -> Figure:
    """A labelled matrix: rows are `y_labels` (top to bottom), columns `x_labels`.

    Built for attention: -inf cells (masked scores) are drawn in their own dark colour and
    read "−∞" on hover and in the cell, instead of silently vanishing. Cells sit at integer
    positions with the labels as tick text, so a sentence that repeats a word ("the ... the")
    keeps one row per token. `diverging` centres a red-blue scale on zero, for signed values
    such as raw scores or a difference between two runs. Values are printed in the cells when
    the matrix is small enough to read them (`show_values` overrides), with `cell_decimals` (default:
    `decimals`, which the hover always shows). `trace` and
    `masked_trace` add or replace properties of the values and of the masked layer (see
    `merged`); `extra_traces` are drawn on top (a page's own layer over some cells).
    """
    z = np.asarray(matrix, dtype=float)
    if z.ndim != 2 or z.shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"matrix of shape {z.shape} does not match {len(y_labels)} x {len(x_labels)} labels")
    masked = np.isneginf(z)
    finite = z[np.isfinite(z)]
    shown = np.where(np.isfinite(z), z, np.nan)  # (rows, cols); -inf/+inf/nan drawn separately
    text = numbers(z, decimals)
    if diverging:
        colorscale = DIVERGING if colorscale == SEQUENTIAL else colorscale
        reach = float(np.abs(finite).max()) if finite.size else 1.0
        zmin, zmax = (-reach, reach) if zmin is None and zmax is None else (zmin, zmax)
    if show_values is None:
        show_values = z.shape[0] <= 12 and z.shape[1] <= 12

    rows, cols = np.indices(z.shape)
    custom = np.dstack([np.asarray(y_labels, dtype=object)[rows], np.asarray(x_labels, dtype=object)[cols], text])
    hover = (
        f"{y_title}: %{{customdata[0]}}<br>{x_title}: %{{customdata[1]}}<br>"
        f"{value_name}: %{{customdata[2]}}<extra></extra>"
    )
    gap = 1 if max(z.shape) <= MAX_GAPPED_CELLS else 0  # a white line between cells, while cells are big
    cells = {
        "type": "heatmap", "x": list(range(z.shape[1])), "y": list(range(z.shape[0])), "customdata": custom,
        "hovertemplate": hover, "xgap": gap, "ygap": gap,
    }  # fmt: skip
    values = {
        **cells, "z": shown, "colorscale": colorscale, "zmin": zmin, "zmax": zmax,
        "colorbar": {"title": {"text": value_name, "side": "right"}, "tickfont": {"size": FONT_SIZE - 2},
                     "thickness": COLORBAR_PX},
    }  # fmt: skip
    if show_values:
        cells_text = text if cell_decimals is None else numbers(z, cell_decimals)
        values |= {"text": cells_text, "texttemplate": "%{text}", "textfont": {"size": FONT_SIZE - 4}}
    traces, layout = [merged(values, trace)], {}
    if masked.any():
        # A second layer holding only the masked cells, in one flat colour, with its own legend entry.
        layer = {
            **cells, "z": np.where(masked, 1.0, np.nan), "colorscale": [[0, MASKED_COLOR], [1, MASKED_COLOR]],
            "showscale": False, "name": f"masked ({MINUS_INF})", "showlegend": True,
        }  # fmt: skip
        if show_values:  # only its own cells
            layer |= {"text": np.where(masked, text, ""), "texttemplate": "%{text}",
                      "textfont": {"size": FONT_SIZE - 4, "color": "white"}}  # fmt: skip
        traces.append(merged(layer, masked_trace))
        # Its legend at the figure's foot, in a margin of its own below the x axis's title.
        layout["legend"] = {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0, "x": 0}
        layout["margin"] = {"l": 10, "r": 10, "t": TITLED_TOP, "b": 40}
    return figure(
        [*traces, *extra_traces], title=title, x_title=x_title, y_title=y_title,
        height=height or _heatmap_height(len(y_labels)),
        xaxis=_category_axis(x_labels, math.ceil(len(x_labels) / MAX_COLUMN_LABELS), side="bottom", showgrid=False),
        yaxis=_category_axis(y_labels, autorange="reversed", showgrid=False),
        **layout,
    )  # fmt: skip


def merged(trace: dict, extra: Mapping[str, object] | None) -> dict:
    """`trace` with the properties of `extra`; a property that is a dict in both is merged, one level deep."""
    out = dict(trace)
    for name, value in (extra or {}).items():
        old = out.get(name)
        out[name] = {**old, **value} if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _category_axis(labels: Sequence[str], every: int = 1, **axis: object) -> dict:
    """An axis with a tick at every `every`-th position, labelled with `labels` (repeated labels keep
    their own ticks)."""
    positions = range(0, len(labels), max(1, every))
    return {"tickmode": "array", "tickvals": list(positions), "ticktext": [labels[i] for i in positions], **axis}


def line_chart(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    title: str,
    *,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    log_y: bool = False,
    decimals: int = 4,
    height: int | None = None,
    **layout: object,
) -> Figure:
    """One line per named series over a shared x (loss curves: x = step, series = train/val).

    `layout` holds any other layout property; its `xaxis` and `yaxis` add to the chart's own.
    """
    traces = [
        {
            "type": "scatter", "x": list(x)[: len(ys)], "y": list(ys), "mode": "lines", "name": name,
            "line": {"width": 3},
            "hovertemplate": f"{name}<br>{x_title}: %{{x}}<br>{y_title}: %{{y:.{decimals}f}}<extra></extra>",
        }  # fmt: skip
        for name, ys in series.items()
    ]
    xaxis = {"type": "log" if log_x else "linear", **layout.pop("xaxis", {})}
    yaxis = {"type": "log" if log_y else "linear", **layout.pop("yaxis", {})}
    return figure(traces, title=title, x_title=x_title, y_title=y_title, height=height, xaxis=xaxis, yaxis=yaxis,
                  **layout)  # fmt: skip


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    *,
    x_title: str,
    y_title: str,
    highlight: int | None = None,
    horizontal: bool = False,
    decimals: int = 4,
    height: int | None = None,
    max_labels: int = MAX_COLUMN_LABELS,
    trace: Mapping[str, object] | None = None,
    **layout: object,
) -> Figure:
    """Bars in the given order (a next-token distribution, token counts); `highlight` marks one bar.

    Bars sit at integer positions with the labels as tick text, so repeated labels
    (two tokens that print the same) keep separate bars. Side by side, more than `max_labels`
    bars are labelled every second, third... one (the hover names each). `trace` adds or replaces properties
    of the bars (see `merged`); `layout` holds any other layout property; its `xaxis` and
    `yaxis` add to the chart's own.
    """
    positions = list(range(len(labels)))
    colors = [OKABE_ITO[1] if i == highlight else OKABE_ITO[0] for i in positions]
    value_axis, label_axis = ("x", "y") if horizontal else ("y", "x")
    value_title = x_title if horizontal else y_title
    bar = {
        "type": "bar", label_axis: positions, value_axis: list(values), "orientation": "h" if horizontal else "v",
        "marker": {"color": colors}, "customdata": list(labels),
        "hovertemplate": f"%{{customdata}}<br>{value_title}: %{{{value_axis}:.{decimals}f}}<extra></extra>",
    }  # fmt: skip
    axes = {f"{label_axis}axis": _category_axis(labels, autorange="reversed") if horizontal
            else _category_axis(labels, math.ceil(len(labels) / max_labels))}  # fmt: skip
    for name in ("xaxis", "yaxis"):
        axes[name] = {**axes.get(name, {}), **layout.pop(name, {})}
    return figure([merged(bar, trace)], title=title, x_title=x_title, y_title=y_title, height=height, **axes,
                  **layout)  # fmt: skip


def log_dot_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    groups: Sequence[str],
    title: str,
    *,
    x_title: str,
    value_text: Sequence[str] | None = None,
    uncertain: Sequence[bool] | None = None,
    group_colors: Mapping[str, str] | None = None,
    height: int | None = None,
) -> Figure:
    """One dot per row on a logarithmic axis, coloured by group: sizes that span many orders of magnitude.

    `value_text` is printed beside each dot ("117M"); hover adds the exact number. A value
    of None is drawn as the word "unknown" in its row rather than dropped, and an `uncertain`
    value (a rumour, an estimate) as a hollow dot with "(rumoured)" after its row label, so
    the chart never looks surer than its sources. `group_colors` keeps a group's colour the
    same across several charts; otherwise groups take the palette in order. Grid lines fall
    on every power of ten; over more than `MAX_DECADE_LABELS` of them, every second one is labelled.
    """
    rows = list(range(len(labels)))
    uncertain = list(uncertain) if uncertain is not None else [False] * len(rows)
    texts = list(value_text) if value_text is not None else [short_number(v) if v else "" for v in values]
    row_labels = [label + (" (rumoured)" if u else "") for label, u in zip(labels, uncertain, strict=True)]
    traces = []
    for i, group in enumerate(dict.fromkeys(groups)):
        members = [r for r in rows if groups[r] == group and values[r] is not None]
        if not members:
            continue
        color = (group_colors or {}).get(group, OKABE_ITO[i % len(OKABE_ITO)])
        traces.append({
            "type": "scatter", "x": [values[r] for r in members], "y": members, "mode": "markers+text", "name": group,
            "marker": {"size": 20, "color": color, "line": {"width": 3, "color": color},
                       "symbol": ["circle-open" if uncertain[r] else "circle" for r in members]},
            "text": [texts[r] for r in members], "textposition": "middle right", "textfont": {"size": FONT_SIZE - 2},
            "cliponaxis": False,  # a label near the right end may run into the margin instead of being cut
            "customdata": [[row_labels[r], _exact(values[r])] for r in members],
            "hovertemplate": f"<b>%{{customdata[0]}}</b><br>{x_title}: %{{customdata[1]}}<br>%{{text}}<extra></extra>",
        })  # fmt: skip
    known = [v for v in values if v is not None]
    span = (float(np.log10(min(known))) - 0.5, float(np.log10(max(known))) + 1.5)  # room for the text labels
    unknown = [
        {"x": span[1], "y": r, "text": "unknown", "showarrow": False, "xanchor": "right", "xref": "x",
         "font": {"size": FONT_SIZE - 2, "color": "#555555"}}
        for r in rows if values[r] is None
    ]  # fmt: skip
    ticks = log_ticks(10 ** span[0], 10 ** span[1])
    legend = len(traces) > 1
    return figure(
        traces, title=title, x_title=x_title, height=height or int(190 + 46 * len(rows)),
        xaxis={"type": "log", "range": list(span), **ticks, "showgrid": True, "gridcolor": "#dddddd"},
        yaxis={"tickmode": "array", "tickvals": rows, "ticktext": row_labels, "showgrid": False, "zeroline": False,
               "range": [len(rows) - 0.5, -0.5],  # first row at the top
               "ticklabelstandoff": 12},  # clear of a dot at the smallest value, however many decades the axis spans
        annotations=unknown, showlegend=legend,
        margin={"l": 10, "r": 50, "t": TITLED_TOP, "b": 70 if legend else 10},
        legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0, "x": 0, "xanchor": "left"},
    )  # fmt: skip


def log_ticks(low: float, high: float) -> dict:
    """Labelled ticks ("100", "1K", "10K") of a log axis that runs from `low` to `high` (> 0).

    Every power of ten gets a tick and its grid line; over more than `MAX_DECADE_LABELS` of them only
    every second one is labelled. A range under two decades also gets 2 and 5 times each power of ten,
    so that it still shows several labels.
    """
    if math.log10(high / low) < 2:
        exponents = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        ticks = [t for e in exponents for m in (1, 2, 5) if low <= (t := m * 10.0**e) <= high]
        return {"tickmode": "array", "tickvals": ticks, "ticktext": [short_number(t) for t in ticks]}
    decades = range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1)
    every = 1 if len(decades) <= MAX_DECADE_LABELS else 2
    return {"tickmode": "array", "tickvals": [10.0**d for d in decades],
            "ticktext": [short_number(10.0**d) if i % every == 0 else "" for i, d in enumerate(decades)]}


def short_number(value: float) -> str:
    """117000000 -> "117M": how sizes are spoken about in papers and in class."""
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


_SPECIAL = {"-inf": MINUS_INF, "inf": "+∞", "nan": "n/a"}


def numbers(values: np.ndarray, decimals: int) -> np.ndarray:
    """Each value as printed in a cell ("0.250", "−1.500", "−∞", "n/a"), in an array of the same shape."""
    cells = (f"{v:.{decimals}f}" for v in np.asarray(values, dtype=float).ravel().tolist())
    return np.array([_SPECIAL.get(c) or c.replace("-", "−") for c in cells], dtype=object).reshape(np.shape(values))


def _exact(value: float) -> str:
    """Every digit of a size, with thousands separators: 117,000,000 or 4.5."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _heatmap_height(n_rows: int) -> int:
    """Tall enough that every row label is readable, never taller than a projected screen."""
    return int(min(720, max(320, 120 + 38 * n_rows)))
