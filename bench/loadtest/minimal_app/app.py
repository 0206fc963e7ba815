"""The floor for the load test: the least a Streamlit page with a text box and a chart can cost.

    streamlit run bench/loadtest/minimal_app/app.py -- --pages 12

As many pages as the course (the count comes from the command line), each one a title, a
text box and a plotly bar chart of the text's word lengths. Whatever this app's pages take
under a burst is what Streamlit itself takes; the course's pages are measured against it.
"""

from __future__ import annotations

import argparse

import plotly.graph_objects as go
import streamlit as st

DEFAULT_TEXT = "the quick brown fox jumps over the lazy dog"


def page_count() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=12)
    count = parser.parse_known_args()[0].pages
    return max(1, min(count, 50))


def make_page(number: int) -> st.Page:
    def show() -> None:
        st.title(f"Page {number}")
        text = st.text_area("Text", value=DEFAULT_TEXT, key=f"text_{number}", max_chars=2_000)
        words = text.split() or ["(empty)"]
        fig = go.Figure(go.Bar(x=list(range(len(words))), y=[len(w) for w in words], hovertext=words))
        fig.update_layout(xaxis_title="word", yaxis_title="characters", height=300)
        st.plotly_chart(fig, key=f"chart_{number}")
        st.caption(f"{len(words)} words")

    return st.Page(show, title=f"Page {number}", url_path=f"page{number}", default=number == 0)


st.navigation([make_page(i) for i in range(page_count())]).run()
