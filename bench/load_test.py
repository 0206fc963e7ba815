"""A whole class at once: thirty students open every page, type, and some train, at the same moment.

    python bench/load_test.py                  # 30 students, 3 waves (the app's speed sets the time)
    python bench/load_test.py --quick          # 5 students, 2 waves, to try it out
    python bench/load_test.py --students 10 --waves 2 --json /tmp/load.json
    python bench/load_test.py --server-option runner.postScriptGC=false   # try a server setting on both

One server on this machine answers every student, as in a classroom. Real browsers would spend
the machine's cores on their own rendering, so the students speak Streamlit's websocket
protocol directly (`bench/loadtest/client.py`): each opens every page in the navigation, types
its own text into the page's first text box, and one student in three presses the "Train"
button of a page that trains (the trainers spread over those pages). Two real Chromium tabs
load every page during the first wave, for what only a browser shows (the figure on screen,
no exception box). After the waves, the edits of a few students per wave are typed again by
one student alone on a fresh server and their figures compared with those drawn under the
burst (text equal, numbers within 0.1%): a difference means one session's data reached another's
page.

The same run measures a minimal Streamlit app with as many pages, each a text box and a
chart (`bench/loadtest/minimal_app/`), with the same server settings and the same students:
the floor that Streamlit itself sets on this machine. Both servers stay up and their phases
alternate (first pass, alone, then wave by wave), so whatever else the machine is doing weighs
on both alike; each phase prints the load average it began at.

Printed, for both apps: p50/p95 of page runs (open a page: request to `script_finished`) and
of edits (type into the box: request to `script_finished`), for one student alone (warm) and
under the burst; per page, the server's CPU time of a run when alone; failures (uncaught
exceptions, `st.error` boxes, timeouts, lost connections, figures that differ; "busy, try
again" answers from the server's cap on trainings are counted apart); server memory per
session at the burst's peak; memory after each wave, and after the first and the last once the
sessions that left had expired (the servers hold a closed tab's session for a while, for it to
reconnect); the pauses of the server's garbage collector during the waves
(`bench/loadtest/launch.py`); the errors in the server log.

Goals on this 2-core machine: 0 failures; p95 under the burst at most 2x the minimal app's p95
under the same burst; memory after the last wave within 10% of memory after the first (each
read with the sessions that left expired).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.loadtest.browser import BrowserReport, browse  # noqa: E402
from bench.loadtest.client import Page, RunResult, Session, Widget, figure_differences  # noqa: E402
from bench.loadtest.launch import WRITE_EVERY_S  # noqa: E402
from bench.loadtest.server import Server, serve  # noqa: E402

APP = "app.py"
MINIMAL_APP = "bench/loadtest/minimal_app/app.py"
TRAIN_LABEL = re.compile(r"\b(train|start)", re.IGNORECASE)
BUSY = re.compile(r"try again in a moment|already training", re.IGNORECASE)
RUN_TIMEOUT_S = 120.0  # one page run or edit
TRAIN_TIMEOUT_S = 180.0  # one training run: the page's own time budget and a margin
SETTLE_S = 5.0  # after a wave's disconnects, before reading memory
GOAL_P95_RATIO = 2.0
GOAL_MEMORY_GROWTH = 0.10
MIB = 2**20
CORES = os.cpu_count() or 1
DISCONNECTED_TTL_S = 120  # Streamlit's default server.disconnectedSessionTTL, which .streamlit/config.toml keeps


def disconnected_ttl(args: argparse.Namespace) -> float:
    """How long the servers keep a disconnected session: --server-option's value, else the default."""
    return float(dict(args.server_option).get("server.disconnectedSessionTTL", DISCONNECTED_TTL_S))



@dataclass
class Visit:
    """One student on one page: the page run, the edit, and a training if any."""

    phase: str  # "cold", "alone", "wave 1", ...
    student: int
    url_path: str
    run: RunResult
    edit: RunResult | None = None
    train: RunResult | None = None
    # Server CPU seconds of the page run and of the edit, when one student is alone on the server:
    # what a page costs, much less disturbed than its wall time by whatever else the machine runs.
    # Not measured while the student's own training still runs in the background (it would count).
    run_cpu_s: float = float("nan")
    edit_cpu_s: float = float("nan")
    typed: str | None = None  # what the student typed into the page's text box


@dataclass
class Phase:
    """What one pass (cold, alone, or a wave) measured."""

    name: str
    visits: list[Visit] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    busy: int = 0
    not_reached: int = 0  # page visits left out when the phase's time budget ran out
    retained: int = 0  # sessions that had left less than the servers' TTL before rss_after was read
    verified: int = 0  # edits typed again alone after the phase to compare the figures
    mismatched: int = 0  # ... whose figures were not the same
    unreproducible: int = 0  # ... whose figures differed between two fresh servers too
    seconds: float = 0.0
    load: float = 0.0  # the machine's 1-minute load average as the phase began (2 = both cores busy)
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    rss_expired: int = 0  # after the first and the last wave: once every session that had left was let go
    sessions: int = 0
    server_cpu_s: float = 0.0  # CPU the server used during the phase
    client_cpu_s: float = 0.0  # CPU these simulated students used (the load generator's own cost)
    gc_full: int = 0  # full collections (generation 2) of the server's garbage collector during the phase
    gc_pause_s: float = 0.0  # ... and the pauses of all its collections together: no page ran meanwhile
    gc_longest_s: float = 0.0  # ... and the longest single pause
    pages: list[str] = field(default_factory=list)  # the navigation, as the first student saw it


@dataclass
class PageFacts:
    """What the alone pass found on a page, to steer the students and the browser tabs."""

    has_text_box: bool = False
    has_train_button: bool = False
    has_figure: bool = False


def typed_text(original: str, student: int, tag: str) -> str:
    """What a student types: the box's own words in an order of its own.

    The page's default text is valid for that page (its vocabulary, its length bound), so a
    shuffle of its words is too; every student gets a different text, so caches keyed by the
    text do not hide the work.
    """
    lines = original.split("\n")
    words = lines[0].split()
    if len(words) < 2:
        return (original.strip() + " and more").strip()
    shuffled = words[:]
    random.Random(f"{tag}/{student}").shuffle(shuffled)
    if shuffled == words:
        shuffled = words[1:] + words[:1]
    lines[0] = " ".join(shuffled)
    return "\n".join(lines)


def judge(result: RunResult, where: str, phase: Phase) -> None:
    """Record what went wrong in a run: its status, exception boxes, error boxes (busy apart)."""
    if not result.ok:
        phase.failures.append(f"{where}: {result.status} after {result.seconds:.1f} s")
    if result.page_not_found:
        phase.failures.append(f"{where}: page not found")
    for text in result.exceptions:
        phase.failures.append(f"{where}: exception box: {text}")
    for kind, text in result.alerts:
        if BUSY.search(text):
            phase.busy += 1
        elif kind == "ERROR":
            phase.failures.append(f"{where}: error box: {text}")


def train_button(run: RunResult) -> Widget | None:
    """The page's button that starts a training: keyed "..._train" (pages/common/training.py) or so labelled."""
    for w in run.widgets:
        if w.kind == "button" and not w.disabled and not w.in_sidebar and (
                w.key.endswith("_train") or TRAIN_LABEL.search(w.label)):
            return w
    return None


class Gate:
    """Holds the students until every one of them has connected, then lets them all go at once."""

    def __init__(self, students: int) -> None:
        self.students = students
        self.arrived = 0
        self.all_arrived = asyncio.Event()
        self.go = asyncio.Event()

    def arrive(self) -> None:
        self.arrived += 1
        if self.arrived >= self.students:
            self.all_arrived.set()


async def student(url: str, number: int, phase: Phase, gate: Gate, deadline: float, train_on: str | None,
                  cpu: Callable[[], float] | None = None, keep_figures: bool = False) -> None:
    """One student: open every page, type into its text box, train on `train_on` ("*": the first
    page with a train button). Starts when the gate opens. Every run is bounded by its timeout;
    past `deadline` no new page is opened (the pages left are reported as not reached). With `cpu`
    (the server's CPU clock; only meaningful alone) each run's server CPU time is recorded too."""
    measured = cpu or (lambda: float("nan"))
    trained = False  # once this student has started a training, the server's CPU clock counts it too

    def clock() -> float:
        return float("nan") if trained else measured()

    session = Session(url, timeout_s=RUN_TIMEOUT_S, keep_figures=keep_figures)
    try:
        await asyncio.wait_for(session.connect(), RUN_TIMEOUT_S)
    except Exception as why:
        phase.failures.append(f"student {number}: could not connect: {type(why).__name__}: {why}"[:300])
        gate.arrive()
        await session.close()
        return
    gate.arrive()
    where = ""
    try:
        await gate.go.wait()
        cpu_before = clock()
        first = await session.open("")
        first_cpu = clock() - cpu_before
        pages = session.pages or [Page("", "", first.page_script_hash)]
        if not phase.pages:
            phase.pages = [p.url_path for p in pages]
        for index, page in enumerate(pages):
            where = f"/{page.url_path} (student {number}"
            if time.monotonic() > deadline:
                phase.not_reached += len(pages) - index
                break
            cpu_before = clock()
            run = first if index == 0 else await session.goto(page)
            visit = Visit(phase.name, number, page.url_path, run, run_cpu_s=first_cpu if index == 0 else
                          clock() - cpu_before)
            phase.visits.append(visit)
            judge(run, f"{where}, open)", phase)
            run.figures = []  # only an edit's figures are compared later
            if not run.ok:
                break
            box = run.text_box()
            if box is not None and isinstance(box.value, str):
                submit = run.form_submitter(box.form_id) if box.form_id else None
                cpu_before = clock()
                visit.typed = typed_text(box.value, number, phase.name)
                visit.edit = await session.type_text(box, visit.typed, submit)
                visit.edit_cpu_s = clock() - cpu_before
                judge(visit.edit, f"{where}, edit)", phase)
                if not visit.edit.ok:
                    break
                run = visit.edit
            button = train_button(run)
            if button is not None and train_on in ("*", page.url_path):
                train_on = None
                visit.train = await session.click(button, timeout_s=TRAIN_TIMEOUT_S)
                trained = True
                judge(visit.train, f"{where}, train)", phase)
                if not visit.train.ok:
                    break
    except Exception as why:  # a broken frame or the client's own bug: reported, never raised
        phase.failures.append(f"{where or f'student {number}'}): {type(why).__name__}: {why}"[:300])
    finally:
        await session.close()


async def sample_peak(server: Server, stop: asyncio.Event, phase: Phase) -> None:
    while not stop.is_set():
        phase.rss_peak = max(phase.rss_peak, server.rss())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def run_phase(server: Server, name: str, students: int, *, budget_s: float, train_on: list[str | None],
                    browser_pages: list[str] | None = None, figures: dict[str, bool] | None = None,
                    keep_figures: tuple[int, ...] = ()) -> tuple[Phase, BrowserReport | None]:
    """`students` students at the same moment (and browser tabs if asked), with memory around it.

    Student n trains on page `train_on[n]` ("*": the first with a train button; None: nowhere).
    The students in `keep_figures` keep the figures their edits drew, to be compared later.
    """
    phase = Phase(name, sessions=students, load=os.getloadavg()[0])
    phase.rss_before = phase.rss_peak = server.rss()
    gate, stop = Gate(students), asyncio.Event()
    start, server_cpu, client_cpu, gc_before = time.monotonic(), server.cpu(), time.process_time(), server.gc()
    deadline = start + budget_s
    sampler = asyncio.create_task(sample_peak(server, stop, phase))
    cpu = server.cpu if students == 1 else None
    tasks = [asyncio.create_task(student(server.url, n, phase, gate, deadline, train_on[n], cpu, n in keep_figures))
             for n in range(students)]
    try:
        await asyncio.wait_for(gate.all_arrived.wait(), RUN_TIMEOUT_S)
    except TimeoutError:
        phase.failures.append(f"only {gate.arrived} of {students} students connected in {RUN_TIMEOUT_S:.0f} s")
    gate.go.set()
    browser_task = None
    if browser_pages:
        browser_task = asyncio.create_task(browse(server.url, browser_pages, figures or {}, tabs=2,
                                                  budget_s=max(60.0, budget_s - 30)))
    await asyncio.gather(*tasks)
    report = await browser_task if browser_task else None
    phase.seconds = time.monotonic() - start
    phase.server_cpu_s, phase.client_cpu_s = server.cpu() - server_cpu, time.process_time() - client_cpu
    await asyncio.sleep(2 * WRITE_EVERY_S)  # the server's latest figures of its collector
    gc_after = server.gc()
    phase.gc_full = gc_after.collections.get(2, 0) - gc_before.collections.get(2, 0)
    phase.gc_pause_s = gc_after.seconds - gc_before.seconds
    phase.gc_longest_s = gc_after.longest_between(start, start + phase.seconds)
    stop.set()
    await sampler
    await asyncio.sleep(SETTLE_S)
    phase.rss_after = server.rss()
    return phase, report


# ---- figures ----

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every figure is a time that happened)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def times(visits: list[Visit], what: str) -> list[float]:
    runs = [getattr(v, what) for v in visits]
    return [r.seconds for r in runs if r is not None and r.ok]


def summary(visits: list[Visit]) -> dict[str, float | int]:
    runs, edits, trains = times(visits, "run"), times(visits, "edit"), times(visits, "train")
    return {
        "page_runs": len(runs), "run_p50": percentile(runs, 50), "run_p95": percentile(runs, 95),
        "edits": len(edits), "edit_p50": percentile(edits, 50), "edit_p95": percentile(edits, 95),
        "trains": len(trains), "train_p50": percentile(trains, 50), "train_max": max(trains, default=float("nan")),
    }


def distinct(failures: list[str]) -> list[str]:
    """Failures with the student numbers folded together, most frequent first."""
    counts: dict[str, int] = {}
    for failure in failures:
        key = re.sub(r"student \d+", "student #", failure)
        key = re.sub(r"after \d+\.\d s", "after ... s", key)
        counts[key] = counts.get(key, 0) + 1
    return [f"{n:>3} x {text}" for text, n in sorted(counts.items(), key=lambda kv: -kv[1])]


@dataclass
class AppReport:
    """Everything measured on one app."""

    label: str
    pages: list[str] = field(default_factory=list)
    facts: dict[str, PageFacts] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    browser: BrowserReport | None = None
    rss_start: int = 0
    log_problems: list[str] = field(default_factory=list)
    unreproducible: dict[str, str] = field(default_factory=dict)  # page -> how two fresh servers differed

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    @property
    def waves(self) -> list[Phase]:
        return [p for p in self.phases if p.name.startswith("wave")]

    def burst_visits(self) -> list[Visit]:
        return [v for p in self.waves for v in p.visits]

    def failures(self) -> list[str]:
        return [f"[{p.name}] {f}" for p in self.phases for f in p.failures]


def learn_pages(visits: list[Visit]) -> dict[str, PageFacts]:
    """Which pages have a text box, a train button, a figure."""
    facts: dict[str, PageFacts] = {}
    for visit in visits:
        fact = facts.setdefault(visit.url_path, PageFacts())
        for run in (visit.run, visit.edit, visit.train):
            if run is None:
                continue
            fact.has_text_box |= run.text_box() is not None
            fact.has_train_button |= train_button(run) is not None
            fact.has_figure |= run.elements["plotly_chart"] > 0
    return facts


class Measurement:
    """The phases of one app on its own server, run one at a time by `main`."""

    def __init__(self, label: str, server: Server, args: argparse.Namespace) -> None:
        self.report = AppReport(label, rss_start=server.rss())
        self.server = server
        self.args = args
        self.training_pages: list[str] = []
        self.departures: list[tuple[float, int]] = []  # (when, how many sessions disconnected)

    def say(self, text: str) -> None:
        print(f"  {self.report.label}: {text} (load average {os.getloadavg()[0]:.1f})", flush=True)

    async def cold(self) -> None:
        """One student on a fresh server: loads every model, and shows what each page has."""
        self.say(f"server up ({self.report.rss_start / MIB:.0f} MiB), first pass (cold) ...")
        cold, _ = await run_phase(self.server, "cold", 1, budget_s=self.args.phase_budget, train_on=["*"])
        self.departures.append((time.monotonic(), 1))
        report = self.report
        report.phases.append(cold)
        report.pages = cold.pages
        report.facts = learn_pages(cold.visits)
        self.training_pages = [p for p in report.pages if report.facts.get(p, PageFacts()).has_train_button]

    async def alone(self) -> None:
        """One student at a time on a warm server; the first pass trains where a page can."""
        self.say(f"{len(self.report.pages)} pages, {len(self.training_pages)} with training; alone ...")
        alone = Phase("alone", sessions=1)
        for repeat in range(self.args.alone_passes):
            train_on = [self.training_pages[0]] if self.training_pages and repeat == 0 else [None]
            one, _ = await run_phase(self.server, f"alone {repeat + 1}", 1, budget_s=self.args.phase_budget,
                                     train_on=train_on)
            self.departures.append((time.monotonic(), 1))
            alone.visits += one.visits
            alone.failures += one.failures
            alone.busy += one.busy
            alone.seconds += one.seconds
            alone.load += one.load / self.args.alone_passes
        self.report.phases.append(alone)

    async def wave(self, wave: int) -> None:
        """Every student at once; one in `train_every` trains, the trainers spread over the pages that train."""
        args = self.args
        plan: list[str | None] = [None] * args.students
        if self.training_pages and args.train_every > 0:
            for n in range(0, args.students, args.train_every):
                plan[n] = self.training_pages[(n // args.train_every + wave) % len(self.training_pages)]
        self.say(f"wave {wave + 1} of {args.waves}, {args.students} students at once ...")
        figures = {p: f.has_figure for p, f in self.report.facts.items()}
        phase, browser = await run_phase(
            self.server, f"wave {wave + 1}", args.students, budget_s=args.phase_budget, train_on=plan,
            browser_pages=self.report.pages if wave == 0 and args.browsers else None, figures=figures,
            keep_figures=tuple(range(1, args.students, max(1, args.students // max(1, args.verify))))[:args.verify])
        now = time.monotonic()
        self.departures.append((now - SETTLE_S, args.students + (2 if browser is not None else 0)))
        phase.retained = sum(n for when, n in self.departures if now - when < disconnected_ttl(args))
        self.report.phases.append(phase)
        if browser is not None:
            self.report.browser = browser

    async def verify(self, fresh: tuple[Server, Server]) -> None:
        """Type again, on two fresh servers of the same app, what a few students typed in each
        wave, and compare the figures.

        A student's figures must depend on that student's text only. If sessions leak into one
        another (a shared model or object that one session changes while another reads it), a
        figure drawn under the burst differs from the same text's figure on a quiet server, even
        when no exception shows it. The servers must be fresh: on the burst's server the page's
        `st.cache_data` would hand back the very figure that was drawn under the burst. Two of
        them tell a leak (both agree, the burst differs) from a page that draws other figures
        for the same text in another server process (they disagree with each other), which is
        noted apart. Visits with a training are left out (a training changes what is drawn).
        """
        for phase in self.report.waves:
            for visit in phase.visits:
                if (visit.typed is not None and visit.edit is not None and visit.edit.ok and visit.edit.figures
                        and not visit.edit.exceptions and visit.train is None):
                    await self._replay(fresh, phase, visit)

    async def _replay(self, fresh: tuple[Server, Server], phase: Phase, visit: Visit) -> None:
        phase.verified += 1
        where = f"/{visit.url_path} (student {visit.student}, edit)"
        replays = []
        for server in fresh:
            try:
                async with Session(server.url, timeout_s=RUN_TIMEOUT_S, keep_figures=True) as session:
                    await session.open("")
                    page = next(p for p in session.pages if p.url_path == visit.url_path)
                    box = (await session.goto(page)).text_box()
                    again = await session.type_text(box, visit.typed) if box is not None else None
            except Exception as why:
                phase.failures.append(f"{where}: could not type it again alone: {type(why).__name__}: {why}"[:300])
                return
            if again is None or not again.ok:
                phase.failures.append(f"{where}: typed again alone, the page did not finish")
                return
            replays.append(again.figures)
        between = figure_differences(replays[0], replays[1])
        if between:
            phase.unreproducible += 1
            self.report.unreproducible.setdefault(visit.url_path, "; ".join(between)[:300])
            return
        differences = figure_differences(visit.edit.figures, replays[0])
        if differences:
            phase.mismatched += 1
            phase.failures.append(f"{where}: under the burst it drew other figures than the same text typed alone "
                                  f"on a fresh server: {'; '.join(differences)[:400]}")

    def finish(self) -> AppReport:
        self.report.log_problems = self.server.log_problems()
        self.report.facts = learn_pages([v for p in self.report.phases for v in p.visits])
        return self.report


# ---- printing ----

def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:,.0f}"  # NaN: nothing measured


def print_table(reports: list[AppReport]) -> None:
    print(f"\n{'app / phase':<26}{'page runs':>10}{'run p50':>9}{'run p95':>9}{'edits':>7}{'edit p50':>9}"
          f"{'edit p95':>9}{'trains':>7}{'train p50':>10}{'max':>8}{'fail':>6}{'busy':>6}{'wall s':>8}{'load':>6}")
    print(f"{'':<26}{'':>10}{'ms':>9}{'ms':>9}{'':>7}{'ms':>9}{'ms':>9}{'':>7}{'ms':>10}{'ms':>8}")
    for report in reports:
        rows = [(p.name, p.visits, len(p.failures), p.busy, p.seconds, p.load) for p in report.phases]
        waves = report.waves
        if len(waves) > 1:
            rows.append(("burst (all waves)", report.burst_visits(), sum(len(p.failures) for p in waves),
                         sum(p.busy for p in waves), sum(p.seconds for p in waves),
                         sum(p.load for p in waves) / len(waves)))
        for name, visits, failures, busy, seconds, load in rows:
            s = summary(visits)
            print(f"{report.label + ' / ' + name:<26}{s['page_runs']:>10}{ms(s['run_p50']):>9}{ms(s['run_p95']):>9}"
                  f"{s['edits']:>7}{ms(s['edit_p50']):>9}{ms(s['edit_p95']):>9}{s['trains']:>7}"
                  f"{ms(s['train_p50']):>10}{ms(s['train_max']):>8}{failures:>6}{busy:>6}{seconds:>8.1f}{load:>6.1f}")
    print(f"(load: the machine's 1-minute load average as the phase began; {CORES} cores, so above {CORES} "
          "other work was waiting too)")


def print_not_reached(reports: list[AppReport]) -> None:
    for report in reports:
        for p in report.phases:
            if p.not_reached:
                print(f"  {report.label} / {p.name}: {p.not_reached} page visits not reached within the "
                      "phase's time budget (--phase-budget)")


def median_of(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def print_pages(report: AppReport) -> None:
    print(f"\n{report.label}: per page under the burst; alone: wall time and the server's CPU time (ms); "
          "fail: in every phase; KB/run: what one page run sends")
    print(f"  {'page':<18}{'run p50':>9}{'run p95':>9}{'edit p50':>9}{'edit p95':>9}{'alone run':>10}"
          f"{'alone edit':>11}{'CPU run':>8}{'CPU edit':>9}{'trains':>7}{'fail':>6}{'KB/run':>8}  kind")
    alone = report.phase("alone").visits
    failures = report.failures()
    for page in report.pages:
        failed = sum(f"] /{page} (" in f for f in failures)
        sizes = [v.run.bytes_received for v in alone if v.url_path == page]
        run_cpu = median_of([v.run_cpu_s for v in alone if v.url_path == page])
        edit_cpu = median_of([v.edit_cpu_s for v in alone if v.url_path == page and v.edit is not None])
        kilobytes = statistics.median(sizes) / 1000 if sizes else float("nan")
        burst = summary([v for v in report.burst_visits() if v.url_path == page])
        solo = summary([v for v in alone if v.url_path == page])
        fact = report.facts.get(page, PageFacts())
        kind = ", ".join(k for k, on in (("text box", fact.has_text_box), ("figure", fact.has_figure),
                                         ("training", fact.has_train_button)) if on) or "no text box"
        print(f"  {'/' + page:<18}{ms(burst['run_p50']):>9}{ms(burst['run_p95']):>9}{ms(burst['edit_p50']):>9}"
              f"{ms(burst['edit_p95']):>9}{ms(solo['run_p50']):>10}{ms(solo['edit_p50']):>11}{ms(run_cpu):>8}"
              f"{ms(edit_cpu):>9}{burst['trains']:>7}"
              f"{failed:>6}{kilobytes:>8,.0f}  {kind}")


def memory_growth(waves: list[Phase]) -> float:
    """Memory after the last wave against after the first, each read once the sessions that left had expired."""
    first, last = waves[0].rss_expired, waves[-1].rss_expired
    return (last - first) / first if first else float("nan")


def print_resources(report: AppReport, ttl_s: float) -> None:
    waves = report.waves
    if not waves:
        return
    first = waves[0]
    per_session = max((p.rss_peak - p.rss_before) / max(1, p.sessions) for p in waves)
    growth = memory_growth(waves)
    print(f"\n{report.label}: server memory (RSS, MiB): at start {report.rss_start / MIB:.0f}, "
          f"before the waves {first.rss_before / MIB:.0f}")
    for p in waves:
        print(f"  {p.name}: peak {p.rss_peak / MIB:.0f} (+{(p.rss_peak - p.rss_before) / MIB:.0f} for "
              f"{p.sessions} sessions, {(p.rss_peak - p.rss_before) / max(1, p.sessions) / MIB:.1f} per session), "
              f"after {p.rss_after / MIB:.0f}, holding {p.retained} sessions that left within {ttl_s:g} s"
              + (f"; {p.rss_expired / MIB:.0f} once they had expired" if p.rss_expired else ""))
    print(f"  per session at the peak: {per_session / MIB:.1f} MiB; after the last wave vs after the first, "
          f"every session expired: {growth:+.1%}")
    print(f"  (the server keeps a disconnected session {ttl_s:g} s for it to reconnect, "
          "server.disconnectedSessionTTL: right after a wave it still holds them)")
    wall, server_cpu, client_cpu = (sum(getattr(p, a) for p in waves) for a in ("seconds", "server_cpu_s",
                                                                                  "client_cpu_s"))
    print(f"  CPU during the waves: server {server_cpu:.0f} s in {wall:.0f} s of wall time "
          f"({server_cpu / wall / CORES:.0%} of {CORES} cores); the simulated students {client_cpu:.0f} s")
    full, pause = sum(p.gc_full for p in waves), sum(p.gc_pause_s for p in waves)
    longest = max(p.gc_longest_s for p in waves)
    print(f"  garbage collection during the waves: {pause:.1f} s of pauses ({pause / server_cpu:.0%} of the server's "
          f"CPU), {full} full collections, the longest pause {ms(longest)} ms (no page runs during one)")


def print_browser(report: AppReport) -> None:
    b = report.browser
    if b is None:
        return
    if b.error:
        print(f"\n{report.label}: browser tabs could not run: {b.error}")
        return
    loads = [v.seconds for v in b.visits if v.ok]
    figures = [v for v in b.visits if v.figure_shown is not None]
    print(f"\n{report.label}: Chromium tabs during wave 1: {len(loads)} of {len(b.visits)} pages loaded without "
          f"an exception box, load p50 {ms(percentile(loads, 50))} ms, max {ms(max(loads, default=float('nan')))} "
          f"ms; main figure on screen on {sum(bool(v.figure_shown) for v in figures)} of {len(figures)} pages "
          "that have one")
    for v in b.failures:
        print(f"  /{v.url_path}: {v.problem}")


def goals(app: AppReport, floor: AppReport) -> list[tuple[str, bool, str]]:
    out = []
    failures = app.failures() + [f"browser /{v.url_path}: {v.problem}"
                                                   for v in (app.browser.failures if app.browser else [])]
    out.append(("0 failures (first pass, alone, burst, browser tabs)", not failures, f"{len(failures)} failures"))
    a, f = summary(app.burst_visits()), summary(floor.burst_visits())
    for what in ("run", "edit"):
        ratio = a[f"{what}_p95"] / f[f"{what}_p95"] if f[f"{what}_p95"] else float("nan")
        out.append((f"{what} p95 under the burst <= {GOAL_P95_RATIO:g}x the minimal app's", ratio <= GOAL_P95_RATIO,
                    f"{ms(a[f'{what}_p95'])} ms vs {ms(f[f'{what}_p95'])} ms: {ratio:.1f}x"))
    waves = app.waves
    if waves and waves[0].rss_expired:
        growth = memory_growth(waves)
        out.append((f"memory after {len(waves)} waves within {GOAL_MEMORY_GROWTH:.0%} of after the first",
                    growth <= GOAL_MEMORY_GROWTH, f"{growth:+.1%} (each once its sessions had expired; right after "
                    f"the wave, holding {waves[-1].retained} vs {waves[0].retained} sessions: "
                    f"{(waves[-1].rss_after - waves[0].rss_after) / waves[0].rss_after:+.1%})"))
    return out


def to_json(reports: list[AppReport], results: list[tuple[str, bool, str]]) -> dict:
    out = {"goals": [{"goal": g, "met": ok, "value": v} for g, ok, v in results], "apps": {}}
    for r in reports:
        out["apps"][r.label] = {
            "pages": r.pages, "facts": {p: asdict(f) for p, f in r.facts.items()}, "rss_start": r.rss_start,
            "phases": [{**{f.name: getattr(p, f.name) for f in fields(Phase) if f.name != "visits"},
                        **summary(p.visits)} for p in r.phases],
            "browser": asdict(r.browser) if r.browser else None, "server_log_problems": r.log_problems[:50],
        }
    return out


async def let_sessions_expire(measurements: list[Measurement], ttl_s: float) -> None:
    """Wait until the sessions of every wave so far are past the servers' TTL, make each server drop
    them, and read its memory: after the first wave and after the last, the same zero sessions held.

    Streamlit drops expired sessions when it stores the next disconnected one, so one student
    opens the home page and leaves (that session is held in both readings alike).
    """
    last = max(when for m in measurements for when, _ in m.departures)
    await asyncio.sleep(max(0.0, last + ttl_s + 1 - time.monotonic()))
    for m in measurements:
        async with Session(m.server.url) as probe:
            await probe.open("")
    await asyncio.sleep(SETTLE_S)
    for m in measurements:
        m.report.waves[-1].rss_expired = m.server.rss()


async def main(args: argparse.Namespace) -> int:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="load_test_") as tmp:
        log_dir = Path(args.log_dir) if args.log_dir else Path(tmp)
        log_dir.mkdir(parents=True, exist_ok=True)
        print(f"Load test: {args.students} students at once, {args.waves} wave(s), "
              f"{'2 Chromium tabs in wave 1' if args.browsers else 'no browser tabs'}"
              + "".join(f", --{name} {value}" for name, value in args.server_option), flush=True)
        with contextlib.ExitStack() as servers:
            # Both servers stay up and the phases alternate, so that whatever else this machine is
            # doing weighs on both apps alike; an idle server costs nothing.
            options = dict(args.server_option)
            course_server = servers.enter_context(serve(APP, log_dir / "course_app.log", options=options))
            course = Measurement("course app", course_server, args)
            await course.cold()
            minimal_args = ("--pages", str(max(1, len(course.report.pages))))
            minimal_server = servers.enter_context(serve(MINIMAL_APP, log_dir / "minimal_app.log", minimal_args,
                                                         options=options))
            minimal = Measurement("minimal app", minimal_server, args)
            await minimal.cold()
            for measurement in (minimal, course):
                await measurement.alone()
            for wave in range(args.waves):
                for measurement in (minimal, course):
                    await measurement.wave(wave)
                if wave in (0, args.waves - 1):
                    print(f"  both apps: letting the sessions that left expire ({disconnected_ttl(args):g} s) ...",
                          flush=True)
                    await let_sessions_expire([minimal, course], disconnected_ttl(args))
            app, floor = course.finish(), minimal.finish()
        if args.verify:
            for measurement, script, script_args in ((minimal, MINIMAL_APP, minimal_args), (course, APP, ())):
                measurement.say("typing a few of the burst's edits again on two fresh servers ...")
                name = measurement.report.label.replace(" ", "_")
                with serve(script, log_dir / f"{name}_fresh_1.log", script_args, options=options) as first, \
                        serve(script, log_dir / f"{name}_fresh_2.log", script_args, options=options) as second:
                    await measurement.verify((first, second))
    reports = [floor, app]
    print_table(reports)
    print_not_reached(reports)
    for report in reports:
        verified, mismatched = (sum(getattr(p, a) for p in report.waves) for a in ("verified", "mismatched"))
        if verified:
            unreproducible = sum(p.unreproducible for p in report.waves)
            print(f"  {report.label}: {verified} edits of the burst typed again alone on fresh servers: {mismatched} "
                  f"drew other figures under the burst; {unreproducible} could not be judged, the two fresh servers "
                  "drew different figures for the same text")
            for page, how in report.unreproducible.items():
                print(f"    /{page}: {how}")
    print_pages(app)
    for report in reports:
        print_resources(report, disconnected_ttl(args))
    for report in reports:
        print_browser(report)
    for report in reports:
        problems = distinct(report.failures())
        if problems:
            print(f"\n{report.label}: failures ({len(report.failures())}), distinct:")
            for line in problems[:20]:
                print(f"  {line}")
        if report.log_problems:
            counts = Counter(report.log_problems)
            print(f"\n{report.label}: {len(report.log_problems)} error(s) in the server log, distinct:")
            for line, n in counts.most_common(10):
                print(f"  {n:>3} x {line}")
    results = goals(app, floor)
    print("\nGoals")
    for goal, ok, value in results:
        print(f"  [{'met' if ok else 'MISSED'}] {goal}: {value}")
    print(f"\nTotal {time.monotonic() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(reports, results), indent=1, default=str))
    return 0


def server_option(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[a-zA-Z]+\.[a-zA-Z]+", name):
        raise argparse.ArgumentTypeError(f"expected section.option=value, not {text!r}")
    return name, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=30, help="students at once in each wave (default 30)")
    parser.add_argument("--waves", type=int, default=3, help="waves of students, each disconnecting (default 3)")
    parser.add_argument("--quick", action="store_true", help="5 students, 2 waves, one alone pass")
    parser.add_argument("--train-every", type=int, default=3, help="one student in N trains (0: none)")
    parser.add_argument("--alone-passes", type=int, default=2, help="passes of a single student, warm")
    parser.add_argument("--phase-budget", type=float, default=300.0, help="seconds one wave may take at most")
    parser.add_argument("--no-browsers", dest="browsers", action="store_false", help="skip the Chromium tabs")
    parser.add_argument("--verify", type=int, default=2,
                        help="students per wave whose edits are typed again on a fresh server to compare the figures "
                             "(0: none)")
    parser.add_argument("--server-option", action="append", default=[], type=server_option, metavar="NAME=VALUE",
                        help="a Streamlit option for both servers, e.g. runner.postScriptGC=false (repeatable)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--log-dir", help="keep the servers' logs here")
    args = parser.parse_args(argv)
    if args.quick:
        args.students, args.waves, args.alone_passes = min(args.students, 5), min(args.waves, 2), 1
    args.students = max(1, min(args.students, 200))
    args.waves = max(1, min(args.waves, 10))
    args.alone_passes = max(1, min(args.alone_passes, 5))
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
