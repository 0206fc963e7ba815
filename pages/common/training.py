"""Live training on a page: a background thread trains, a fragment draws the curves as they grow.

A page hands `live_training` a `start` function that builds its models and returns the
training generator of `llm_core` (yielding `(run name, TrainMetrics)`), and a `draw` function
that turns the metrics so far into figures. This module does the rest, the same way for every
page that trains:

- one training at a time per session (the Train button is off while one runs, and a second
  click is ignored) and at most `limits.CONCURRENT_TRAININGS` in the whole server (beyond
  that the student reads "busy, try again" and nothing starts);
- the loop runs in its own thread, at a lower OS priority than the pages; a fragment that
  reruns itself every `REFRESH_S` seconds redraws the progress and the curves, so the rest of
  the page stays usable (moving a slider does not interrupt training). Every redraw costs
  the server's Python interpreter, which training shares: Streamlit's run machinery and the
  figures' JSON. So the fragment reruns once a second, not at every step, and a curve is
  rebuilt only when building it takes at most `DRAW_SHARE` of the time since its last build
  (on a busy server, less often); in between the last figure is shown again.
  bench/bench_fine_tuning.py measures the cost;
- it stops at its step or time budget, at a non-finite loss, on the Stop button, as soon as
  the browser tab is closed (the session is no longer connected), or when nobody has looked
  for HEARTBEAT_S seconds (each redraw is a heartbeat, and so is each look of a section or page
  of the same session that waits for it; they stop when the student leaves); the server's
  training slot is released in a `finally`;
- what was trained, and every step's metrics, stay in `st.session_state` after it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st
import torch
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from llm_core import device
from llm_core.train import TrainMetrics
from pages.common import figures, limits, ui

REFRESH_S = 1.0  # progress and curves are redrawn this often while a model trains (see bench_fine_tuning.py)
DRAW_SHARE = 0.1  # ... and a curve is rebuilt only when that takes at most this share of the time since the last
HEARTBEAT_S = 30.0  # a training nobody has looked at for this long is stopped (the student left the page)
NICENESS = 10  # how much lower than the pages' the OS priority of a training thread is (see yield_to_pages)
TRAININGS = "_trainings"  # session key of this session's `Trainings`
_log = logging.getLogger(__name__)

StopCheck = Callable[[], bool]
Start = Callable[[StopCheck], tuple[Iterator[tuple[str, TrainMetrics]], Any]]

REASONS = {
    "steps": "Finished: every step of the budget is done.",
    "time": "Stopped at the time budget.",
    "stopped": "Stopped, as asked. The curves and the models trained so far are kept.",
    "abandoned": "Stopped because the page was closed or left while it trained. What was trained so far is kept.",
}


@dataclass
class LiveRun:
    """One training of this session: its metrics so far, how it ended, and what `start` returned."""

    key: str
    steps: int  # the step budget
    max_seconds: float  # the time budget
    result: Any = None  # whatever the page's `start` returned beside the generator (its models, settings)
    history: dict[str, list[TrainMetrics]] = field(default_factory=dict)  # run name -> one entry per step
    stop_event: threading.Event = field(default_factory=threading.Event)
    last_seen: float = field(default_factory=time.monotonic)
    session_alive: Callable[[], bool] = lambda: True
    thread: threading.Thread | None = None
    reason: str | None = None  # "steps", "time", "stopped", "abandoned", "nan", "error"
    error: str | None = None
    figures: dict = field(default_factory=dict)  # curve_figure's last figures, to redraw without rebuilding
    settings: Mapping[str, str] = field(default_factory=dict)  # what it was trained with, as the page names it

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def should_stop(self) -> bool:
        """The training loop's stop check: the Stop button, the tab closed, or nobody looking for a while."""
        return self.stop_event.is_set() or self.abandoned()

    def abandoned(self) -> bool:
        return not self.session_alive() or time.monotonic() - self.last_seen > HEARTBEAT_S

    def histories(self) -> list[list[TrainMetrics]]:
        """Every run's list of metrics; taken in one go, since the training thread may add a run meanwhile."""
        return list(self.history.values())

    @property
    def step(self) -> int:
        return max((h[-1].step for h in self.histories() if h), default=0)

    @property
    def elapsed(self) -> float:
        return max((h[-1].elapsed for h in self.histories() if h), default=0.0)

    @property
    def tokens_per_s(self) -> float:
        """Training throughput of all runs together (interleaved runs share the same clock)."""
        return sum(h[-1].tokens_per_s for h in self.histories() if h)

    def last(self, name: str) -> TrainMetrics | None:
        h = self.history.get(name)
        return h[-1] if h else None

    def final_val(self, name: str, metric: str) -> float | None:
        """The last validation value of `metric` for run `name` (validation runs at the last step)."""
        for m in reversed(self.history.get(name, [])):
            if m.val is not None and metric in m.val:
                return m.val[metric]
        return None


def run_in_thread(run: LiveRun, training: Iterator[tuple[str, TrainMetrics]], release: Callable[[], None]) -> None:
    """Start the thread that drives `training`, appending every step to `run.history`.

    `release` frees the server's training slot; it is called exactly once, however training ends.
    """

    def work() -> None:
        yield_to_pages()
        torch.set_num_threads(training_threads())  # this thread's own setting; pages keep theirs
        try:
            for name, metrics in training:
                run.history.setdefault(name, []).append(metrics)
                if metrics.stop_reason == "nan":
                    run.reason, run.error = "nan", metrics.error
        except Exception as why:  # shown to the student as a message; the details go to the log
            _log.exception("training %s failed", run.key)
            run.reason, run.error = "error", f"Training failed: {why}"
        finally:
            release()
            if run.reason is None:
                run.reason = _reason(run)

    run.thread = threading.Thread(target=work, name=f"training-{run.key}", daemon=True)
    run.thread.start()


def yield_to_pages() -> None:
    """Lower the OS priority of the calling thread (a training), and of the threads it starts, by NICENESS.

    The server's pages all run on one Python interpreter, one core's worth of work at a time;
    trainings run beside it on every core. At equal priority a class's trainings take cores
    from the pages, and every student waits longer for every click. Lowered, a training gets
    all the time the pages leave, which on a quiet server is all of it. Linux gives each
    thread its own priority; elsewhere this does nothing.
    """
    with contextlib.suppress(AttributeError, OSError):  # no per-thread priorities on this system
        me = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICENESS))


def training_threads() -> int:
    """Torch threads for each training: the server's cores split between its training slots.

    A small model gains little from a second thread, and a thread team that shares its cores
    with another training, the page's redraws or a browser waits on its slowest member.
    """
    return max(1, device.configure_threads() // limits.CONCURRENT_TRAININGS)


def _reason(run: LiveRun) -> str:
    if run.stop_event.is_set():
        return "stopped"
    if run.abandoned():
        return "abandoned"
    reasons = {h[-1].stop_reason for h in run.histories() if h}
    return "time" if "time" in reasons else "steps"


def start_run(key: str, start: Start, *, steps: int, max_seconds: float, settings: Mapping[str, str] = {}) -> LiveRun:
    """Take a server training slot, build the models, start the thread. Raises limits.Busy when full."""
    slot = limits.training_slot()
    slot.__enter__()  # raises Busy at once when every slot is taken
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            slot.__exit__(None, None, None)

    run = LiveRun(key, steps, max_seconds, session_alive=_session_alive(), settings=dict(settings))
    try:
        training, run.result = start(run.should_stop)
        run_in_thread(run, training, release)
    except BaseException:
        release()
        raise
    return run


def _session_alive() -> Callable[[], bool]:
    """A check, safe to call from the training thread, that this browser session is still connected."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not runtime.exists():  # a test or a bare script: only the heartbeat applies
        return lambda: True
    session_id, server = ctx.session_id, runtime.get_instance()
    return lambda: server.is_active_session(session_id)


@dataclass
class Trainings:
    """This session's trainings: the latest run of each key, and why a click on Train did nothing.

    One object in session state, changed in place, for two reasons:
    - With fast reruns (Streamlit's default), a click that arrives while the page runs stops that
      run at its next access to `st.session_state` (or other Streamlit call) and starts the new one
      at once, in another thread. A Train callback that started a thread and then wrote the run
      into session state could be stopped between the two: the run would train unrecorded,
      holding a server slot. So the callback takes this object first and then only changes it.
    - The stopped run's callback and the new run's callback can then run at the same moment
      (a double click, or a click and a key press): `start` takes the session's lock.
    """

    runs: dict[str, LiveRun] = field(default_factory=dict)
    messages: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> ("busy" | "error", text)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def active(self) -> LiveRun | None:
        """The training this session is running now, on any page or section."""
        runs = tuple(self.runs.values())  # a snapshot: another callback may add a run meanwhile
        return next((run for run in runs if run.running), None)

    def start(
        self, key: str, start: Start, *, steps: int, max_seconds: float, settings: Mapping[str, str] = {}
    ) -> None:
        """Start a run of `key`, unless one of this session's trainings is running; keep why it could not start."""
        with self.lock:
            self.messages.pop(key, None)
            if self.active is not None:
                return
            try:
                self.runs[key] = start_run(key, start, steps=steps, max_seconds=max_seconds, settings=settings)
            except limits.Busy as why:
                self.messages[key] = ("busy", str(why))
            except (ValueError, limits.LimitError) as why:
                self.messages[key] = ("error", str(why))


_CREATING = threading.Lock()  # two runs of one session may ask for its `Trainings` at the same moment


def trainings() -> Trainings:
    with _CREATING:
        return st.session_state.setdefault(TRAININGS, Trainings())


def session_run(key: str) -> LiveRun | None:
    """The latest training of this session under `key` (running or finished), if any."""
    return trainings().runs.get(key)


def _request_stop(key: str) -> None:
    run = session_run(key)
    if run is not None:
        run.stop_event.set()


def _request_start(key: str, start: Start, steps: int, max_seconds: float, problem: str | None,
                   settings: Mapping[str, str]) -> None:
    """The Train button's callback: it runs before the page, so the page draws the run as running.

    A second click while a run is going (a double click, another tab of the same session) does
    nothing. Why a run could not start is kept for the page, which shows it once, in the run that
    follows the click.
    """
    if problem is None:
        trainings().start(key, start, steps=steps, max_seconds=max_seconds, settings=settings)


def live_training(
    key: str,
    start: Start,
    draw: Callable[[LiveRun], None],
    *,
    steps: int,
    max_seconds: float,
    button_label: str = "Train",
    problem: str | None = None,
    settings: Mapping[str, str] | None = None,
) -> LiveRun | None:
    """Train and Stop buttons, a progress bar and the page's live figures, for one training `key`.

    `draw(run)` draws the figures for the metrics so far; while the model trains it is called
    again every REFRESH_S by a fragment that reruns on its own, so the rest of the page stays
    drawn and usable. `problem`, when given, is why training cannot start with the current
    settings: it is shown and the Train button is disabled. `settings` names the settings now chosen
    ({"learning rate": "0.003", ...}): a finished run trained with others says which, above its
    figures, so that nobody reads them as the new settings' results. Returns the latest run of `key`
    (None before the first); when it is no longer running, its results are final.
    """
    # One look at the training thread decides the buttons and whether a fragment watches the run:
    # a run that ends between two looks would leave Train disabled with nothing left to redraw it.
    mine = trainings()
    run, running = mine.runs.get(key), mine.active
    watching = run is not None and run is running
    left, right = ui.row("content", "content")
    left.button(
        button_label, key=f"{key}_train", type="primary", icon=":material/play_arrow:",
        on_click=_request_start, args=(key, start, steps, max_seconds, problem, settings or {}),
        disabled=problem is not None or running is not None,
    )  # fmt: skip
    right.button(
        "Stop", key=f"{key}_stop", icon=":material/stop:", on_click=_request_stop,
        args=(key if running is None else running.key,), disabled=running is None,
    )  # fmt: skip
    if problem is not None:
        ui.show_error(problem)
    if running is not None and not watching:
        st.info("Another training of yours is running. Stop it here, or wait for it to finish; then train here.")
        _wait_for(running)
    kind, message = mine.messages.pop(key, (None, None))  # about the click just made: shown once
    if kind == "busy":
        st.warning(message, icon=":material/hourglass_top:")
    elif kind == "error":
        ui.show_error(message)
    if watching:
        _watch(key, draw)
    elif run is not None:
        if run.reason is not None and settings is not None and (changed := _changed(run.settings, settings)):
            st.info(f"These curves and the results below come from your last training, with {changed}. "
                    f"Train to see the settings above.", icon=":material/history:")
        _show(run, draw)
    return run


def _changed(then: Mapping[str, str], now: Mapping[str, str]) -> str:
    """What a run was trained with that differs from the settings now chosen: "seed 0 (now 3), ..."."""
    differ = [f"{name} {then[name]} (now {value})" for name, value in now.items()
              if name in then and then[name] != value]  # fmt: skip
    return ui.joined(differ)


@st.fragment(run_every=REFRESH_S)
def _wait_for(other: LiveRun) -> None:
    """While another training of this session runs, look once a second; when it ends, redraw the page.

    The student is still here, waiting for it: each look is a heartbeat of that training too.
    """
    other.last_seen = time.monotonic()
    if not other.running:
        st.rerun()


@st.fragment(run_every=REFRESH_S)
def _watch(key: str, draw: Callable[[LiveRun], None]) -> None:
    """Redraw a running training every REFRESH_S; each redraw is also the heartbeat that keeps it going."""
    run = session_run(key)
    if run is None:
        return
    run.last_seen = time.monotonic()
    _show(run, draw)
    if not run.running:
        st.rerun()  # the whole page: buttons back to idle, results of the finished run below


def _show(run: LiveRun, draw: Callable[[LiveRun], None]) -> None:
    fraction = max(run.step / max(1, run.steps), run.elapsed / max(run.max_seconds, 1e-9))
    tokens = f" · {run.tokens_per_s:,.0f} training tokens/s" if run.tokens_per_s else ""
    st.progress(min(1.0, fraction), text=f"Step {run.step:,} of {run.steps:,} · {run.elapsed:.1f} s of "
                                         f"{run.max_seconds:.0f} s{tokens}")  # fmt: skip
    if not run.running and run.reason is not None:
        if run.reason in ("nan", "error"):
            ui.show_error(run.error or "Training failed.")
        else:
            st.caption(REASONS.get(run.reason, ""))
    if run.step == 0:
        st.caption("Copying the models and taking the first step; the curves appear with it.")
    else:
        draw(run)


# --- figures of a run -----------------------------------------------------------------------


def curve_figure(
    run: LiveRun,
    metric: str,
    title: str,
    *,
    y_title: str,
    labels: dict[str, str] | None = None,
    train: bool = True,
    val: bool = True,
    percent: bool = False,
    height: int = 480,
) -> figures.Figure:
    """One colour per run; the training value at every step as a solid line, validation dashed with dots.

    `metric` is "loss" or a name the loss or the evaluation reports ("accuracy", "reward_margin").
    `labels` maps run names to legend names and fixes their order and colours.

    Drawn again and again while a model trains, in the server process that trains it, so it is
    built not too often: the last figure is reused while nothing is new, or while rebuilding
    would take more than DRAW_SHARE of the time since the last build.
    """
    cache_key = (metric, title, y_title, train, val, percent, height, tuple((labels or {}).items()))
    cached = run.figures.get(cache_key)
    now = time.perf_counter()
    # Runs that train side by side reach a step one after another: count every run's entries, not the step.
    entries = sum(map(len, run.histories()))
    if cached is not None and cached[2] == entries:
        return cached[0]  # nothing new since it was built
    if run.running and cached is not None and now - cached[1] < max(REFRESH_S, cached[3] / DRAW_SHARE):
        return cached[0]  # rebuilt too recently for what a build costs here
    fig = _curve_figure(run, metric, title, y_title, labels, train, val, percent, height)
    run.figures[cache_key] = (fig, time.perf_counter(), entries, time.perf_counter() - now)
    return fig


def _curve_figure(
    run: LiveRun, metric: str, title: str, y_title: str, labels: dict[str, str] | None, train: bool, val: bool,
    percent: bool, height: int,
) -> figures.Figure:
    labels = labels or {name: name for name in list(run.history)}
    scale, unit = (100.0, "%") if percent else (1.0, "")
    # The legend names each run once, by its colour (when there are several), and each kind of line once.
    both, several = train and val, len(labels) > 1
    traces, keys = [], []
    for i, (name, label) in enumerate(labels.items()):
        history = list(run.history.get(name, []))  # a snapshot: the training thread keeps appending
        color = figures.OKABE_ITO[i % len(figures.OKABE_ITO)]
        if both and several:
            keys.append(_legend_key(label, color, "solid", group=label))
        lines = []
        if train:
            points = [(m.step, m.loss if metric == "loss" else m.extras.get(metric)) for m in history]
            points = [(s, v * scale) for s, v in points if v is not None]
            if points:
                lines.append(_line(points, f"{label} · train" if val else label, color, "solid", y_title, unit))
        if val:
            points = [(m.step, m.val[metric] * scale) for m in history if m.val is not None and metric in m.val]
            if points:
                lines.append(_line(points, f"{label} · validation" if train else label, color, "dash", y_title, unit))
        for line in lines if both else ():
            line |= {"legendgroup": label, "showlegend": False}  # a click on the run's entry hides both
        traces += lines
    if both:
        keys += [_legend_key("training batches", LINE_KEY, "solid"), _legend_key("held out", LINE_KEY, "dash")]
    # Below the plot, one entry a line, in a margin with room for every run and both kinds of line whether
    # shown or not: figures of the same runs side by side keep their axes level.
    rows = (len(labels) if several else 0) + 2
    return figures.figure(
        [*traces, *keys], title=title, x_title="Training step", y_title=y_title, height=height,
        xaxis={"rangemode": "tozero"}, yaxis={"range": [0, 101], "ticksuffix": "%"} if percent else {},
        showlegend=both or several,
        legend={"orientation": "h", "xref": "container", "x": 0, "yref": "container", "yanchor": "bottom", "y": 0,
                "entrywidth": 1, "entrywidthmode": "fraction", "tracegroupgap": 0},
        margin={"l": 10, "r": 10, "t": figures.TITLED_TOP, "b": AXIS_TITLE_PX + LEGEND_ROW_PX * rows},
    )  # fmt: skip


LINE_KEY = "#555555"  # the colour of the legend's keys to the two kinds of line
AXIS_TITLE_PX = 74  # below the plot: the x axis's ticks and title, then the legend
LEGEND_ROW_PX = 28


def _legend_key(name: str, color: str, dash: str, group: str | None = None) -> dict:
    """An entry of the legend only: a line with no points."""
    return {"type": "scatter", "x": [None], "y": [None], "name": name, "mode": "lines+markers" if dash == "dash"
            else "lines", "line": {"color": color, "width": 3, "dash": dash}, "marker": {"size": 7},
            "legendgroup": group or name, "hoverinfo": "skip"}  # fmt: skip


def _line(points: list[tuple[int, float]], name: str, color: str, dash: str, y_title: str, unit: str) -> dict:
    xs, ys = zip(*points, strict=True)
    return {
        "type": "scatter", "x": list(xs), "y": list(ys), "name": name,
        "mode": "lines+markers" if dash == "dash" else "lines",
        "line": {"color": color, "width": 3, "dash": dash}, "marker": {"size": 7},
        "cliponaxis": False,  # a point at 0% or at the first step is drawn whole, over the axis line
        "hovertemplate": f"{name}<br>step %{{x}}<br>{y_title}: %{{y:.3f}}{unit}<extra></extra>",
    }  # fmt: skip
