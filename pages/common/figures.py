"""Figure builders with one look for every page: readable on a projector, safe for colour blindness.

Builders take plain data (lists, numpy arrays) and return a Plotly figure; pages show it with
`ui.plot(fig, key=...)`. Every figure gets axis titles, hover text with exact values and
fonts of at least 16px. Colours: Viridis for magnitudes, a red-blue diverging scale for signed
values, and the Okabe-Ito palette for categories, all distinguishable with colour blindness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

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

# The app's own look lives in a template set once as Plotly's default, so a figure pays nothing
# for it: applying a stock template or a dozen layout updates costs 50-100 ms per figure.
_AXIS = {
    "gridcolor": "#E5E8EE", "linecolor": "#C8CDD6", "zerolinecolor": "#C8CDD6", "automargin": True,
    "tickfont": {"size": FONT_SIZE - 2, "color": TEXT_COLOR}, "title": {"font": {"size": FONT_SIZE}},
}
pio.templates["llm_app"] = go.layout.Template(
    layout={
        "paper_bgcolor": "white", "plot_bgcolor": "white", "xaxis": _AXIS, "yaxis": _AXIS,
        "hovermode": "closest", "colorway": OKABE_ITO,
        "font": {"size": FONT_SIZE, "family": FONT_FAMILY, "color": TEXT_COLOR},
        "hoverlabel": {"font": {"size": FONT_SIZE}}, "legend": {"font": {"size": FONT_SIZE}},
        "title": {"font": {"size": TITLE_SIZE}, "x": 0, "xanchor": "left", "yref": "container", "y": 0.98,
                  "yanchor": "top"},
    }
)
pio.templates.default = "llm_app"

# Shown on every chart: no Plotly logo, PNG export for slides, no mode bar clutter.
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def style(fig: go.Figure, *, title: str | None = None, x_title: str | None = None,
          y_title: str | None = None, height: int | None = None) -> go.Figure:
    """Title, axis titles and margins; every builder ends here, and a page's own figure should too."""
    layout: dict = {"margin": {"l": 10, "r": 10, "t": 60 if title else 20, "b": 10}}
    if title is not None:
        layout["title"] = {"text": title}
    if height is not None:
        layout["height"] = height
    fig.update_layout(layout)
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)  # every subplot's axis
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


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
    height: int | None = None,
) -> go.Figure:
    """A labelled matrix: rows are `y_labels` (top to bottom), columns `x_labels`.

    Built for attention: -inf cells (masked scores) are drawn in their own dark colour and
    read "−∞" on hover and in the cell, instead of silently vanishing. Cells sit at integer
    positions with the labels as tick text, so a sentence that repeats a word ("the ... the")
    keeps one row per token. `diverging` centres a red-blue scale on zero, for signed values
    such as raw scores or a difference between two runs. Values are printed in the cells when
    the matrix is small enough to read them (`show_values` overrides).
    """
    z = np.asarray(matrix, dtype=float)
    if z.ndim != 2 or z.shape != (len(y_labels), len(x_labels)):
        raise ValueError(f"matrix of shape {z.shape} does not match {len(y_labels)} x {len(x_labels)} labels")
    masked = np.isneginf(z)
    finite = z[np.isfinite(z)]
    shown = np.where(np.isfinite(z), z, np.nan)  # (rows, cols); -inf/+inf/nan drawn separately
    text = np.vectorize(lambda v: _number(v, decimals))(z) if z.size else np.empty(z.shape, dtype=str)
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
    fig = go.Figure(
        go.Heatmap(
            z=shown, x=list(range(z.shape[1])), y=list(range(z.shape[0])),
            colorscale=colorscale, zmin=zmin, zmax=zmax, customdata=custom, hovertemplate=hover,
            text=text if show_values else None, texttemplate="%{text}" if show_values else None,
            textfont={"size": FONT_SIZE - 4}, xgap=1, ygap=1,
            colorbar={"title": {"text": value_name, "side": "right"}, "tickfont": {"size": FONT_SIZE - 2}},
        )
    )
    if masked.any():
        # A second layer holding only the masked cells, in one flat colour, with its own legend entry.
        fig.add_trace(
            go.Heatmap(
                z=np.where(masked, 1.0, np.nan), x=list(range(z.shape[1])), y=list(range(z.shape[0])),
                colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]], showscale=False, customdata=custom,
                hovertemplate=hover, text=np.where(masked, text, "") if show_values else None,  # only its own cells
                texttemplate="%{text}" if show_values else None,
                textfont={"size": FONT_SIZE - 4, "color": "white"}, xgap=1, ygap=1,
                name=f"masked ({MINUS_INF})", showlegend=True,
            )
        )
        fig.update_layout(legend={"orientation": "h", "y": -0.15, "x": 0})
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(x_labels))), ticktext=list(x_labels),
                     side="bottom", showgrid=False)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(y_labels))), ticktext=list(y_labels),
                     autorange="reversed", showgrid=False)
    return style(fig, title=title, x_title=x_title, y_title=y_title, height=height or _heatmap_height(len(y_labels)))


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
) -> go.Figure:
    """One line per named series over a shared x (loss curves: x = step, series = train/val)."""
    fig = go.Figure()
    for name, ys in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(x)[: len(ys)], y=list(ys), mode="lines", name=name, line={"width": 3},
                hovertemplate=f"{name}<br>{x_title}: %{{x}}<br>{y_title}: %{{y:.{decimals}f}}<extra></extra>",
            )
        )
    fig.update_xaxes(type="log" if log_x else "linear")
    fig.update_yaxes(type="log" if log_y else "linear")
    return style(fig, title=title, x_title=x_title, y_title=y_title, height=height)


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
) -> go.Figure:
    """Bars in the given order (a next-token distribution, token counts); `highlight` marks one bar.

    Bars sit at integer positions with the labels as tick text, so repeated labels
    (two tokens that print the same) keep separate bars.
    """
    positions = list(range(len(labels)))
    colors = [OKABE_ITO[1] if i == highlight else OKABE_ITO[0] for i in positions]
    value_axis, label_axis = ("x", "y") if horizontal else ("y", "x")
    value_title = x_title if horizontal else y_title
    hover = f"%{{customdata}}<br>{value_title}: %{{{value_axis}:.{decimals}f}}<extra></extra>"
    bar = go.Bar(
        **{label_axis: positions, value_axis: list(values)},
        orientation="h" if horizontal else "v",
        marker_color=colors,
        customdata=list(labels),
        hovertemplate=hover,
    )
    fig = go.Figure(bar)
    axis_update = {"tickmode": "array", "tickvals": positions, "ticktext": list(labels)}
    if horizontal:
        fig.update_yaxes(autorange="reversed", **axis_update)
    else:
        fig.update_xaxes(**axis_update)
    return style(fig, title=title, x_title=x_title, y_title=y_title, height=height)


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
) -> go.Figure:
    """One dot per row on a logarithmic axis, coloured by group: sizes that span many orders of magnitude.

    `value_text` is printed beside each dot ("117M"); hover adds the exact number. A value
    of None is drawn as the word "unknown" in its row rather than dropped, and an `uncertain`
    value (a rumour, an estimate) as a hollow dot with "(rumoured)" after its row label, so
    the chart never looks surer than its sources. `group_colors` keeps a group's colour the
    same across several charts; otherwise groups take the palette in order. Grid lines fall
    on every power of ten.
    """
    rows = list(range(len(labels)))
    uncertain = list(uncertain) if uncertain is not None else [False] * len(rows)
    texts = list(value_text) if value_text is not None else [short_number(v) if v else "" for v in values]
    row_labels = [label + (" (rumoured)" if u else "") for label, u in zip(labels, uncertain, strict=True)]
    fig = go.Figure()
    for i, group in enumerate(dict.fromkeys(groups)):
        members = [r for r in rows if groups[r] == group and values[r] is not None]
        if not members:
            continue
        color = (group_colors or {}).get(group, OKABE_ITO[i % len(OKABE_ITO)])
        fig.add_trace(
            go.Scatter(
                x=[values[r] for r in members], y=members, mode="markers+text", name=group,
                marker={"size": 20, "color": color, "line": {"width": 3, "color": color},
                        "symbol": ["circle-open" if uncertain[r] else "circle" for r in members]},
                text=[texts[r] for r in members], textposition="middle right",
                textfont={"size": FONT_SIZE - 2},
                customdata=[[row_labels[r], _exact(values[r])] for r in members],
                hovertemplate=f"<b>%{{customdata[0]}}</b><br>{x_title}: %{{customdata[1]}}<br>%{{text}}<extra></extra>",
            )
        )
    known = [v for v in values if v is not None]
    span = (float(np.log10(min(known))) - 0.5, float(np.log10(max(known))) + 1.5)  # room for the text labels
    for r in rows:
        if values[r] is None:
            fig.add_annotation(x=span[1], y=r, text="unknown", showarrow=False, xanchor="right", xref="x",
                               font={"size": FONT_SIZE - 2, "color": "#555555"})
    fig.update_xaxes(type="log", range=list(span), dtick=1, showgrid=True, gridcolor="#dddddd")
    fig.update_yaxes(tickmode="array", tickvals=rows, ticktext=row_labels, showgrid=False, zeroline=False,
                     range=[len(rows) - 0.5, -0.5])  # first row at the top
    fig = style(fig, title=title, x_title=x_title, height=height or int(190 + 46 * len(rows)))
    fig.update_layout(showlegend=len(fig.data) > 1, margin={"b": 70 if len(fig.data) > 1 else 10},
                      legend={"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0.0,
                              "x": 0, "xanchor": "left"})
    return fig


def short_number(value: float) -> str:
    """117000000 -> "117M": how sizes are spoken about in papers and in class."""
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _number(value: float, decimals: int) -> str:
    if np.isneginf(value):
        return MINUS_INF
    if np.isposinf(value):
        return "+∞"
    if np.isnan(value):
        return "n/a"
    return f"{value:.{decimals}f}".replace("-", "−")


def _exact(value: float) -> str:
    """Every digit of a size, with thousands separators: 117,000,000 or 4.5."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,}"


def _heatmap_height(n_rows: int) -> int:
    """Tall enough that every row label is readable, never taller than a projected screen."""
    return int(min(720, max(320, 120 + 38 * n_rows)))
