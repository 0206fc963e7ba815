"""Helpers for the whole-class load test (`bench/load_test.py`).

- `client`: one simulated student speaking Streamlit's own websocket protocol;
- `server`: start and stop a `streamlit run` on loopback, read its memory;
- `browser`: a few real Chromium sessions for what only a browser shows;
- `minimal_app/`: the floor, a plain Streamlit app with as many pages as ours.
"""
