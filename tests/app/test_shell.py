"""The app shell: home page, sidebar, navigation to every page of the course."""

from __future__ import annotations

import gc
import json
import sys
import types
from urllib import parse

import pytest
from streamlit.util import calc_hash

from llm_core.params import parameter_count
from llm_core.pretrained import minilm_config
from pages.common import course, models
from pages.common.course import LESSONS


def chart_specs(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def points(spec: dict) -> dict[str, float]:
    """Row label -> x value of every dot in a log_dot_chart."""
    labels = spec["layout"]["yaxis"]["ticktext"]
    return {labels[row]: x for trace in spec["data"] for row, x in zip(trace["y"], trace["x"], strict=True)}


def test_home_shows_scale_charts_course_map_and_takeaway(app_page):
    at = app_page()

    assert not at.exception
    assert at.title[0].value == "What makes a Large Language Model"
    parameters, data = chart_specs(at)

    sizes = points(parameters)
    assert sizes["GPT-1"] == 117e6 and sizes["GPT-3"] == 175e9
    assert sizes["all-MiniLM-L6-v2"] == parameter_count(minilm_config())
    assert sizes["GPT-4 (rumoured)"] == 1.78e12  # a rumour, and labelled as one
    assert parameters["layout"]["xaxis"]["type"] == "log"

    assert points(data) == {"GPT-1": 4.5, "GPT-2": 40, "GPT-3": 570}  # GB; GPT-4's is not known...
    assert [note["text"] for note in data["layout"]["annotations"]] == ["unknown"]  # ...and says so

    links = [link.proto.label.strip("*") for link in at.main.get("page_link")]
    assert links == [lesson.label for lesson in LESSONS]
    assert at.success[-1].proto.title == "Takeaway" and "Transformer" in at.success[-1].value
    assert at.sidebar.caption[0].value.startswith("Models run on **")


def test_the_sidebar_links_each_page_with_its_state_and_the_seed(app_page):
    """A link between pages carries the page as the session last left it: the browser then makes one history
    entry for the switch, with the page's own address (see url_state.link_to)."""

    def sidebar_links(at) -> dict[str, str]:
        return {link.proto.page: link.proto.query_string for link in at.sidebar.get("page_link")}

    def home_links(at) -> dict[str, str]:
        return {link.proto.page: link.proto.query_string for link in at.main.get("page_link")}

    at = app_page("attention", layer="1", seed="3")
    links = sidebar_links(at)
    assert list(links) == [".", *(lesson.url_path for lesson in LESSONS)]  # home first, in the lecture's order
    assert links["attention"] == "layer=1&seed=3"  # this page as it is now
    assert links["masking"] == links["."] == "seed=3"  # other pages: only the shared seed so far

    at._page_hash = calc_hash("masking")
    at.run()
    at.selectbox(key="head").set_value(2).run()
    at.number_input(key="seed").set_value(4).run()
    links = sidebar_links(at)
    assert links["masking"] == "head=2&seed=4" and links["attention"] == "layer=1&seed=4"

    at._page_hash = calc_hash("")
    at.run()
    assert home_links(at)["masking"] == "head=2&seed=4"  # the home page's map links the same way
    at.number_input(key="seed").set_value(5).run()  # changed in this very run: its links already say so
    assert home_links(at)["attention"] == "layer=1&seed=5" and sidebar_links(at)["attention"] == "layer=1&seed=5"


@pytest.mark.parametrize("url_path", ["", "attention", "masking"])
def test_every_sidebar_link_leads_to_its_page_from_any_page(app_page, url_path):
    """Copied ("copy link") or opened in a new tab, a sidebar link goes where a click goes, Home's too."""
    at = app_page(url_path, seed="12")
    here = f"http://localhost:8501/{url_path}?seed=12"
    for link, page in zip(at.sidebar.get("page_link"), at.session_state[course.PAGES_KEY], strict=True):
        href = link.proto.page + (f"?{link.proto.query_string}" if link.proto.query_string else "")
        address = parse.urlsplit(parse.urljoin(here, href))  # as the browser reads the link's href
        assert (address.path, address.query) == (f"/{page.url_path}", "seed=12"), (link.proto.label, href)
        assert link.proto.page_script_hash == page._script_hash  # a click opens that very page


def test_each_session_makes_its_navigation_once(app_page):
    """The st.Page objects are made on a session's first run and reused: they read the disk when
    made. Each session has its own, since st.navigation marks the one it returns as runnable."""
    at = app_page()
    pages = at.session_state[course.PAGES_KEY]
    assert [page.url_path for page in pages] == ["", *(lesson.url_path for lesson in LESSONS)]
    at._page_hash = calc_hash("tokenization")
    at.run()
    assert not at.exception and at.title[0].value == "1. Tokenization"
    assert at.session_state[course.PAGES_KEY] is pages
    other = app_page()
    assert not set(map(id, other.session_state[course.PAGES_KEY])) & set(map(id, pages))


def test_sidebar_seed_is_shared_through_the_url(app_page):
    at = app_page(seed="42")
    assert at.sidebar.number_input(key="seed").value == 42

    at.sidebar.number_input(key="seed").set_value(7).run()
    assert at.query_params["seed"] == "7"

    at.sidebar.number_input(key="seed").set_value(0).run()  # the default: the link stays clean
    assert "seed" not in at.query_params


def test_bad_seed_in_the_link_warns_and_falls_back(app_page):
    at = app_page(seed="-3")
    assert not at.exception
    assert at.sidebar.number_input(key="seed").value == 0
    assert "seed" in at.warning[0].value and not at.sidebar.warning  # in the page: a phone's sidebar starts closed


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.url_path)
def test_every_page_of_the_course_opens(app_page, lesson):
    at = app_page(lesson.url_path)

    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if lesson.is_built():
        assert at.title, f"{lesson.file} shows no title"
        assert any(box.proto.title == "Takeaway" for box in at.success), f"{lesson.file} has no takeaway"
    else:
        assert at.title[0].value == lesson.label
        assert "coming next" in at.info[0].value
        assert all(item in at.markdown[-1].value for item in lesson.you_will)


def test_a_run_that_imported_modules_freezes_what_the_server_holds(app_page, monkeypatch):
    """What lives as long as the server is left out of later garbage collections (gc.freeze), once
    after each run that imported something: a page's first run, a first training."""
    gc.unfreeze()
    monkeypatch.setattr(models, "_frozen_modules", 0)  # as in a server that has not run a page yet
    at = app_page()
    frozen = gc.get_freeze_count()
    assert frozen > 50_000  # the modules and functions of Streamlit, torch, Plotly and the app

    at.run()  # nothing new imported: nothing more frozen (frozen objects that were freed leave the count)
    assert gc.get_freeze_count() <= frozen

    monkeypatch.setitem(sys.modules, "lazily_imported", types.ModuleType("lazily_imported"))
    at.run()
    assert gc.get_freeze_count() > frozen
    assert models._frozen_modules == len(sys.modules)
