"""UI helpers shared by the pages: figure builders, URL state, limits, the page frame.

Each page keeps its cached computations in a module here (`<page>_cached.py`), not in the
page script: Streamlit runs the script again on every interaction, and a cached function defined
in it is wrapped again each time (reading its source to key the cache), which costs the server's
one Python interpreter a few milliseconds a run, for the whole class. Defined in a module, each
is wrapped once per server.

Importing this package also makes sure every page is run through `app.py`. Streamlit takes
a `pages/` folder beside the entry script for an old-style multipage app until the first
call of `st.navigation`; on a freshly started server, a deep link such as `/attention` would
otherwise run `pages/attention.py` on its own, without the page setup, the sidebar and the
seed that `app.py` provides. Every page imports this package, so the first run in a new
server process switches that mode off and starts over through `app.py`.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()
