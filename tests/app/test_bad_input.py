"""Every text box and upload of every page, fed the inputs that break naive apps.

The pages come from the navigation (`pages/common/course.py`); the inputs of a page from running
it: as it opens, then with each choice on it (radio, selectbox, segmented control, checkbox)
changed one at a time, then after a training started and stopped at once through the page's
Train button (`pages/common/training.py`), until every text box and uploader that the page's
source declares has been found. A new page, or a new input on a page, is covered without
touching this file; an input the search cannot reach fails `test_every_declared_input_is_reached`.

Each case is one run of the page: no exception element, and either a result (a figure or a
table) or a message (error, warning, info). No text box has `max_chars` (a browser drops a longer
paste into one without a word), so each can receive a pasted megabyte and must answer it with an
error or a warning. An upload that cannot be used must say why (an oversized one naming its
size). Every page keeps one session for all its cases (as a student keeps one tab), except for
the lone surrogate: no browser can send one, so it is put into session state before the widget
exists, as only code in the server process could.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from pages.common import course, limits

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
RUN_TIMEOUT_S = 180  # a hang guard on a loaded 2-core machine, not a speed goal (bench/ measures speed)
TRAIN_WAIT_S = 120  # a stopped training ends after its current step

INPUT_TYPES = ("text_input", "text_area", "file_uploader")
CHOICE_TYPES = ("radio", "selectbox", "button_group", "checkbox", "toggle")
MAX_OPTIONS = 8  # choices with more options (layers, heads, models...) choose values, not what is on the page

MARKUP = ('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) '
          '<a href="javascript:alert(1)">a</a>')
# Markdown that would draw an image (fetched from wherever the link points), bold and colour if a message quoted
# the text as it is; quoted as typed, none of these runs of characters is left in any Markdown the page sends.
MARKDOWN = "![x](/tracker.png) **bold** :red[red] $x^2$"
MARKDOWN_RUNS = ("![x](", "**bold**", ":red[", "$x^2$")
MEGABYTE = "a " * 500_000  # 1,000,000 characters
TEXT_CASES: dict[str, str] = {
    "empty": "",
    "whitespace": " \t\n \u00a0\u3000 ",
    "control": "the cat\x00 eats\x1b[31m the fish\x07\x7f .",
    "zwj_emoji": "the 👩‍👩‍👧‍👦 family and the 🏳️‍🌈 flag",
    "rtl_override": "the cat \u202esyas\u202c eats",
    "zero_width": "the\u200b cat\u200c eats\u200d the\ufeff fish\u2060 .",
    "combining": "a" + "\u0301" * 1000,
    "lone_surrogate": "the cat \ud800 eats \udfff the fish",
    "markup": MARKUP,
    "markdown": MARKDOWN,
    "megabyte": MEGABYTE,
    "long_word": "a" * 100_000,
}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
UPLOAD_CASES: dict[str, tuple[str, bytes]] = {
    **{name: (f"{name}.txt", text.encode("utf-8", "surrogatepass")) for name, text in TEXT_CASES.items()},
    "megabyte": ("megabyte.txt", (MEGABYTE + "a ").encode()),  # 1,000,002 bytes: over the upload bound
    "invalid_utf8": ("latin1.txt", "café crème brûlée".encode("latin-1")),
    "utf16_bom": ("notepad.txt", "the cat eats the fish .\nthe dog sees the bird .\n".encode("utf-16")),
    "png_as_txt": ("photo.txt", PNG),
    "empty_file": ("empty.txt", b""),
}
# Uploads that no page can use: each must be answered with an error or a warning saying why.
REFUSED_UPLOADS = {"empty", "whitespace", "lone_surrogate", "megabyte", "invalid_utf8", "png_as_txt", "empty_file"}
# The number the refusal of an oversized upload must name: the size that was given.
MEGABYTE_BYTES = f"{len(UPLOAD_CASES['megabyte'][1]):,}"


# --- the pages and what their source declares ----------------------------------------------------


def navigation() -> list[tuple[str, str | None]]:
    """(url path, page file or None for a preview) of every page in the navigation, home first."""
    lessons = [(lesson.url_path, lesson.file if lesson.is_built() else None) for lesson in course.LESSONS]
    return [("", course.HOME_FILE), *lessons]


def declared_inputs(page_file: str | None) -> dict[str, str]:
    """key -> widget type of every text box and uploader created in the page's source with a constant key."""
    if page_file is None:
        return {}
    tree = ast.parse((ROOT / page_file).read_text())
    found = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name not in INPUT_TYPES:
            continue
        key = next((k.value for k in node.keywords if k.arg == "key"), None)
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found[key.value] = name
    return found


PAGES = navigation()
PAGES_WITH = {
    kind: [path for path, file in PAGES if any(t in kind for t in declared_inputs(file).values())]
    for kind in (("text_input", "text_area"), ("file_uploader",))
}


def page_id(path: str) -> str:
    return path or "home"


# --- driving AppTest: open a page, choose an option by its label, train -----------------------


def open_page(url_path: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S)
    if url_path:
        at._page_hash = calc_hash(url_path)  # as /url_path in the browser (see tests/conftest.py)
    return at


def widget(at: AppTest, key: str) -> Any | None:
    """The widget with this key in the last run, or None when the page did not draw it."""
    for kind in (*INPUT_TYPES, *CHOICE_TYPES, "button"):
        for w in at.get(kind):
            if getattr(w, "key", None) == key:
                return w
    return None


def labels(w: Any) -> list[str]:
    if w.type in ("checkbox", "toggle"):
        return ["true", "false"]
    return list(w.options)


def current_label(w: Any) -> str:
    if w.type in ("checkbox", "toggle"):
        return "true" if w.value else "false"
    if w.type == "button_group":
        return w.formatted_values[0] if w.formatted_values else ""
    return w.options[w.index] if w.index is not None else ""


def choose_label(w: Any, label: str) -> None:
    """Select an option by the text shown for it, as a click does (the value behind it may be anything)."""
    if w.type in ("checkbox", "toggle"):
        w.set_value(label == "true")
        return

    class Chosen(type(w)):
        @property
        def _widget_state(self) -> WidgetState:
            state = WidgetState()
            state.id = self.id
            if self.type == "button_group":
                state.string_array_value.data[:] = [label]
            else:
                state.string_value = label
            return state

    w.__class__ = Chosen


def choice_widgets(at: AppTest) -> list[Any]:
    chosen = []
    for kind in CHOICE_TYPES:
        for w in at.get(kind):
            single = w.type != "button_group" or w.proto.click_mode == w.proto.ClickMode.SINGLE_SELECT
            if w.key and not w.disabled and single and 1 < len(labels(w)) <= MAX_OPTIONS:
                chosen.append(w)
    return chosen


def enabled_buttons(at: AppTest, suffix: str) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.endswith(suffix) and not b.disabled]


def train_and_stop(at: AppTest, train_key: str) -> None:
    """Click a Train button of pages/common/training.py, then Stop at once, and wait for the run to end."""
    at.button(key=train_key).click()
    at.run()
    stop_key = train_key.removesuffix("_train") + "_stop"
    if stop_key in enabled_buttons(at, "_stop"):
        at.button(key=stop_key).click()
        at.run()
    deadline = time.monotonic() + TRAIN_WAIT_S
    while enabled_buttons(at, "_stop") and time.monotonic() < deadline:
        time.sleep(0.5)
        at.run()
    at.run()  # the run that draws the finished training's results


# --- finding every input of a page ----------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One thing a student does to make an input appear: choose an option, or train."""

    key: str
    raw: Any = None  # the value the choice gives the widget's session state
    train: bool = False


@dataclass(frozen=True)
class Input:
    key: str
    kind: str  # text_input, text_area, file_uploader
    reach: tuple[Step, ...]
    max_chars: int  # 0: the browser lets any length through, and the page says what is too long
    original: Any


@dataclass
class PageSession:
    """One session on one page, kept for all the page's cases, and what was found on it."""

    url_path: str
    at: AppTest
    inputs: dict[str, Input] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # choice key -> raw value when the page opens
    pending: dict[str, Any] = field(default_factory=dict)  # values to put back before the next case
    seconds: list[tuple[str, float]] = field(default_factory=list)

    def record(self, reach: tuple[Step, ...]) -> None:
        for kind in INPUT_TYPES:
            for w in self.at.get(kind):
                if w.key and w.key not in self.inputs:
                    original = None if kind == "file_uploader" else w.value
                    self.inputs[w.key] = Input(w.key, kind, reach, getattr(w, "max_chars", 0), original)


def explore(url_path: str, wanted: set[str]) -> PageSession:
    """Open the page and look for its inputs, stopping as soon as every declared one is found."""
    session = PageSession(url_path, open_page(url_path).run())
    at = session.at
    assert not at.exception, f"/{url_path} fails as it opens: {at.exception[0].value}"
    session.record(())
    trainable: dict[tuple[Step, ...], list[str]] = {(): enabled_buttons(at, "_train")}
    session.defaults = {w.key: w.value for w in choice_widgets(at)}
    for key, default in session.defaults.items():
        if wanted <= set(session.inputs):
            break
        w = widget(at, key)
        if w is None:
            continue
        default_label = current_label(w)
        for label in labels(w):
            if label == default_label or wanted <= set(session.inputs):
                continue
            choose_label(widget(at, key), label)
            at.run()
            assert not at.exception, f"/{url_path} with {key} = {label!r}: {at.exception[0].value}"
            reach = (Step(key, widget(at, key).value),)
            session.record(reach)
            trainable[reach] = enabled_buttons(at, "_train")
        if (w := widget(at, key)) is not None:
            w.set_value(default)
            at.run()
    for reach, buttons in trainable.items():
        for button in buttons:
            if wanted <= set(session.inputs):
                break
            go_to(session, reach)
            if widget(at, button) is not None:
                train_and_stop(at, button)
                assert not at.exception, f"/{url_path} after training {button}: {at.exception[0].value}"
                session.record((*reach, Step(button, train=True)))
        if reach and (w := widget(at, reach[0].key)) is not None:
            w.set_value(session.defaults[reach[0].key])
            at.run()
    return session


def go_to(session: PageSession, reach: tuple[Step, ...]) -> None:
    """Set the choices that show an input (and undo other ones), then run."""
    at = session.at
    for key, default in session.defaults.items():
        if (w := widget(at, key)) is not None and key not in {s.key for s in reach} and w.value != default:
            w.set_value(default)
    for step in reach:
        if not step.train and (w := widget(at, step.key)) is not None:
            w.set_value(step.raw)
    at.run()


_sessions: dict[str, PageSession] = {}


def page_session(url_path: str) -> PageSession:
    if url_path not in _sessions:
        file = dict(PAGES)[url_path]
        _sessions[url_path] = explore(url_path, set(declared_inputs(file)))
    return _sessions[url_path]


@pytest.fixture(scope="module", autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    for session in _sessions.values():
        slowest = sorted(session.seconds, key=lambda s: -s[1])[:3]
        print(f"\n/{session.url_path}: {len(session.seconds)} cases, "
              f"{sum(s for _, s in session.seconds):.1f} s; slowest: "
              + ", ".join(f"{name} {s:.1f} s" for name, s in slowest))
    _sessions.clear()


# --- one case on one input ----------------------------------------------------------------------


def put_value(at: AppTest, inp: Input, value: Any) -> None:
    """Give the input a value: through its widget when it is drawn, else through session state."""
    w = widget(at, inp.key)
    if inp.kind == "file_uploader":
        if w is not None:
            w.set_value(value)
    elif w is not None:
        w.set_value(value)
    else:
        at.session_state[inp.key] = value


def run_case(session: PageSession, inp: Input, value: Any) -> AppTest:
    """Show the input (choices, training), give it the value, run once; the value is undone before the next case."""
    at = session.at
    for key, original in session.pending.items():
        if (w := widget(at, key)) is not None:
            w.set_value(original)
        elif original is not None:  # not drawn now (another choice hides it): its state still holds the case
            at.session_state[key] = original
    session.pending.clear()
    if widget(at, inp.key) is None or any(
        not s.train and (w := widget(at, s.key)) is not None and w.value != s.raw for s in inp.reach
    ):
        go_to(session, inp.reach)
        if widget(at, inp.key) is None and inp.reach and inp.reach[-1].train:
            train_and_stop(at, inp.reach[-1].key)
    assert widget(at, inp.key) is not None, f"{inp.key} did not appear again"
    put_value(at, inp, value)
    at.run()
    session.pending[inp.key] = None if inp.kind == "file_uploader" else inp.original
    return at


def lone_surrogate_case(session: PageSession, inp: Input, value: str) -> AppTest:
    """A fresh session whose state holds the text before the widget is drawn (the only way in for it)."""
    at = open_page(session.url_path)
    for step in inp.reach:
        if not step.train:
            at.session_state[step.key] = step.raw
    at.session_state[inp.key] = value
    at.run()
    if inp.reach and inp.reach[-1].train:
        train_and_stop(at, inp.reach[-1].key)  # the run in which the box appears reads the text
    return at


def problems(at: AppTest, inp: Input, case: str) -> list[str]:
    where = f"{inp.key} = {case}"
    if at.exception:
        return [f"{where}: exception shown: {at.exception[0].value[:400]}"]
    messages = [m.value for m in (*at.error, *at.warning, *at.info)]
    said = [m.value for m in (*at.error, *at.warning)]
    results = len(at.get("plotly_chart")) + len(at.dataframe)
    found = []
    if not messages and not results:
        found.append(f"{where}: neither a result nor a message")
    if case == "megabyte" and inp.kind != "file_uploader" and not said:
        found.append(f"{where}: a box took a megabyte without a word")
    if inp.kind == "file_uploader" and case in REFUSED_UPLOADS:
        if not said:
            found.append(f"{where}: an unusable upload was not refused with a message")
        elif case == "megabyte" and not any(MEGABYTE_BYTES in m for m in said):
            found.append(f"{where}: the refusal does not name the file's size: {said}")
    if case == "markdown":
        kinds = ("markdown", "caption", "error", "warning", "info", "success")
        drawn = [m.value for kind in kinds for m in getattr(at, kind)]
        found += [f"{where}: Markdown from the text is drawn: {m[:200]}" for m in drawn
                  if any(run in m for run in MARKDOWN_RUNS)]
    return found


def feed(url_path: str, kinds: tuple[str, ...], case: str, value: Any) -> None:
    session = page_session(url_path)
    inputs = [i for i in session.inputs.values() if i.kind in kinds]
    assert inputs, f"/{url_path} declares a {kinds} but none was found"
    found = []
    for inp in inputs:
        start = time.monotonic()
        if case == "lone_surrogate" and inp.kind != "file_uploader":
            at = lone_surrogate_case(session, inp, value)
        else:
            at = run_case(session, inp, value)
        session.seconds.append((f"{inp.key}={case}", time.monotonic() - start))
        found += problems(at, inp, case)
    assert not found, "\n".join(found)


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url_path", [p for p, _ in PAGES], ids=page_id)
def test_every_declared_input_is_reached(url_path: str) -> None:
    """The search finds every text box and uploader the page declares, so every one gets every case."""
    wanted = declared_inputs(dict(PAGES)[url_path])
    session = page_session(url_path)
    missing = {k: t for k, t in wanted.items() if k not in session.inputs}
    assert not missing, f"/{url_path}: declared but never drawn by any choice or training: {missing}"
    for key, kind in wanted.items():
        assert session.inputs[key].kind == kind
        assert not session.inputs[key].max_chars, f"/{url_path}: {key} has max_chars: a longer paste would vanish"


@pytest.mark.parametrize("case", list(TEXT_CASES))
@pytest.mark.parametrize("url_path", PAGES_WITH[("text_input", "text_area")], ids=page_id)
def test_text_boxes_answer_bad_text(url_path: str, case: str) -> None:
    feed(url_path, ("text_input", "text_area"), case, TEXT_CASES[case])


@pytest.mark.parametrize("case", list(UPLOAD_CASES))
@pytest.mark.parametrize("url_path", PAGES_WITH[("file_uploader",)], ids=page_id)
def test_uploads_answer_bad_files(url_path: str, case: str) -> None:
    name, data = UPLOAD_CASES[case]
    feed(url_path, ("file_uploader",), case, (name, data, "text/plain"))


def test_every_built_page_has_its_inputs_tested() -> None:
    """The parametrization above really reaches the pages that declare inputs (none silently dropped)."""
    declaring = {p for p, f in PAGES if declared_inputs(f)}
    tested = set(PAGES_WITH[("text_input", "text_area")]) | set(PAGES_WITH[("file_uploader",)])
    assert declaring == tested
    assert "tokenization" in tested and "masking" in tested


def test_a_corpus_of_one_endless_word_is_refused_before_any_training() -> None:
    """A 100,000-character word took tokenizer trainers minutes of CPU; the corpus bound now names it."""
    assert limits.check_corpus("a" * limits.CORPUS_WORD_CHARS.maximum + " b")  # at the bound it runs
    at = open_page("tokenization")
    at.session_state["corpus"] = "own"
    at.run()
    at.text_area(key="corpus_paste").set_value("a" * 100_000).run()
    assert not at.exception
    refusal = " ".join(e.value for e in at.error)
    assert "100,000 characters" in refusal and f"{limits.CORPUS_WORD_CHARS.maximum:,}" in refusal
    assert "_tok_own" not in at.session_state  # nothing was trained on it
