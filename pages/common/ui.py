"""The frame every page shares: what you will see, the figures, the code, the takeaway.

Keeping these few calls in one place gives every page the same rhythm, so a student knows
where to look: the two lines at the top say what the page shows, the green box at the
bottom says what to remember.
"""

from __future__ import annotations

import inspect
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

import plotly.graph_objects as go
import pyarrow as pa
import streamlit as st

from pages.common.chips import reveal, visible
from pages.common.figures import PLOTLY_CONFIG, Figure

if TYPE_CHECKING:
    from streamlit.delta_generator import DeltaGenerator

CODE_KEY = "show_code"  # the open state of a page's "Show the code" expander, in the session state


def page_header(title: str, what_you_will_see: str) -> None:
    """The page title and its two-line "what you will see"."""
    st.title(title)
    st.markdown(what_you_will_see)


def takeaway(text: str) -> None:
    """The one thing to remember from the page, as the page's last element."""
    st.divider()
    st.success(text, title="Takeaway", icon=":material/lightbulb:")


def show_error(message: str) -> None:
    """A problem the student can fix (too long, empty, busy): what is wrong and what to change."""
    st.error(message, icon=":material/error:")


def row(*widths: int | str, gap: str = "medium", vertical_alignment: str = "top") -> list[DeltaGenerator]:
    """Containers side by side, as `st.columns` gives, that move onto a new line instead of squeezing their
    content when the page is narrow: a 1024 px projector with the sidebar open leaves some 530 px, where
    columns cut labels, numbers and buttons. Each width is "stretch" (an equal share of the line), "content"
    or pixels. Streamlit lets a container shrink to 8rem whatever it holds, so a figure inside one would be
    squeezed rather than moved: for figures, see `figures_row`."""
    line = st.container(horizontal=True, gap=gap, vertical_alignment=vertical_alignment)
    return [line.container(width=width) for width in widths]


def figures_row(gap: str = "large") -> DeltaGenerator:
    """A line for figures drawn straight into it (`with ui.figures_row(): plot(a); plot(b)`). Streamlit keeps a
    chart at least 14rem wide, so with the large gap between them two charts share the line down to a page
    of about 580 px and go one below the other on a narrower one (a 1024 px projector with the sidebar open),
    where side by side each would be some 250 px wide.

    A figure's note or table beside it goes into a fixed-width container of the line
    (`line.container(width=280)`), which moves below the figure when both do not fit. The notes of a pair of
    figures follow the line, each led by its figure's name, since the figures may stack. A `gap` of "small"
    keeps three narrow figures on one line of a 1280 px projector."""
    return st.container(horizontal=True, gap=gap)


_STEPS = "_ui_steps"  # widget key -> (the value a ◀/▶ click found, the value it set)


def stepper(key: str, choices: Sequence, *, wrap: bool = False) -> Callable[[int], None]:
    """The `on_click` of ◀/▶ buttons (args=(-1,) and (1,)) that move widget `key` along `choices`: around at the
    ends with `wrap`, else stopping there. Call it on every run, before the buttons.

    The browser sends each click with the value its widget shows. Clicked again before the last click's run has
    come back, it still shows the value from before that click, and taken as it is the second click would only
    redo the first. So a click that finds the value the last click started from goes on from where that click
    went. Once the widget shows something else (the student chose it), the last click is forgotten.
    """
    steps = st.session_state.setdefault(_STEPS, {})
    if key in steps and st.session_state.get(key) != steps[key][1]:
        del steps[key]

    def move(delta: int) -> None:
        found = st.session_state[key]
        start = steps[key][1] if key in steps and found == steps[key][0] else found
        i = list(choices).index(start) + delta
        i = i % len(choices) if wrap else min(max(i, 0), len(choices) - 1)
        steps[key] = (found, choices[i])
        st.session_state[key] = choices[i]

    return move


_MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:")


def markdown_literal(text: str) -> str:
    """User text inside st.markdown / st.info, shown as typed: no bold, links, images or LaTeX from it.

    A character that draws nothing or turns the text around it (a zero-width space, a right-to-left
    override, a control character) is shown by its code point, "⟨U+202E⟩": typed into a box, it would
    otherwise hide in the message, or reverse the rest of it.
    """
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in reveal(text))


def quoted(items: Iterable[str], limit: int = 10, length: int = 40) -> str:
    """The student's words or symbols listed in a message: each once, quoted, shown as typed (no Markdown
    from them), the first `limit` of them: “a”, “b” and 3 more. One made only of spaces, tabs or line
    ends is drawn as the token chips draw them (“⇥” for a tab), not as blank quotes. One longer than
    `length` characters (a paragraph of Chinese is one word) is cut: “猫猫猫…”. A right-to-left word (Arabic,
    Hebrew) is set apart from the text around it, so that its direction does not carry the list's quotes and
    commas away with it."""
    unique = list(dict.fromkeys(items))
    cut = [item if len(item) <= length else item[: length - 1] + "…" for item in unique[:limit]]
    shown = ", ".join(f"“{_isolated(markdown_literal(item if item.strip() else visible(item)))}”" for item in cut)
    return shown + (f" and {len(unique) - limit:,} more" if len(unique) > limit else "")


def _isolated(text: str) -> str:
    """Text with right-to-left letters between Unicode's first-strong isolate and its pop (U+2068, U+2069)."""
    rtl = any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)
    return f"\u2068{text}\u2069" if rtl else text


def joined(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def counted(n: int, noun: str) -> str:
    """"1 character", "2,000 characters": a count with its noun, singular for one."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def change(difference: int, unit: str) -> dict[str, str]:
    """The delta of an `st.metric`: green and up for a gain, red and down for a loss, grey and flat for none.

        st.metric("after tuning", "17%", **ui.change(+9, "points"))
    """
    if difference == 0:
        return {"delta": f"±0 {unit}", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": f"{difference:+d} {unit}"}


def plot(fig: Figure, *, key: str, width: int | str = "stretch", **options: object) -> None:
    """Show a figure across the full width, or `width` pixels of it at most, in the shared figure style (not
    Streamlit's chart theme).

    `options` go to `st.plotly_chart` (`on_select`, `selection_mode`).
    """
    st.plotly_chart(_Finished(fig), key=key, width=width, theme=None, config=PLOTLY_CONFIG, **options)


class _Finished(go.Figure):
    """A figure dict, handed to `st.plotly_chart` as it is.

    Given a dict, Streamlit checks every property of it through Plotly's classes; given a
    Plotly figure, it takes `to_dict()`, a deep copy. Either costs more than building the
    figure did, on every rerun. The app's figures are built as dicts (`figures.figure`) and
    checked in the tests, so this one answers `to_dict()` with the dict itself, unchanged.
    """

    def __init__(self, fig: Figure) -> None:  # no Plotly state to set up: only to_dict() is asked for
        self.__dict__["_fig"] = fig

    def to_dict(self) -> Figure:
        return self._fig


def table(data: Mapping[str, Sequence] | Sequence[Mapping[str, object]] | pa.Table, **options: object) -> None:
    """A table from its columns ({"name": values}), its rows ([{"name": value}, ...]) or an Arrow
    table, without an index.

    Built as an Arrow table, the form Streamlit sends to the browser: a pandas frame would be
    converted on every rerun, about fifteen times the cost. `options` go to `st.dataframe`.
    """
    if isinstance(data, pa.Table):
        arrow = data
    elif isinstance(data, Mapping):
        arrow = pa.table({name: list(values) for name, values in data.items()})
    else:
        arrow = pa.Table.from_pylist(list(data))
    st.dataframe(arrow, hide_index=True, **options)


def show_code(*objects: Callable | type, label: str = "Show the code") -> None:
    """An expander with the source of the `llm_core` functions or classes at work on the page.

    The code shown is the code that ran, read from the module itself, so it cannot drift
    from what the page does. It is sent only while the expander is open (`folded`): pages of
    source on every click would cost every student's rerun.
    """
    with folded(label, key=CODE_KEY, icon=":material/code:") as shown:
        if shown:
            for obj in objects:
                st.caption(f"`{obj.__module__}.{obj.__qualname__}`")
                st.code(_source(obj), language="python")


@contextmanager
def folded(label: str, *, key: str, **options: object) -> Iterator[bool]:
    """An expander that says whether it is open, so that its content is built and sent only then.

    Streamlit sends a closed expander's content on every run; this one reruns the page when
    the student opens or closes it, and its open state is `st.session_state[key]`.
    `options` go to `st.expander`.

        with ui.folded("Layer by layer", key="layers_open") as shown:
            if shown:
                ui.plot(...)
    """
    with st.expander(label, key=key, on_change="rerun", **options) as box:
        yield bool(box.open)


@cache
def _source(obj: Callable | type) -> str:
    return inspect.getsource(obj)
