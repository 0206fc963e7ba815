"""Token chips: a tokenized text drawn as a row of coloured boxes, one per token, as a Plotly figure.

A figure rather than HTML, so no user text ever reaches the page as markup: every label and
hover text is escaped for Plotly's small HTML subset (`<b>`, `<br>`, `<a>` ...), and
"<script>" shows as those eight characters. Chips are laid out on a grid of character
columns and wrap like text; a newline in the text starts a new row. Whitespace that a token
carries is made visible ("▁" for a space, "↵" for a newline), since a leading space is part
of many subword tokens, and so are characters that draw nothing (a zero-width space shows as
"⟨U+200B⟩").

Colours: neighbouring chips cycle through light Okabe-Ito tints with dark text; special
tokens ([CLS], [PAD], ...) are dark with white text; [UNK] is vermillion with a heavy border,
the one colour reserved for "this went wrong". Hovering a chip gives its ID and the characters
of the text it covers.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from pages.common.figures import FONT_FAMILY, FONT_SIZE, Figure, figure

CHIP_FONT_SIZE = 20  # px; readable from the back of a lecture hall
MONOSPACE = "Source Code Pro, DejaVu Sans Mono, Menlo, Consolas, monospace"
LINE_COLUMNS = 56  # character columns per row of chips (about 700 px of text at 20 px)
ROW_PX = 46
CHIP_PAD = 1.0  # columns of padding around a chip's text
CHIP_GAP = 0.35  # columns between two chips
MAX_CHIPS = 400  # a longer text shows its first chips; the table lists every token

# Light tints of the Okabe-Ito colours (blue, orange, green, pink, sky blue, yellow): dark
# text stays readable on all of them, and neighbouring chips never share one.
TINTS = ["#a6cee9", "#f5d08a", "#8fd6bf", "#e8bcd6", "#c3e4f7", "#f4ec9c"]
SPECIAL_FILL = "#2b2b2b"
UNKNOWN_FILL = "#D55E00"  # Okabe-Ito vermillion
HIGHLIGHT_LINE = "#000000"

_VISIBLE = {" ": "▁", "\n": "↵", "\t": "⇥", "\r": "↵", "\u00a0": "⍽", "\u3000": "▁▁"}


def visible(token: str) -> str:
    """The token as a chip shows it: spaces, newlines and tabs drawn as symbols, invisible characters
    by their code point, never blank.

    A token made only of combining marks (an accent typed on its own) is shown on a dotted
    circle, the way Unicode charts print it, so that it does not vanish or merge with its
    neighbour.
    """
    if token == "":
        return "∅"
    shown = reveal("".join(_VISIBLE.get(ch, ch) for ch in token))
    if all(unicodedata.combining(ch) for ch in shown):
        shown = "◌" + shown
    return shown


_JOINERS = "\u200c\u200d"  # zero-width (non-)joiners: part of emoji sequences and of Persian or Hindi words
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp", "Zs")  # Unicode categories: controls, formats, separators
_KEPT = _JOINERS + " \n\t"


def reveal(text: str) -> str:
    """The text with each character that draws nothing or turns the text around it (a zero-width space,
    a right-to-left override, a control character, an unusual space) written as its code point,
    "⟨U+200B⟩". Joiners stay inside a word or an emoji sequence, where they do their job, and are
    written out only when the text has nothing else to show."""
    if text and all(ch in _JOINERS for ch in text):
        return "".join(f"⟨U+{ord(ch):04X}⟩" for ch in text)
    return "".join(
        f"⟨U+{ord(ch):04X}⟩" if unicodedata.category(ch) in _INVISIBLE and ch not in _KEPT else ch
        for ch in text
    )


def columns(shown: str) -> int:
    """Monospace columns a string takes: 2 for wide CJK characters and emoji, 0 for combining marks."""
    width = 0
    for ch in shown:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return max(width, 1)


def fitted(shown: str, line_columns: float = LINE_COLUMNS) -> str:
    """The chip's label, shortened with "…" when the chip would be wider than a row (the hover keeps it all)."""
    if columns(shown) + CHIP_PAD <= line_columns:
        return shown
    kept = ""
    for ch in shown:
        if columns(kept + ch + "…") + CHIP_PAD > line_columns:
            break
        kept += ch
    return kept + "…"


def layout(widths: Sequence[float], breaks: Sequence[bool], line_columns: float = LINE_COLUMNS
           ) -> list[tuple[int, float]]:
    """(row, starting column) of each chip, wrapping like text.

    `breaks[i]` starts a new row after chip i (the token held a newline). A chip as wide as
    a row (a label `fitted` to it) gets a row of its own.
    """
    places, row, col = [], 0, 0.0
    for width, brk in zip(widths, breaks, strict=True):
        if col > 0 and col + width > line_columns:
            row, col = row + 1, 0.0
        places.append((row, col))
        col += width + CHIP_GAP
        if brk:
            row, col = row + 1, 0.0
    return places


def _escape(text: str) -> str:
    """Escape for Plotly's text renderer, which reads tags such as <b> and <a href> in labels."""
    return html.escape(text, quote=False)


@dataclass(frozen=True)
class Chips:
    """One tokenized text to draw: parallel per-token lists, and a label for a group of rows.

    `offsets` and `text` let the hover show which characters of the text a token stands for
    (for [UNK] that is the word it replaced). `special`, `unknown` and `highlight` are
    per-token flags: drawn dark, drawn vermillion, drawn with a heavy outline (for instance
    the token a BPE merge just created).
    """

    tokens: Sequence[str]
    ids: Sequence[int]
    offsets: Sequence[tuple[int, int]] | None = None
    text: str | None = None
    special: Sequence[bool] | None = None
    unknown: Sequence[bool] | None = None
    highlight: Sequence[bool] | None = None
    label: str = ""


def token_chips(
    tokens: Sequence[str],
    ids: Sequence[int],
    *,
    offsets: Sequence[tuple[int, int]] | None = None,
    text: str | None = None,
    special: Sequence[bool] | None = None,
    unknown: Sequence[bool] | None = None,
    highlight: Sequence[bool] | None = None,
    max_chips: int = MAX_CHIPS,
    line_columns: float = LINE_COLUMNS,
) -> Figure:
    """One chip per token, in reading order, with the ID and the covered characters on hover.

    Only the first `max_chips` tokens are drawn. See `Chips` for the arguments.
    """
    group = Chips(tokens, ids, offsets, text, special, unknown, highlight)
    return chips_figure([group], max_chips=max_chips, line_columns=line_columns)


def chips_figure(groups: Sequence[Chips], *, max_chips: int = MAX_CHIPS, line_columns: float = LINE_COLUMNS
                 ) -> Figure:
    """Several tokenized texts in one figure, each starting on a new row, labelled on the left.

    One figure rather than one per text keeps tokenizers aligned for comparison, and costs one
    chart's overhead on every rerun instead of several.
    """
    traces: dict[str, list] = {k: [] for k in ("row", "start", "width", "shown", "fill", "ink", "line", "lw", "hover")}
    label_rows, label_text, first_row = [], [], 0
    for group in groups:
        n_rows = _add_group(traces, group, first_row, max_chips, line_columns)
        if group.label:
            label_rows.append(first_row)
            label_text.append(_escape(group.label).replace("\n", "<br>"))
        first_row += n_rows

    # The chips' own look (template "none"), not the charts': no grid, no axis styling, just text. The labels
    # are the bars' own text: Plotly shrinks text that does not fit inside its bar, so on a chart narrower than
    # a row's LINE_COLUMNS at full size (a 1024 px screen) every label still sits inside its chip, and
    # `uniformtext` keeps them all at one size.
    bars = {
        "type": "bar", "orientation": "h", "y": traces["row"], "x": traces["width"], "base": traces["start"],
        "width": 0.8, "customdata": traces["hover"], "hovertemplate": "%{customdata}<extra></extra>",
        "marker": {"color": traces["fill"], "line": {"color": traces["line"], "width": traces["lw"]},
                   "cornerradius": 6},
        "text": [_escape(s) for s in traces["shown"]], "textposition": "inside", "insidetextanchor": "middle",
        "textangle": 0, "constraintext": "inside",
        "insidetextfont": {"size": CHIP_FONT_SIZE, "family": MONOSPACE, "color": traces["ink"]},
        "showlegend": False, "name": "tokens",
    }
    n_rows = max(first_row, 1)
    y_axis = {"range": [n_rows - 0.5, -0.5], "fixedrange": True, "showgrid": False, "zeroline": False}
    if label_rows:
        y_axis.update(tickmode="array", tickvals=label_rows, ticktext=label_text, ticks="",
                      tickfont={"size": FONT_SIZE, "family": FONT_FAMILY}, automargin=True)
    else:
        y_axis["visible"] = False
    separators = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": row - 0.5, "y1": row - 0.5,
         "line": {"color": "#bbbbbb", "width": 1}}
        for row in label_rows[1:]
    ]
    page_layout = {
        "template": "none", "height": 24 + ROW_PX * n_rows, "margin": {"l": 4, "r": 4, "t": 8, "b": 8},
        "font": {"size": FONT_SIZE, "family": FONT_FAMILY, "color": "#1f1f1f"},
        "hoverlabel": {"font": {"size": FONT_SIZE, "family": MONOSPACE}}, "hovermode": "closest",
        "bargap": 0, "dragmode": False, "uniformtext": {"mode": "show", "minsize": 1},
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "#ffffff",
        "xaxis": {"visible": False, "range": [-0.2, line_columns + 0.2], "fixedrange": True},
        "yaxis": y_axis, "shapes": separators,
    }
    return figure([bars], **page_layout)


def _add_group(traces: dict[str, list], group: Chips, first_row: int, max_chips: int, line_columns: float) -> int:
    """Lay out one text's chips from `first_row` on, appending to `traces`; returns the rows used."""
    tokens = group.tokens
    n = min(len(tokens), max_chips)
    special = list(group.special) if group.special is not None else [False] * len(tokens)
    unknown = list(group.unknown) if group.unknown is not None else [False] * len(tokens)
    highlight = list(group.highlight) if group.highlight is not None else [False] * len(tokens)

    shown = [visible(t) for t in tokens[:n]]
    labels = [fitted(s, line_columns) for s in shown]
    widths = [columns(s) + CHIP_PAD for s in labels]
    breaks = [("\n" in t) and not special[i] for i, t in enumerate(tokens[:n])]
    places = layout(widths, breaks, line_columns)

    for i in range(n):
        if unknown[i]:
            fill, ink, kind = UNKNOWN_FILL, "#ffffff", "unknown token: this piece of text is not in the vocabulary"
        elif special[i]:
            fill, ink, kind = SPECIAL_FILL, "#ffffff", "special token: added by the tokenizer, not part of the text"
        else:
            fill, ink, kind = TINTS[i % len(TINTS)], "#111111", "token"
        covered = ""
        if group.offsets is not None and group.text is not None:
            start, end = group.offsets[i]
            if end > start:
                covered = f"<br>characters {start:,}–{end:,}: “{_escape(visible(group.text[start:end]))}”"
        traces["row"].append(first_row + places[i][0])
        traces["start"].append(places[i][1])
        traces["width"].append(widths[i])
        traces["shown"].append(labels[i])
        traces["fill"].append(fill)
        traces["ink"].append(ink)
        traces["line"].append(HIGHLIGHT_LINE if (highlight[i] or unknown[i]) else "rgba(0,0,0,0.25)")
        traces["lw"].append(4 if (highlight[i] or unknown[i]) else 1)
        traces["hover"].append(f"<b>{_escape(shown[i])}</b><br>ID {group.ids[i]:,}{covered}<br><i>{kind}</i>")
    return (places[-1][0] + 1) if places else 1


def chips_note(n_tokens: int, max_chips: int = MAX_CHIPS) -> str | None:
    """What to tell the student when a text has more tokens than are drawn."""
    if n_tokens <= max_chips:
        return None
    return f"Showing the first {max_chips:,} of {n_tokens:,} tokens as chips."
