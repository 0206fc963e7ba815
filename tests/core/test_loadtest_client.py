"""The load test's protocol client against a real server running a tiny three-page app.

The load test trusts this client to say when a page finished, which text box to type into,
and whether a run failed; so each is checked against an app whose answers are known: a page
that counts the words it is given, one that raises, and one that shows `st.error`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import numpy as np
import pytest

from bench.loadtest.client import Session, figure_differences
from bench.loadtest.launch import LONG_PAUSE_S, WRITE_EVERY_S
from bench.loadtest.server import serve

TINY_APP = '''
import gc

import streamlit as st

def echo():
    st.title("Echo")
    text = st.text_area("Text", value="one two", key="words")
    st.caption(f"{len(text.split())} words")

def boom():
    st.title("Boom")
    raise ValueError("this page breaks")

def refuse():
    st.error("Text is 9 characters long; the limit is 5.")
    gc.collect()  # a full collection, for the server's count of them

st.navigation([st.Page(echo, title="Echo", default=True), st.Page(boom, title="Boom", url_path="boom"),
               st.Page(refuse, title="Refuse", url_path="refuse")]).run()
'''


async def _conversation(url: str) -> dict:
    seen = {}
    async with Session(url, timeout_s=30) as session:
        first = await session.open("")
        seen["first"] = first
        seen["pages"] = [(p.title, p.url_path) for p in session.pages]
        box = first.text_box()
        seen["box"] = box
        seen["edit"] = await session.type_text(box, "a b c d e")
        by_path = {p.url_path: p for p in session.pages}
        seen["boom"] = await session.goto(by_path["boom"])
        seen["boom_hash_ok"] = session.page_script_hash == by_path["boom"].script_hash
        seen["refuse"] = await session.goto(by_path["refuse"])
    async with Session(url, timeout_s=30) as session:
        seen["deep_link"] = await session.open("refuse")
    return seen


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("tiny_app")
    (folder / "app.py").write_text(TINY_APP)
    with serve(str(folder / "app.py"), folder / "server.log") as server:
        seen = asyncio.run(asyncio.wait_for(_conversation(server.url), 60))
        time.sleep(3 * WRITE_EVERY_S)
        seen["gc"] = server.gc()
        return seen


def test_a_page_runs_to_script_finished_and_lists_the_navigation(conversation: dict) -> None:
    first = conversation["first"]
    assert first.ok and first.seconds > 0
    assert first.elements["heading"] == 1 and first.elements["text_area"] == 1
    assert "2 words" in first.texts
    assert conversation["pages"] == [("Echo", ""), ("Boom", "boom"), ("Refuse", "refuse")]


def test_typing_into_the_text_box_reruns_the_page_with_the_new_text(conversation: dict) -> None:
    box = conversation["box"]
    assert box.kind == "text_area" and box.key == "words" and box.value == "one two"
    edit = conversation["edit"]
    assert edit.ok and "5 words" in edit.texts
    assert not edit.exceptions and not edit.errors


def test_an_exception_and_an_error_box_are_reported(conversation: dict) -> None:
    boom = conversation["boom"]
    assert conversation["boom_hash_ok"]
    assert boom.ok and len(boom.exceptions) == 1  # the run ends; the exception is an element
    assert boom.texts == ["Boom"]
    refuse = conversation["refuse"]
    assert refuse.errors == ["Text is 9 characters long; the limit is 5."] and not refuse.exceptions


def test_a_deep_link_opens_the_page_named_in_the_url(conversation: dict) -> None:
    assert conversation["deep_link"].errors == ["Text is 9 characters long; the limit is 5."]


def test_the_server_counts_its_garbage_collections(conversation: dict) -> None:
    stats = conversation["gc"]
    assert stats.collections[2] >= 2  # the refuse page collected twice (two sessions opened it)
    assert stats.collections[0] > stats.collections[2] and stats.seconds > 0
    assert all(s >= LONG_PAUSE_S and 0 <= g <= 2 for _, g, s in stats.long_pauses)


def test_figures_are_compared_by_their_text_and_their_numbers_within_rounding() -> None:
    drawn = '{"data": [{"x": ["the", "cat"], "y": [0.25, 0.75]}], "layout": {"title": {"text": "Layer 1"}}}'
    rounded = '{"data": [{"x": ["the", "cat"], "y": [0.2500001, 0.75]}], "layout": {"title": {"text": "Layer 1"}}}'
    other_text = '{"data": [{"x": ["the", "dog"], "y": [0.25, 0.75]}], "layout": {"title": {"text": "Layer 1"}}}'
    other_value = '{"data": [{"x": ["the", "cat"], "y": [0.5, 0.5]}], "layout": {"title": {"text": "Layer 1"}}}'
    assert figure_differences([drawn], [rounded]) == []
    assert figure_differences([drawn], [other_text]) == ["figure 1: .data[0].x[1]: 'cat' vs 'dog'"]
    assert figure_differences([drawn, drawn], [drawn, other_value]) == ["figure 2: .data[0].y[0]: 0.25 vs 0.5"]
    assert figure_differences([drawn], []) == ["1 figures vs 0"]


def test_figures_compare_base64_arrays_and_printed_decimals_as_numbers() -> None:
    def heatmap(values: list[float], hover: str) -> str:
        data = base64.b64encode(np.array(values, dtype="f8").tobytes()).decode()
        return json.dumps({"data": [{"z": {"dtype": "f8", "bdata": data, "shape": "2, 2"}, "hovertext": hover}]})

    drawn = heatmap([0.1, 0.2, 0.3, 0.4], "weight 0.250 · ID 113")
    assert figure_differences([drawn], [heatmap([0.1, 0.2, 0.3, 0.4000001], "weight 0.251 · ID 113")]) == []
    assert figure_differences([drawn], [heatmap([0.4, 0.3, 0.2, 0.1], "weight 0.250 · ID 113")]) == [
        "figure 1: .data[0].z: arrays of 4 numbers differ"]
    assert figure_differences([drawn], [heatmap([0.1, 0.2, 0.3, 0.4], "weight −0.631 · ID 113")]) != []
    assert figure_differences([drawn], [heatmap([0.1, 0.2, 0.3, 0.4], "weight 0.250 · ID 114")]) != []
