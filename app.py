"""Introduction to LLMs: an interactive companion to the lecture.

Run with `make run`. This script sets up the page, the sidebar settings every page shares
(the device and the random seed) and the navigation in the lecture's order.
"""

import streamlit as st

from llm_core.device import use_one_thread
from pages.common import course, limits, models, url_state

# An emoji favicon is drawn by the browser itself; a Material icon would be fetched from Google's fonts server.
# The sidebar starts narrower than Streamlit's 336 px: on a 1024 px projector the page keeps the room its
# controls and figures need, and the longest page name still fits on its line.
st.set_page_config(page_title="Introduction to LLMs", page_icon="🎓", layout="wide", initial_sidebar_state=312)

device = models.device_in_use()
use_one_thread()  # this run's own torch setting: a class's requests share the cores (see llm_core.device)
url_state.replace_lone_surrogates()
# The sidebar lists the pages itself, each link carrying its page's state (see url_state.link_to), once
# this run's link is final: Streamlit's own menu links to bare addresses.
page = st.navigation(course.navigation_pages(), position="hidden")
menu = st.sidebar.container()
try:
    with url_state.page_scope(page.url_path):  # the seed too, so that Back and Forward undo its changes as well
        # Bound before the sidebar: a warning about a bad seed in the link then heads the page, where a phone,
        # whose sidebar starts closed, shows it too.
        url_state.bind("seed", default=0, min_value=limits.SEED.minimum, max_value=limits.SEED.maximum, shared=True)
        with st.sidebar:
            st.caption(f"Models run on **{device}**")
            st.number_input(
                "Random seed", min_value=limits.SEED.minimum, max_value=limits.SEED.maximum, step=1, key="seed",
                help="Every page that samples or trains starts from this seed, so a result can be repeated.",
            )
        page.run()
finally:
    with menu:
        for entry, target in zip(course.navigation_pages(), course.menu_pages(), strict=True):
            st.page_link(target, query_params=url_state.link_to(entry.url_path))
        st.divider()
models.settle()  # what this run loaded for good, out of the garbage collector's way
