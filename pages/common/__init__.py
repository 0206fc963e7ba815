"""UI helpers shared by the pages: figure builders, URL state, limits, the page frame.

Importing this package also makes sure every page is run through `app.py`. Streamlit takes
a `pages/` folder beside the entry script for an old-style multipage app until the first
call of `st.navigation`; on a freshly started server, a deep link such as `/attention` would
otherwise run `pages/attention.py` on its own, without the page setup, the sidebar and the
seed that `app.py` provides. Every page imports this package, so the first run in a new
server process switches that mode off and starts over through `app.py`; every page header
checks again, for a server (or a test harness) that turns the mode back on later.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def run_through_app() -> None:
    """Start the run over through `app.py` if Streamlit is about to run a page file on its own."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


run_through_app()
