"""End-to-end set-up: one real `streamlit run app.py` server and one headless Chromium per test run.

Playwright drives Debian's /usr/bin/chromium (its own browser download needs a network we do
not have). A page test looks like:

    def test_attention(page, server_url, open_page, assert_no_exception):
        open_page(page, f"{server_url}/attention?layer=1")
        assert page.locator("[data-testid='stPlotlyChart']").count() > 0
        assert_no_exception(page)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
# The first run of a page may load a model on a busy 2-core machine.
PAGE_TIMEOUT_MS = 120_000
# `expect(...)` retries for 5 s by default: too short for a chart to draw on a loaded machine.
expect.set_options(timeout=60_000)
SERVER_START_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout_s: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit at {url} was not healthy after {timeout_s}s:\n{log_path.read_text()[-3000:]}")


@contextmanager
def serve(log_path: Path, port: int | None = None) -> Iterator[str]:
    """Start `streamlit run app.py` as `make run` does (config from .streamlit/), yield its URL, stop it."""
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(url, server, SERVER_START_S, log_path)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the app server shared by every end-to-end test."""
    with serve(tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture
def fresh_server_url(tmp_path: Path) -> Iterator[str]:
    """A server of its own, for a test about what happens on a server's very first request."""
    with serve(tmp_path / "server.log") as url:
        yield url


class RestartableServer:
    """A server of its own that a test stops and starts again at the same address, as a crash or an update
    of the course's server would: the students' tabs stay open and reconnect to a server that has no
    session of theirs."""

    def __init__(self, log_dir: Path) -> None:
        self.port, self.log_dir, self.starts = _free_port(), log_dir, 0
        self.url = f"http://127.0.0.1:{self.port}"
        self._running: contextlib.AbstractContextManager | None = None

    def start(self) -> None:
        self.starts += 1
        self._running = serve(self.log_dir / f"server-{self.starts}.log", self.port)
        self._running.__enter__()

    def stop(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.__exit__(None, None, None)


@pytest.fixture
def restartable_server(tmp_path: Path) -> Iterator[RestartableServer]:
    server = RestartableServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (so a fresh Streamlit session) at projector size."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(PAGE_TIMEOUT_MS)
    yield tab
    context.close()


def _open_page(page: Page, url: str) -> Page:
    """Go to `url` and return once the app is connected and its script has finished running."""
    page.goto(url)
    page.wait_for_selector("[data-test-connection-state='CONNECTED']")
    page.wait_for_selector("[data-test-script-state='notRunning']")
    page.wait_for_timeout(500)  # a rerun (e.g. from URL state) may start just after the first run
    page.wait_for_selector("[data-test-script-state='notRunning']")
    return page


def _assert_no_exception(page: Page) -> None:
    """No traceback box; with showErrorDetails = "none" one would still mark an uncaught error."""
    boxes = page.locator("[data-testid='stException']")
    assert boxes.count() == 0, [boxes.nth(i).inner_text()[:500] for i in range(boxes.count())]


@pytest.fixture
def open_page() -> Callable[[Page, str], Page]:
    return _open_page


@pytest.fixture
def assert_no_exception() -> Callable[[Page], None]:
    return _assert_no_exception
