"""AppTest set up as a server runs pages, for the benches that time page runs without a browser."""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import app_test as app_test_module
from streamlit.testing.v1 import local_script_runner


def run_through_app_every_time() -> None:
    """As tests/conftest.py does: every run goes through app.py's navigation."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


def share_script_cache() -> None:
    """Compile app.py and the page once, as a server does, instead of on every AppTest run."""
    shared = ScriptCache()
    app_test_module.ScriptCache = lambda: shared
    local_script_runner.ScriptCache = lambda: shared
