"""A few real Chromium tabs during the burst, for what only a browser shows.

The protocol clients see every element the server sends, but not whether the page renders:
these tabs load pages while the class hammers the server, wait for the app to connect and
finish its run, and check that the page's main figure is on screen and no exception box is.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from playwright.async_api import Browser, async_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CONNECTED = "[data-test-connection-state='CONNECTED']"
NOT_RUNNING = "[data-test-script-state='notRunning']"
FIGURE = "[data-testid='stPlotlyChart']"
EXCEPTION = "[data-testid='stException']"


@dataclass
class BrowserVisit:
    """One page load in a real tab."""

    url_path: str
    seconds: float = 0.0
    ok: bool = False
    figure_shown: bool | None = None  # None when the page has no figure to show
    problem: str = ""


@dataclass
class BrowserReport:
    visits: list[BrowserVisit] = field(default_factory=list)
    error: str = ""

    @property
    def failures(self) -> list[BrowserVisit]:
        return [v for v in self.visits if not v.ok]


async def _visit(browser: Browser, base_url: str, url_paths: list[str], expects_figure: dict[str, bool],
                 page_timeout_s: float, deadline: float) -> list[BrowserVisit]:
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    visits = []
    try:
        tab = await context.new_page()
        tab.set_default_timeout(page_timeout_s * 1000)
        for url_path in url_paths:
            visit = BrowserVisit(url_path)
            visits.append(visit)
            if time.monotonic() > deadline:
                visit.problem = "not visited: the browsers' time budget ran out"
                continue
            start = time.perf_counter()
            try:
                await tab.goto(f"{base_url}/{url_path}")
                await tab.wait_for_selector(CONNECTED)
                await tab.wait_for_selector(NOT_RUNNING)
                await tab.wait_for_timeout(300)  # a rerun (URL state) may start just after the first
                await tab.wait_for_selector(NOT_RUNNING)
                if expects_figure.get(url_path):
                    await tab.locator(FIGURE).first.wait_for(state="visible")
                    visit.figure_shown = True
                visit.seconds = time.perf_counter() - start
                boxes = tab.locator(EXCEPTION)
                if await boxes.count():
                    visit.problem = "exception box: " + (await boxes.first.inner_text())[:300]
                else:
                    visit.ok = True
            except Exception as why:  # a timeout or a crashed tab is a failure to report, not to raise
                visit.seconds = time.perf_counter() - start
                if expects_figure.get(url_path):
                    visit.figure_shown = False
                visit.problem = f"{type(why).__name__}: {str(why).splitlines()[0][:200]}"
    finally:
        await context.close()
    return visits


async def browse(base_url: str, url_paths: list[str], expects_figure: dict[str, bool], *, tabs: int = 2,
                 page_timeout_s: float = 90.0, budget_s: float = 240.0) -> BrowserReport:
    """Share `url_paths` among `tabs` tabs of one Chromium and load them all, within `budget_s`."""
    report = BrowserReport()
    deadline = time.monotonic() + budget_s
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                shares = [url_paths[i::tabs] for i in range(tabs)]
                results = await asyncio.gather(*(
                    _visit(browser, base_url, share, expects_figure, page_timeout_s, deadline)
                    for share in shares if share
                ))
            finally:
                await browser.close()
        report.visits = [visit for share in results for visit in share]
    except Exception as why:
        report.error = f"{type(why).__name__}: {str(why).splitlines()[0][:300]}"
    return report
