"""Shared test set-up: every AppTest runs the whole app through app.py, as a browser would.

Page tests use the `app_page` fixture:

    def test_heads(app_page):
        at = app_page("attention", layer="2", head="5")   # like opening /attention?layer=2&head=5
        assert at.slider(key="layer").value == 2
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest
import torch
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from pages.common import training, ui

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
# Generous: the first run of a page may build or load a model; a hang still fails the test.
APP_TIMEOUT_S = 120


@pytest.fixture(autouse=True)
def _navigation_through_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make AppTest treat `pages/` as what it is here: the files of `st.navigation`.

    AppTest starts every run as a fresh server would, in the old "pages folder" mode (see
    pages/common/__init__.py); from the second run on, that mode would run a page file on
    its own, skipping app.py. A server leaves that mode for good on its first run; this
    does the same for every run of a test.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(autouse=True)
def _heap_unfrozen_after_each_test() -> Iterator[None]:
    """The app freezes the heap after runs that import modules (`models.settle`), as a server would
    once; in a test process, sessions of earlier tests would stay frozen with it and never be freed."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _strict_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every figure a page shows in a test passes all of Plotly's checks.

    Pages build figures without them, for speed (see `figures.figure`); a property Plotly does
    not know, or a value of the wrong kind, fails the test that drew it.
    """
    original = ui.plot

    def plot(fig, *, key: str, **options) -> None:
        go.Figure(fig)  # raises on anything Plotly would not accept
        original(fig, key=key, **options)

    monkeypatch.setattr(ui, "plot", plot)


@pytest.fixture(autouse=True)
def _full_error_details() -> Iterator[None]:
    """Show the real exception in test failures; students get the redacted one (see .streamlit/)."""
    shown = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    yield
    config.set_option("client.showErrorDetails", shown)


@pytest.fixture(autouse=True)
def _no_training_of_an_earlier_test() -> None:
    """Wait for the trainings an earlier test left behind to end: stopped ones end after their step, ones left
    without a heartbeat within HEARTBEAT_S. Until then they hold the process's training slots, and a test that
    trains would be told that the server is busy (sooner on a loaded machine, where their steps take longer)."""
    deadline = time.monotonic() + training.HEARTBEAT_S + 30
    while any(t.name.startswith("training-") and t.is_alive() for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a training of an earlier test never ended"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Torch on one thread for a module: tiny models train fastest so, above all on a shared machine.

    Use with `pytestmark = pytest.mark.usefixtures("one_thread")`.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def app_page() -> Callable[..., AppTest]:
    """Open the app at `/URL_PATH?QUERY`, run it once, and return the AppTest to inspect or drive.

    The page is chosen by the hash Streamlit derives from its url_path, exactly as the
    browser's URL chooses it; this reaches pages given as files and as functions alike,
    which `AppTest.switch_page` (files only) does not.
    """

    def open_page(url_path: str = "", **query_params: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
        at.query_params.update(query_params)
        if url_path:
            at._page_hash = calc_hash(url_path)
        return at.run()

    return open_page
