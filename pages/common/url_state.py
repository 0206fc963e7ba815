"""Widget state that lives in the URL, so a slide can link to an exact view of a page.

A page declares each shareable widget once, before creating it with the same key:

    layer = url_state.bind("layer", default=0, min_value=0, max_value=5)
    st.slider("Layer", 0, 5, key="layer")

`/attention?layer=2` then opens with the slider at 2, and moving the slider rewrites the
link in the address bar. Values that make no sense (`?layer=banana`, `?layer=99`) are
replaced by the default with a warning that says why: a bad link never shows a traceback.
The widget must not be given `value=`/`index=`: its starting value is the bound default.

Pages may use the same names (four pages have a `text`), so each key belongs to the page that
binds it: `app.py` runs every page inside `page_scope(name)`. A page opened from the sidebar
starts from what the student last had on it (or its own defaults), never from another page's
widget of the same name; keys bound with `shared=True` (the sidebar's seed) are one for all.
The browser's Back and Forward buttons step through a page's changes, the shared keys' too:
when the link no longer says what the page last wrote into it, the link wins. The browser keeps
one entry of its history for each link it is sent, so a run sends its link once, when its page
is done (a page that ends early calls `url_state.stop()`, not `st.stop()`, after which Streamlit
sends nothing). Links from one page to another (the sidebar's, the home page's map) carry the
page's state (`link_to`). State too big for a link (a pasted corpus) is bound with `in_link=False`:
remembered per page, never put in the address bar.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from pages.common import ui
from pages.common.ui import markdown_literal as _literal

T = TypeVar("T")

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A number as a link writes it: ASCII digits, a sign, a point, an exponent (inf and nan too, refused later).
_PLAIN_NUMBER = re.compile(r"\s*[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)\s*", re.ASCII | re.I)

_SCOPE: ContextVar[str | None] = ContextVar("url_state_scope", default=None)  # the page now running (home: "")
_SHARED = "(shared)"  # the scope of keys that every page shares: no page's URL path
# Session-state entries of this module (plain values, no widget has these keys):
_OWNER = "_url_state_owner"  # key -> the page whose widget holds it now
_SAVED = "_url_state_saved"  # page -> {key: value}, as the page last showed them
_WRITTEN = "_url_state_written"  # page -> key -> its text in the link as the page's last run left it
_DRAWN = "_url_state_drawn"  # (keys bound in the last run, keys bound in this one), turned at each page start
_SHAPE = "_url_state_shape"  # key -> (page, options, bounds) of its widget in the last run
_HISTORY = "_url_state_history"  # whether this run answers the browser's Back or Forward button
_PAGE = "_url_state_page"  # the page whose link went out last
_ARRIVAL = "_url_state_arrival"  # page -> its link as the page first sent it after the sidebar opened it
_LINK = "_url_state_link"  # this run's `_RunLink`
_ADOPTED = "_url_state_adopted"  # key -> the value a reconnected browser showed, for the widget's next run
_TOLD = "_url_state_told"  # (page, key, hash of values) of the link's keys that the page was said not to read


class _Stop(BaseException):
    """Raised by `stop()`: the page ends here (a BaseException, as Streamlit's own stop, so that no
    `except Exception` of a page catches it)."""


@dataclass
class _RunLink:
    """The link of one script run: as the browser sent it, and as the run has changed it so far."""

    run: object  # the run it belongs to (`_run`)
    sent: dict[str, list[str]]
    now: dict[str, list[str]]
    written: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (page, key) -> its text in `now`


@contextmanager
def page_scope(name: str) -> Iterator[None]:
    """Keys bound inside belong to page `name` (its URL path). When the page is done, the link goes out.

    After an error, `st.rerun()` or `st.stop()` Streamlit sends nothing more in this run: the link
    stays as the browser has it, and so does what the page remembers having written into it.
    """
    # A session's first run comes with the values of drawn widgets only when the browser still shows a page of a
    # session the server no longer has (restarted, or a laptop that slept past the time a session is kept).
    reconnected = _OWNER not in st.session_state and bool(_sent_values())
    st.session_state[_DRAWN] = (st.session_state.get(_DRAWN, ((), set()))[1], set())
    arrived = st.session_state.get(_PAGE) != name  # the last page whose link went out was another one
    changed = _widget_changed(name) or _widget_changed(_SHARED)
    token = _SCOPE.set(name)
    try:
        link = _link()
        written = st.session_state.get(_WRITTEN, {})
        texts = {**written.get(_SHARED, {}), **written.get(name, {})}
        # Back or Forward to an entry of this page with a key it never wrote: when Back is pressed again before
        # the page has answered, the browser files one page's link under another's address. That entry is not
        # a state of this page, so the page comes back as it was left (and the stray keys go).
        stray = [key for key in link.sent if key not in texts] if _history_step() and name in written else []
        for key in stray:
            del link.sent[key], link.now[key]
        # Arriving with keys in the link (Back or Forward from another page, or a link from one), the link is
        # the whole state, as the page wrote it: a key it leaves out is at its default. A link that says just
        # what the page remembers (the sidebar's, see `link_to`) is that memory, which also holds what no link
        # can (text over its limit).
        complete = arrived and bool(link.sent) and link.sent != link_to(name) and not stray
        if not complete:
            _restore_link(name, arrived)
        arrival = st.session_state.setdefault(_ARRIVAL, {})
        if not arrived and not link.sent and name in arrival:
            # No keys, on the same page: Back to the entry the browser made itself for a bare address (typed),
            # before the page's own link. It stands for the page as it then arrived.
            link.now.update(arrival[name])
        # The link is not the one the page last wrote, and no widget was changed: Back or Forward was pressed.
        # (A widget change sent before the browser showed the last run's link comes with an older link.)
        st.session_state[_HISTORY] = complete or (
            not changed and not stray and any(_link_text(key) != text for key, text in texts.items()))
        try:
            yield
            _name_unread(name, link)
        except _Stop:  # the page ended early, as it asked (keys below the stop went unread)
            pass
        st.session_state.pop(_ADOPTED, None)  # for the one run after a reconnect: a key it did not bind goes
        _send_link()
        st.session_state[_PAGE] = name
        if arrived and not link.sent:
            arrival[name] = dict(link.now)
        if reconnected:
            _adopt_browser_values()
    finally:
        _SCOPE.reset(token)


def _widget_state() -> Any:
    """Streamlit's own session state, which keeps the widget values a run came with (no public view of them)."""
    ctx = get_script_run_ctx()
    return getattr(ctx.session_state, "_state", None) if ctx is not None else None


def _sent_values() -> dict:
    """The widget values this run came with, by widget ID."""
    state = _widget_state()
    return {} if state is None else state._new_widget_state.states


def _adopt_browser_values() -> None:
    """After a reconnect, run the page again with what the browser shows where it differs from the link.

    The browser still shows the page as the student left it, and the change that woke the new session
    (a typed sentence, a moved slider) came with this run. The page was drawn from the link, since a
    widget's value can be read only once the widget is drawn; left like that, the student's change would
    jump back.
    """
    state = _widget_state()
    sent = state._new_widget_state
    adopted = {}
    for key in st.session_state.get(_DRAWN, ((), set()))[1]:
        widget = state.get_widget_id_from_key(key)
        if widget in sent.states:
            # (KeyError: a widget this run did not draw after all; the others: a value it cannot take)
            with contextlib.suppress(KeyError, ValueError, TypeError, IndexError):
                if (value := sent[widget]) != st.session_state[key]:
                    adopted[key] = value
    if adopted:
        st.session_state[_ADOPTED] = adopted
        st.rerun()


def _history_step() -> bool:
    """Whether this run answers the browser's Back or Forward button (the browser says so)."""
    ctx = get_script_run_ctx()
    return ctx is not None and ctx.is_history_navigation


def _name_unread(page: str, link: _RunLink) -> None:
    """Say, once per key and value, which keys of the link nothing on the page read: a slide's link with a
    typo (`Layer` for `layer`) or another page's key would otherwise look accepted. The page is drawn by
    then, so the message is a toast; the key stays in the link, for a part of the page not shown now."""
    read = st.session_state.get(_DRAWN, ((), set()))[1]
    written = st.session_state.get(_WRITTEN, {})
    own = read | written.get(page, {}).keys() | written.get(_SHARED, {}).keys()  # a key of a part now hidden too
    told = st.session_state.setdefault(_TOLD, set())
    unread = [key for key in link.sent if key not in own and (page, key, hash(tuple(link.sent[key]))) not in told]
    if not unread:
        return
    told.update((page, key, hash(tuple(link.sent[key]))) for key in unread)
    shown = [f"“{_literal(_short(key))}”" for key in unread[:5]] + ([f"{len(unread) - 5:,} more"] if unread[5:] else [])
    meant = [difflib.get_close_matches(key.lower(), sorted(read), n=1) for key in unread[:5]]
    hint = ui.joined([f"“{match[0]}”" for match in meant if match])
    verb = "sets" if len(unread) == 1 else "set"
    st.toast(f"The link's {ui.joined(shown)} {verb} nothing on this page as shown."
             + (f" Did you mean {hint}?" if hint else ""), icon=":material/link_off:", duration="long")


def link_to(page: str) -> dict[str, list[str]]:
    """The query of a link that opens `page` as this session has it now: the page's keys and the shared ones.

    For links between pages (the sidebar's, the home page's map). A link that carries the page's
    state opens it in one entry of the browser's history. A bare one makes two, the bare address
    and then the link `page_scope` sends at the end of the page's first run; and the browser may
    file that second one under the previous page's address, when it comes before the browser has
    switched addresses, so that Back opens the previous page with this one's settings.
    """
    written = st.session_state.get(_WRITTEN, {})
    texts = {**written.get(page, {}), **written.get(_SHARED, {})}
    held = st.session_state.get(_LINK)  # while a page runs: what this run has written so far (the seed)
    if held is not None and held.run is _run():
        texts.update({key: text for (scope, key), text in held.written.items() if scope in (page, _SHARED)})
    return {key: text for key, text in texts.items() if text}


def stop() -> NoReturn:
    """End the page here, as `st.stop()` does, with the link of this run still sent to the browser."""
    raise _Stop


def _link() -> _RunLink:
    """This run's link: read and changed here by every bind and callback, sent once by `page_scope`."""
    run = _run()
    held = st.session_state.get(_LINK)
    if held is None or held.run is not run:
        sent = {key: st.query_params.get_all(key) for key in st.query_params}
        held = st.session_state[_LINK] = _RunLink(run, sent, {key: list(values) for key, values in sent.items()})
    return held


def _run() -> object:
    """What identifies this script run: Streamlit's element cursors, made anew for each run."""
    ctx = get_script_run_ctx()
    return None if ctx is None else ctx.cursors


def _send_link() -> None:
    """One change of the link for the whole run, and what each page wrote into it remembered."""
    link = _link()
    if link.now != link.sent:
        st.query_params.from_dict(link.now)
    written = st.session_state.setdefault(_WRITTEN, {})
    for (scope, key), text in link.written.items():
        written.setdefault(scope, {})[key] = text
    del st.session_state[_LINK]


def _widget_changed(scope: str) -> bool:
    """Whether a widget of page `scope` holds another value than the page last showed: the student
    changed it, and this run answers that change (not the browser's Back or Forward button)."""
    owner = st.session_state.get(_OWNER, {})
    saved = st.session_state.get(_SAVED, {}).get(scope, {})
    return any(owner.get(key) == scope and key in st.session_state and st.session_state[key] != value
               for key, value in saved.items())  # fmt: skip


def _restore_link(scope: str, arrived: bool) -> None:
    """Put what page `scope` remembers back into the link before the page runs, and on arrival from
    another page what the shared keys were.

    Arriving from another page by a bare address, or by a link that says what the page remembers, each
    key comes back as its widget is bound.
    A page that stops early (a sentence it refuses) would leave out the keys of the widgets below
    the stop, so those are written first, as the page's last run left them. Keys still held by
    this page's widgets (a rerun of the same page) are left to `bind`, and `bind` reads a restored
    key from the page's memory, not as a link the student opened.
    """
    owner = st.session_state.get(_OWNER, {})
    link = _link().now
    written = st.session_state.get(_WRITTEN, {})
    for key, text in written.get(scope, {}).items():
        held = owner.get(key) == scope and key in st.session_state
        if text and not held and key not in link:
            link[key] = text
    if arrived:  # from another page by a bare address: the shared keys stay as they were
        for key, text in written.get(_SHARED, {}).items():
            if text and key not in link:
                link[key] = text


def bind(
    key: str,
    default: T,
    *,
    cast: Callable[[str], Any] | None = None,
    options: Sequence[Any] | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    max_chars: int | None = None,
    in_link: bool = True,
    shared: bool = False,
) -> T:
    """Seed `st.session_state[key]` from the URL on first use, and mirror it back afterwards.

    Call on every run, before the widget. Returns the widget's current value.

    - `cast` turns the URL text into a value; it defaults to the type of `default`
      (`int`, `float`, `str`, or `bool`, which reads true/false/1/0).
    - `options` limits the value to one of them (compared by their text), as for a selectbox.
      A list/tuple `default` makes a multi-value key (`?word=cat&word=dog`), as for a
      multiselect; every value must then be one of `options`.
    - `min_value`/`max_value` bound numbers, `max_chars` bounds text.
    - `in_link=False` keeps the value per page without ever reading or writing the link.
    - `shared=True` makes one value for every page (the sidebar's seed), in every page's link.
    """
    page = _SCOPE.get()
    scope = _SHARED if shared or page is None else page  # a key bound outside every page is shared too
    owner = st.session_state.setdefault(_OWNER, {})
    saved = st.session_state.setdefault(_SAVED, {}).setdefault(scope, {})
    written = st.session_state.setdefault(_WRITTEN, {}).setdefault(scope, {})
    last_run, this_run = st.session_state.get(_DRAWN, ((), set()))  # keys bound in the last run, and in this one
    if key in (adopted := st.session_state.get(_ADOPTED, {})):
        st.session_state[key] = adopted.pop(key)
    # The link counts as one the student opened unless it says what this page last wrote into it: then it is
    # the page's own memory (put back by `_restore_link`, or left by a widget the page has stopped drawing).
    from_link = in_link and key in _link().now and _link_text(key) != written.get(key)
    if in_link and page is not None and st.session_state.get(_HISTORY, False) and key not in this_run:
        # Back or Forward: the whole page follows the link, and a key it leaves out is at its default, which
        # may follow another key (a query token follows its sentence), not at the value the page last had.
        # (Once per run: a key bound twice, as the page corrects it, keeps the correction.)
        st.session_state[key] = _from_url(key, default, cast, options, min_value, max_value, max_chars)
        owner[key] = scope
    elif key not in st.session_state or owner.get(key, scope) != scope:  # not set yet, or another page's widget
        if from_link:
            value = _from_url(key, default, cast, options, min_value, max_value, max_chars)
        elif key in saved and _fits(saved[key], options, min_value, max_value):
            value = saved[key]  # back on this page: what the student left here
        else:
            value = default
        st.session_state[key] = value
        owner[key] = scope
    if options is not None and not _fits(st.session_state[key], options, min_value, max_value):
        # A choice the widget does not offer, e.g. a required segmented control that the browser sent
        # back empty after the page had stopped above it: what the page showed last, else the default.
        last = saved.get(key)
        st.session_state[key] = last if last is not None and _fits(last, options, min_value, max_value) else default
    value = saved[key] = st.session_state[key]
    shape = (scope, None if options is None else tuple(options), min_value, max_value)
    shapes = st.session_state.setdefault(_SHAPE, {})
    if shapes.get(key) != shape or key not in last_run or _not_sent(key):
        # A widget the browser does not have drawn, because its options or bounds changed, because the
        # last run stopped above it (a refused sentence), or because the browser had not yet loaded the
        # code that draws it when the student changed something else, comes back showing its own default
        # (a slider's minimum, a radio's first choice) while the page goes on with this value: hand the
        # value to it.
        st.session_state[key] = value
        shapes[key] = shape
    this_run.add(key)
    if in_link:
        _to_url(key, value, default, max_chars)
        _link().written[scope, key] = _link_text(key)
    return value


def _not_sent(key: str) -> bool:
    """Whether the browser sent its widgets' values with this run, but none for the widget of `key`.

    The browser keeps a widget's value from when it first draws the widget, and it loads the code of
    each kind of widget (sliders, radios) only when it first needs it; until then it sends nothing for
    it, and afterwards it starts from the widget's default unless told the value again.
    (A run the page asks for itself, `st.rerun()`, comes with no values at all.)
    """
    state, sent = _widget_state(), _sent_values()
    widget = None if state is None else state.get_widget_id_from_key(key)
    return bool(sent) and widget is not None and widget not in sent


def forget(*keys: str) -> None:
    """Send bound keys back to their defaults on the next run: in the widget, the link and the page's memory.

    Safe in a widget callback, which runs before the page does.
    """
    owner = st.session_state.get(_OWNER, {})
    saved = st.session_state.get(_SAVED, {})
    for key in keys:
        st.session_state.pop(key, None)
        saved.get(owner.pop(key, None), {}).pop(key, None)
        _link().now.pop(key, None)


def replace_lone_surrogates() -> None:
    """Replace lone surrogates in the session's text state by U+FFFD, before any widget is drawn.

    No browser sends one, but state set inside the server can hold one, and a text widget
    holding one cannot be drawn at all (it has no UTF-8 form): the page would show a traceback.
    app.py calls this on every run, so every page is covered.
    """
    for key, value in list(st.session_state.items()):
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            st.session_state[key] = _encode(value)


def _from_url(
    key: str,
    default: Any,
    cast: Callable[[str], Any] | None,
    options: Sequence[Any] | None,
    min_value: float | None,
    max_value: float | None,
    max_chars: int | None,
) -> Any:
    if key not in _link().now:
        return default
    multi = isinstance(default, list | tuple)
    raw_values = _link_text(key)
    if multi and raw_values == [""]:  # `?pick=`: nothing chosen, which the default may not be
        return type(default)()
    if not multi and len(raw_values) > 1:  # `?layer=1&layer=2`: the last one counts
        raw_values = raw_values[-1:]
        st.warning(f"The link sets `{key}` more than once; using the last value, “{_literal(_short(raw_values[0]))}”.")
    # With options, the URL text is matched against theirs; otherwise it is converted like the default.
    parse = cast or (str if options is not None else _caster(default[0] if multi and default else default))
    values = []
    for raw in raw_values:
        try:
            value = _parse_one(raw, parse, options, min_value, max_value, max_chars)
        except ValueError as why:
            if multi and len(raw_values) > 1:  # `?pick=cat&pick=zebra&pick=dog`: the others still count
                st.warning(f"The link gives `{key}` the value “{_literal(_short(raw))}”, but {why}. Leaving it out.")
                continue
            st.warning(f"The link sets `{key}` to “{_literal(_short(raw))}”, but {why}. "
                       f"Showing {_default_text(key, default)} instead.")
            return default
        if value not in values:  # `?word=cat&word=cat` is one cat: a multiselect refuses a repeated choice
            values.append(value)
    if not values:
        return default
    return type(default)(values) if multi else values[0]


def _default_text(key: str, default: Any) -> str:
    """How the warning names the default: the value itself when short, else just that it is the default."""
    if isinstance(default, str):
        return "the default text" if "\n" in default or len(default) > 38 else f"`{key}` = “{_literal(default)}”"
    if isinstance(default, list | tuple):
        return f"`{key}` = {', '.join(_literal(_encode(v)) for v in default) or 'nothing'}"
    return f"`{key}` = {_encode(default)}"


def _parse_one(
    raw: str,
    parse: Callable[[str], Any],
    options: Sequence[Any] | None,
    min_value: float | None,
    max_value: float | None,
    max_chars: int | None,
) -> Any:
    """One URL value, converted and checked; ValueError says what was expected."""
    if options is not None:
        for option in options:
            if _encode(option) == raw:
                return option
        number = _number(raw)  # a number written another way: "1e-3" for 0.001, "16.0" for 16
        for option in options if number is not None else ():
            if isinstance(option, int | float) and not isinstance(option, bool) and option == number:
                return option
        shown = ", ".join(f"“{_literal(_encode(o))}”" for o in options[:8])  # quoted: a choice may hold a comma
        more = f" (or {len(options) - 8:,} more)" if len(options) > 8 else ""
        raise ValueError(f"it must be one of: {shown}{more}")
    if max_chars is not None and len(raw) > max_chars:
        raise ValueError(f"that is {len(raw):,} characters and the limit is {max_chars:,}")
    try:
        if parse in (_parse_int, float) and not _PLAIN_NUMBER.fullmatch(raw):
            raise ValueError(raw)  # what int() and float() read besides: "1_0", digits of other scripts
        value = parse(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"it must be {_kind(parse)}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("it must be a finite number")
    too_low = min_value is not None and value < min_value
    too_high = max_value is not None and value > max_value
    if too_low or too_high:
        raise ValueError(_range_text(min_value, max_value))
    return value


def _number(raw: str) -> float | None:
    """A number written the way links write them (not "1_0", not digits of other scripts), else None."""
    return float(raw) if _PLAIN_NUMBER.fullmatch(raw) else None


def _fits(value: Any, options: Sequence[Any] | None, min_value: float | None, max_value: float | None) -> bool:
    """Whether a remembered value is still one the widget accepts (its options or range may have changed).

    Text is kept as it was, even past the limit: the page then says what it said before.
    """
    for v in value if isinstance(value, list | tuple) else [value]:
        if options is not None and v not in options:
            return False
        number = isinstance(v, int | float) and not isinstance(v, bool)
        if number and ((min_value is not None and v < min_value) or (max_value is not None and v > max_value)):
            return False
    return True


def _range_text(min_value: float | None, max_value: float | None) -> str:
    if min_value is not None and max_value is not None:
        return f"it must be from {min_value:,} to {max_value:,}"
    if min_value is not None:
        return f"it must be at least {min_value:,}"
    return f"it must be at most {max_value:,}"


def _to_url(key: str, value: Any, default: Any, max_chars: int | None = None) -> None:
    """Write only what differs from the default, so links stay short and readable.

    Text longer than `max_chars` leaves the link as it was: a link with it would be refused when
    opened, a pasted megabyte would travel in the address bar on every rerun, and the page, which
    refuses the text, still shows the last one it could use, most likely the one in the link.
    """
    if max_chars is not None and isinstance(value, str) and len(value) > max_chars:
        return
    link = _link().now
    if value == default or value is None:
        link.pop(key, None)
        return
    if isinstance(value, list | tuple):
        link[key] = [_encode(v) for v in value] or [""]  # nothing chosen: `?pick=`, not left out as the default is
    else:
        link[key] = [_encode(value)]


def _link_text(key: str) -> list[str]:
    return list(_link().now.get(key, []))


def _caster(default: Any) -> Callable[[str], Any]:
    if isinstance(default, bool):
        return _parse_bool
    if isinstance(default, int):
        return _parse_int
    if isinstance(default, float | str):
        return type(default)
    raise TypeError(f"give a cast for a default of type {type(default).__name__}")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError(raw)


_parse_bool.__name__ = "bool"


def _parse_int(raw: str) -> int:
    """A whole number, however it is written: "120", "120.0", "1.2e2"."""
    try:
        return int(raw)
    except ValueError:
        number = float(raw)  # raises ValueError for text that is no number at all
        if not number.is_integer():
            raise ValueError(raw) from None
        return int(number)


_parse_int.__name__ = "int"


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # A lone surrogate (only in-process state can hold one) has no UTF-8 form, so no URL form: write U+FFFD.
    return str(value).encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _kind(parse: Callable[[str], Any]) -> str:
    names = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text"}
    return names.get(getattr(parse, "__name__", ""), "a valid value")


def _short(raw: str, limit: int = 40) -> str:
    return raw if len(raw) <= limit else raw[: limit - 1] + "…"
