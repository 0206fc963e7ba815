"""URL state: a link sets the widgets, the widgets rewrite the link, bad links only warn."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from urllib import parse

import pytest
from streamlit.runtime.state.query_params import QueryParams
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from pages.common import limits, url_state


def attention_like_page() -> None:
    """A page with one widget of each kind that pages bind, as a page would declare them."""
    import streamlit as st

    from pages.common import url_state

    with url_state.page_scope(""):  # as app.py runs every page: the link goes out when the page is done
        url_state.bind("text", default="the cat sat", max_chars=40)
        url_state.bind("layer", default=0, min_value=0, max_value=5)
        url_state.bind("temperature", default=1.0, min_value=0.1, max_value=2.0)
        url_state.bind("model", default="tiny decoder", options=["tiny decoder", "MiniLM"])
        url_state.bind("scaled", default=True)
        url_state.bind("words", default=["cat"], options=["cat", "dog", "fish"])
        st.text_input("Text", key="text", max_chars=40)
        st.slider("Layer", 0, 5, key="layer")
        st.slider("Temperature", 0.1, 2.0, key="temperature")
        st.selectbox("Model", ["tiny decoder", "MiniLM"], key="model")
        st.checkbox("Scale by sqrt(d_k)", key="scaled")
        st.multiselect("Words", ["cat", "dog", "fish"], key="words")


def run(**query_params: str | list[str]) -> AppTest:
    at = AppTest.from_function(attention_like_page)
    at.query_params.update(query_params)
    return at.run()


def values(at: AppTest) -> dict:
    return {
        "text": at.text_input(key="text").value,
        "layer": at.slider(key="layer").value,
        "temperature": at.slider(key="temperature").value,
        "model": at.selectbox(key="model").value,
        "scaled": at.checkbox(key="scaled").value,
        "words": at.multiselect(key="words").value,
    }


DEFAULTS = {"text": "the cat sat", "layer": 0, "temperature": 1.0, "model": "tiny decoder", "scaled": True,
            "words": ["cat"]}


def test_a_multiselect_emptied_by_the_student_stays_empty_in_its_link():
    at = run()
    at.multiselect(key="words").set_value([]).run()
    assert at.query_params["words"] == ""  # `?words=`: a link without the key would mean the default
    opened = run(**at.query_params)
    assert values(opened) == {**DEFAULTS, "words": []} and not opened.warning


def test_without_a_link_every_widget_starts_at_its_default_and_the_link_stays_empty():
    at = run()
    assert values(at) == DEFAULTS
    assert at.query_params == {}
    assert not at.warning


def test_a_link_sets_every_widget():
    at = run(text="a dog ran", layer="2", temperature="0.5", model="MiniLM", scaled="false", words=["dog", "fish"])
    assert values(at) == {"text": "a dog ran", "layer": 2, "temperature": 0.5, "model": "MiniLM", "scaled": False,
                          "words": ["dog", "fish"]}
    assert not at.warning


def test_changing_widgets_rewrites_the_link_and_the_link_reopens_the_same_state():
    at = run()
    at.slider(key="layer").set_value(3)
    at.selectbox(key="model").set_value("MiniLM")
    at.text_input(key="text").input("hello there")
    at.checkbox(key="scaled").uncheck()
    at.multiselect(key="words").select("fish")
    at.run()
    assert at.query_params == {"layer": "3", "model": "MiniLM", "text": "hello there", "scaled": "false",
                               "words": ["cat", "fish"]}

    reopened = run(**at.query_params)
    assert values(reopened) == values(at)


def test_a_text_too_long_for_a_link_leaves_the_link_as_it_was(app_page):
    at = app_page("tokenization", text="a dog ran")
    at.text_area(key="text").set_value("x" * 10_001).run()  # pasted past the bound: the page refuses it
    assert any("10,001 characters" in e.value for e in at.error)
    assert at.query_params["text"] == "a dog ran"  # a copied link opens the text the page still shows


def test_returning_to_the_default_removes_the_parameter():
    at = run(layer="4")
    assert at.query_params == {"layer": "4"}
    at.slider(key="layer").set_value(0).run()
    assert at.query_params == {}


@pytest.mark.parametrize(
    ("key", "raw", "why"),
    [
        ("layer", "banana", "whole number"),
        ("layer", "99", "from 0 to 5"),
        ("layer", "2.5", "whole number"),
        ("layer", "1_0", "whole number"),  # Python's int() would read 10, and the warning then say "from 0 to 5"
        ("layer", "\u0968", "whole number"),  # a Devanagari 2, which int() reads too
        ("temperature", "0_5", "a number"),
        ("temperature", "nan", "finite"),
        ("model", "GPT-5", "one of: “tiny decoder”, “MiniLM”"),
        ("scaled", "maybe", "true or false"),
        ("text", "x" * 41, "the limit is 40"),
        ("words", "cow", "one of: “cat”, “dog”, “fish”"),
    ],
)
def test_a_bad_value_warns_names_it_and_falls_back_to_the_default(key, raw, why):
    good_key, good_raw, good_value = ("model", "MiniLM", "MiniLM") if key != "model" else ("layer", "1", 1)
    at = run(**{key: raw, good_key: good_raw})
    assert not at.exception
    assert values(at)[key] == DEFAULTS[key]
    assert values(at)[good_key] == good_value  # a good value beside the bad one still applies
    [warning] = at.warning
    assert f"`{key}`" in warning.value and why in warning.value
    assert key not in at.query_params  # the bad value is gone from the link


def numbers_page() -> None:
    import streamlit as st

    from pages.common import url_state

    with url_state.page_scope(""):  # as app.py runs every page: the link goes out when the page is done
        url_state.bind("lr", default=0.0003, options=[0.0, 0.0003, 0.001])
        url_state.bind("batch", default=8, options=[8, 16, 32])
        url_state.bind("notes", default="first line of a long default text\nsecond line", max_chars=60)
        st.select_slider("Learning rate", [0.0, 0.0003, 0.001], key="lr")
        st.select_slider("Batch", [8, 16, 32], key="batch")
        st.text_area("Notes", key="notes", max_chars=60)


@pytest.mark.parametrize(("lr", "batch"), [("1e-3", "16.0"), ("0.0010", "16"), ("0", "3.2e1")])
def test_a_number_in_a_link_may_be_written_any_way(lr, batch):
    at = AppTest.from_function(numbers_page)
    at.query_params.update(lr=lr, batch=batch)
    at.run()
    assert not at.warning and not at.exception
    assert (at.select_slider(key="lr").value, at.select_slider(key="batch").value) == (float(lr), int(float(batch)))


@pytest.mark.parametrize("raw", ["1_0", "\u0661\u0660"])  # Python's float() reads both as 10
def test_a_numeric_option_is_written_in_ascii_digits(raw):
    from pages.common import url_state

    with pytest.raises(ValueError, match="one of"):
        url_state._parse_one(raw, str, [1, 10, 100], None, None, None)
    assert url_state._parse_one("1e1", str, [1, 10, 100], None, None, None) == 10


def test_a_whole_number_may_be_written_as_a_decimal_but_a_fraction_is_refused():
    at = run(layer="3.0")
    assert at.slider(key="layer").value == 3 and not at.warning
    at = run(layer="3.5")
    assert at.slider(key="layer").value == 0 and "whole number" in at.warning[0].value


def test_one_bad_value_of_a_multi_value_key_is_left_out_and_the_others_stay():
    at = run(words=["dog", "cow", "fish"])
    assert at.multiselect(key="words").value == ["dog", "fish"] and not at.exception
    [warning] = at.warning
    assert "“cow”" in warning.value and "one of: “cat”, “dog”, “fish”" in warning.value
    assert "Leaving it out" in warning.value
    assert at.query_params["words"] == ["dog", "fish"]
    at = run(words="cow")  # nothing good left: the default, named as a student reads it
    assert at.multiselect(key="words").value == ["cat"] and "Showing `words` = cat instead" in at.warning[0].value


def test_a_long_default_text_is_not_printed_in_the_warning():
    at = AppTest.from_function(numbers_page)
    at.query_params.update(notes="x" * 61, batch="12")
    at.run()
    notes, batch = (next(w.value for w in at.warning if f"`{key}`" in w.value) for key in ("notes", "batch"))
    assert "Showing the default text instead" in notes and "second line" not in notes
    assert "one of: “8”, “16”, “32”" in batch and "Showing `batch` = 8 instead" in batch  # a short default is named
    assert at.text_area(key="notes").value.startswith("first line")


def empty_by_default_page() -> None:
    import streamlit as st

    from pages.common import url_state

    with url_state.page_scope(""):  # as app.py runs every page: the link goes out when the page is done
        url_state.bind("frozen", default=[], options=["embeddings", "block 1", "block 2"])
        st.multiselect("Frozen", ["embeddings", "block 1", "block 2"], key="frozen")


def test_a_multi_value_key_that_starts_empty_reads_its_link():
    at = AppTest.from_function(empty_by_default_page)
    at.query_params["frozen"] = ["block 1", "embeddings"]
    at.run()
    assert not at.exception and not at.warning
    assert at.multiselect(key="frozen").value == ["block 1", "embeddings"]


def test_a_value_repeated_in_the_link_counts_once():
    at = run(words=["dog", "dog", "fish", "dog"])
    assert not at.exception and not at.warning
    assert values(at)["words"] == ["dog", "fish"]


def test_a_single_value_key_given_twice_warns_takes_the_last_and_the_link_keeps_one():
    at = run(layer=["1", "3"])
    assert not at.exception and values(at)["layer"] == 3
    assert [w.value for w in at.warning] == ["The link sets `layer` more than once; using the last value, “3”."]
    assert at.query_params["layer"] == "3"  # one value left in the link
    at.run()
    assert not at.warning


def test_the_warning_is_shown_once_not_on_every_rerun():
    at = run(layer="banana")
    assert len(at.warning) == 1
    at.slider(key="layer").set_value(2).run()
    assert not at.warning


# --- pages that use the same key names, in the real app ---------------------------------------------

TEXT_PAGES = ["tokenization", "embeddings", "attention", "masking"]  # each has a text box keyed "text"
# Every ordered pair of them exactly once (an Euler circuit of the complete directed graph).
ROUTE = ["tokenization", "embeddings", "attention", "masking", "tokenization", "attention", "embeddings",
         "masking", "attention", "tokenization", "masking", "embeddings", "tokenization"]


def sidebar_link(at: AppTest, url_path: str) -> AppTest:
    """Click a page in the sidebar: the next run shows that page with the query its link carries."""
    return open_address(at, url_path, link_to_page(at, url_path))


def link_to_page(at: AppTest, url_path: str) -> str:
    """The query of the sidebar's link to a page."""
    return next(link.proto.query_string for link in at.sidebar.get("page_link")
                if parse.urljoin("http://app/page", link.proto.page) == f"http://app/{url_path}")


def open_address(at: AppTest, url_path: str, query_string: str = "") -> AppTest:
    """The browser goes to `/url_path?query_string` in the same session (a link, an address typed)."""
    at.query_params.clear()
    for key, values in parse.parse_qs(query_string, keep_blank_values=True).items():
        at.query_params[key] = values if len(values) > 1 else values[0]
    at._page_hash = calc_hash(url_path)
    return at.run()


def text_box(at: AppTest):
    return next(box for box in [*at.text_input, *at.text_area] if box.key == "text")


def test_the_route_covers_every_ordered_pair_of_text_pages():
    pairs = set(itertools.pairwise(ROUTE))
    assert len(pairs) == len(ROUTE) - 1 == len(TEXT_PAGES) * (len(TEXT_PAGES) - 1)


def test_moving_between_pages_never_hands_one_page_another_pages_widget(app_page):
    """Four pages call their text box "text" (and some share "model", "layer", "head", "word")."""
    fresh = {}
    for url_path in TEXT_PAGES:
        opened = app_page(url_path)
        fresh[url_path] = (text_box(opened).value, dict(opened.query_params))
    at = app_page(ROUTE[0])
    for url_path in ROUTE[1:]:
        sidebar_link(at, url_path)
        assert not at.exception, url_path
        assert not at.error, (url_path, [e.value for e in at.error])
        assert not at.warning, (url_path, [w.value for w in at.warning])
        assert (text_box(at).value, dict(at.query_params)) == fresh[url_path], url_path


def test_a_page_keeps_what_the_student_left_on_it_and_another_page_keeps_its_own(app_page):
    at = app_page("attention")
    text_box(at).input("a dog sees a cat").run()
    at.slider(key="layer").set_value(1).run()
    masking_default = text_box(app_page("masking")).value

    sidebar_link(at, "masking")
    assert text_box(at).value == masking_default and "text" not in at.query_params
    text_box(at).input("the dog sleeps .").run()

    sidebar_link(at, "attention")
    assert text_box(at).value == "a dog sees a cat" and at.slider(key="layer").value == 1
    assert at.query_params["text"] == "a dog sees a cat" and at.query_params["layer"] == "1"  # the link too

    sidebar_link(at, "masking")
    assert text_box(at).value == "the dog sleeps ."
    assert not at.error and not at.exception



def test_a_page_that_stops_early_still_links_everything_it_remembers(app_page):
    at = app_page("masking", text="the dog sleeps .", layer="0", head="1", show="masked")
    text_box(at).input("   ").run()  # refused: the page stops above its other controls
    assert at.error and at.query_params["layer"] == "0"

    sidebar_link(at, "attention")
    sidebar_link(at, "masking")
    assert at.error  # still refused, as the student left it
    assert {key: at.query_params.get(key) for key in ("text", "layer", "head", "show")} == {
        "text": "   ", "layer": "0", "head": "1", "show": "masked"}

    text_box(at).input("the cat eats .").run()
    assert not at.error and not at.warning
    assert {key: at.query_params.get(key) for key in ("text", "layer", "head", "show")} == {
        "text": "the cat eats .", "layer": "0", "head": "1", "show": "masked"}


def test_a_key_the_page_does_not_read_is_named_once_with_the_key_it_may_have_meant(app_page):
    """A typo in a slide's link (or another page's key) would otherwise look accepted."""
    at = app_page("attention", Layer="2", heads="3", corpus="synthetic")
    [toast] = at.toast
    assert toast.value == ("The link's “Layer”, “heads” and “corpus” set nothing on this page as shown. "
                           "Did you mean “layer” and “head”?")
    assert at.slider(key="layer").value == 0 and at.query_params["Layer"] == "2"  # left in the link, as given
    at.slider(key="layer").set_value(1).run()
    assert not at.toast  # said once


def test_no_key_of_a_link_the_app_wrote_is_taken_for_one_the_page_does_not_read(app_page):
    """Links from the sidebar carry what a page wrote, keys of a part of it now hidden too; a page that stops
    early reads no key below the stop."""
    at = app_page("fine_tuning", section="preference", pt_beta="0.5")
    at.segmented_control(key="section").set_value("task").run()  # the preference section's keys are hidden now
    assert not at.toast and link_to_page(at, "fine_tuning") == "pt_beta=0.5"
    for page in ["attention", "fine_tuning", "masking", "", "tokenization", "fine_tuning"]:
        sidebar_link(at, page)
        assert not at.exception and not at.toast, (page, [t.value for t in at.toast])
    at = app_page("masking", text="   ", layer="1", head="2")  # refused: the page stops above layer and head
    assert at.error and not at.toast


def two_pages_with_one_key_name() -> None:
    """Pages "a" and "b" both bind "n"; the test picks the page and page a's options."""
    import streamlit as st

    from pages.common import url_state

    page, options = st.session_state.get("page", "a"), st.session_state.get("options", [1, 2, 3])
    if page == "b":
        options = [10, 20]
    with url_state.page_scope(page):
        url_state.bind("n", default=options[0], options=options)
        st.selectbox("n", options, key="n")


def test_a_remembered_value_the_page_no_longer_offers_falls_back_to_the_default():
    at = AppTest.from_function(two_pages_with_one_key_name).run()
    at.selectbox(key="n").set_value(3).run()
    at.session_state["page"] = "b"
    assert at.run().selectbox(key="n").value == 10  # b's own default, not a's 3
    at.session_state["page"] = "a"
    assert at.run().selectbox(key="n").value == 3  # a remembers
    at.session_state["page"] = "b"
    at.run()
    at.session_state["page"], at.session_state["options"] = "a", [1, 2]  # 3 is no longer a choice
    at.run()
    assert at.selectbox(key="n").value == 1 and not at.exception and not at.warning


def test_back_and_forward_in_the_browser_step_through_the_changes(app_page):
    at = app_page("attention")
    first_link = dict(at.query_params)
    text_box(at).input("a dog sees a cat").run()
    second_link = dict(at.query_params)
    text_box(at).input("the fish swims").run()

    at.query_params.clear()
    at.query_params.update(second_link)  # Back: the browser shows the previous address and reruns
    at.run()
    assert text_box(at).value == "a dog sees a cat" and not at.exception
    at.query_params.clear()
    at.query_params.update(first_link)  # Back again: the page as it opened
    at.run()
    assert text_box(at).value == "the cat is hungry , so it eats the fish ."
    assert dict(at.query_params) == first_link


def test_one_change_of_the_page_sends_one_link(app_page, monkeypatch):
    """The browser keeps a history entry for every link it is sent: a new sentence forgets the query
    token in its callback and rewrites the text, and all of it reaches the browser as one link."""
    sent = []
    original = QueryParams._send_query_param_msg

    def send(self) -> None:
        sent.append(parse.urlencode(self._query_params, doseq=True))
        original(self)

    monkeypatch.setattr(QueryParams, "_send_query_param_msg", send)
    at = app_page("attention", token="3", layer="1")
    assert sent == []  # the link as opened is the page's link: nothing to send
    text_box(at).input("a dog sees a cat").run()
    assert sent == ["layer=1&text=a+dog+sees+a+cat"]
    assert dict(at.query_params) == {"layer": "1", "text": "a dog sees a cat"}


def test_a_page_that_ends_early_sends_its_link_and_the_next_run_starts_outside_every_page(app_page):
    at = app_page("masking", layer="0")
    text_box(at).input("   ").run()  # refused: the page ends above its other controls (url_state.stop)
    assert at.error and dict(at.query_params) == {"layer": "0", "text": "   "}
    at.sidebar.number_input(key="seed").set_value(5).run()  # the sidebar's key is shared, not the page's
    sidebar_link(at, "attention")
    assert at.sidebar.number_input(key="seed").value == 5 and at.query_params["seed"] == "5"


def test_back_restores_a_key_whose_default_follows_another_key(app_page):
    """The query token's default follows the sentence. Back from a new sentence to a link without a token
    gives the old sentence its own default token, not the new sentence's position."""
    at = app_page("attention")
    first_link, first_token = dict(at.query_params), at.selectbox(key="token").value
    text_box(at).input("a bird eats the fish .").run()
    assert at.selectbox(key="token").value != first_token

    at.query_params.clear()
    at.query_params.update(first_link)  # Back
    at.run()
    assert text_box(at).value == "the cat is hungry , so it eats the fish ."
    assert at.selectbox(key="token").value == first_token and dict(at.query_params) == first_link
    assert not at.exception and not at.warning


def test_a_change_sent_before_the_browser_showed_the_last_link_is_not_taken_for_back(app_page):
    """Two quick changes: the second leaves the browser before the first run's link has reached the
    address bar, so it comes with the link of the run before. The widgets were changed, so no Back
    button was pressed: the new values stand and the link is written again."""
    at = app_page("attention")
    stale = dict(at.query_params)
    text_box(at).input("a dog sees a cat").run()
    at.query_params.clear()
    at.query_params.update(stale)
    text_box(at).input("the fish swims").run()  # the same widget again
    assert text_box(at).value == "the fish swims" and at.query_params["text"] == "the fish swims"

    stale = dict(at.query_params)
    text_box(at).input("a bird sings").run()
    at.query_params.clear()
    at.query_params.update(stale)
    at.slider(key="head").set_value(1).run()  # another widget
    assert text_box(at).value == "a bird sings" and at.slider(key="head").value == 1
    assert at.query_params["text"] == "a bird sings" and at.query_params["head"] == "1"
    assert not at.exception and not at.warning


def test_the_sidebar_seed_survives_moving_to_another_page(app_page):
    at = app_page("attention")
    at.sidebar.number_input(key="seed").set_value(7).run()
    sidebar_link(at, "masking")  # the link loses its parameters, the seed stays
    assert at.sidebar.number_input(key="seed").value == 7 and at.query_params["seed"] == "7"


def test_back_and_forward_undo_and_redo_a_change_of_the_sidebar_seed(app_page):
    at = app_page("attention", layer="1")
    before = dict(at.query_params)
    at.sidebar.number_input(key="seed").set_value(7).run()
    after = dict(at.query_params)
    assert after == {**before, "seed": "7"}

    for link, seed in ((before, 0), (after, 7)):  # Back, then Forward
        at.query_params.clear()
        at.query_params.update(link)
        at.run()
        assert at.sidebar.number_input(key="seed").value == seed and dict(at.query_params) == link
        assert at.slider(key="layer").value == 1
    assert not at.exception and not at.warning


def test_back_from_another_page_to_an_earlier_link_shows_that_link_whole(app_page):
    """The browser's history can go back several entries at once, across a page change: the link it lands
    on is complete, so what it leaves out is at its default, not at what the page had later."""
    at = app_page("attention", layer="1")
    first = dict(at.query_params)
    text_box(at).input("a dog sees a cat").run()
    at.slider(key="head").set_value(2).run()
    sidebar_link(at, "masking")
    at.query_params.clear()
    at.query_params.update(first)  # Back to the first entry: attention as opened
    at._page_hash = calc_hash("attention")
    at.run()
    assert at.slider(key="layer").value == 1 and at.slider(key="head").value == 0
    assert text_box(at).value == "the cat is hungry , so it eats the fish ."
    assert dict(at.query_params) == first and not at.exception and not at.warning


def test_back_to_the_entry_the_browser_made_for_a_page_change_shows_the_page_as_it_arrived(app_page):
    """Chosen in the sidebar, a page gets one history entry: its link, which carries the seed. Back to it
    shows the page as it arrived."""
    at = app_page("attention")
    at.sidebar.number_input(key="seed").set_value(12).run()
    sidebar_link(at, "masking")
    assert dict(at.query_params) == {"seed": "12"}  # nothing for the page to send: the link said it all
    at.selectbox(key="layer").set_value(0).run()
    assert at.query_params["seed"] == "12" and at.query_params["layer"] == "0"
    open_address(at, "masking", "seed=12")  # Back
    assert at.sidebar.number_input(key="seed").value == 12 and at.selectbox(key="layer").value == 1
    assert dict(at.query_params) == {"seed": "12"} and not at.warning


def test_back_to_a_bare_address_typed_for_a_page_shows_the_page_as_it_arrived(app_page):
    """A bare address typed in the browser makes two history entries: the address, then the page's link.
    Back to the bare one shows the page as it arrived, the seed included, not its defaults."""
    at = app_page("attention")
    at.sidebar.number_input(key="seed").set_value(12).run()
    open_address(at, "masking")
    at.selectbox(key="layer").set_value(0).run()
    assert at.query_params["seed"] == "12" and at.query_params["layer"] == "0"
    open_address(at, "masking")  # Back twice: to /masking, as the browser first showed it
    assert at.sidebar.number_input(key="seed").value == 12 and at.selectbox(key="layer").value == 1
    assert dict(at.query_params) == {"seed": "12"} and not at.warning


def test_text_over_its_limit_survives_a_round_trip_through_the_sidebar(app_page):
    """The link keeps the last text that fits; the page keeps the text as the student left it, over the limit
    and with its message. A sidebar link saying exactly what the page remembers is read as that memory."""
    at = app_page("attention")
    text_box(at).input("a dog sees a cat").run()
    too_long = "a dog " * (limits.TEXT_CHARS.maximum // 6 + 5)
    text_box(at).input(too_long).run()
    assert at.query_params["text"] == "a dog sees a cat" and at.error
    sidebar_link(at, "masking")
    sidebar_link(at, "attention")
    assert text_box(at).value == too_long and at.error  # still refused, still said why
    assert at.query_params["text"] == "a dog sees a cat"


def test_back_to_the_home_page_undoes_a_change_of_the_seed(app_page):
    at = app_page("")
    at.sidebar.number_input(key="seed").set_value(7).run()
    assert at.query_params["seed"] == "7"
    at.query_params.clear()  # Back: the home page as first opened, no parameters
    at.run()
    assert at.sidebar.number_input(key="seed").value == 0 and "seed" not in at.query_params


def test_back_to_an_entry_the_browser_filed_under_another_page_shows_the_page_as_left(app_page, monkeypatch):
    """With Back pressed again before a page has answered (150 ms apart, in Chromium), the browser may file one
    page's link under another page's address: `/attention?seed=7&word=fish`. No state of the attention page has
    a `word`: Back to that entry shows the page as the student left it."""
    at = app_page("attention", layer="1", seed="7")
    text_box(at).input("a dog sees a cat").run()
    sidebar_link(at, "embeddings")
    at.text_input(key="word").input("fish").run()
    monkeypatch.setattr(url_state, "_history_step", lambda: True)  # what the browser says of a Back
    open_address(at, "attention", "seed=7&word=fish")
    assert text_box(at).value == "a dog sees a cat" and at.slider(key="layer").value == 1
    assert at.number_input(key="seed").value == 7 and not at.toast
    assert sorted(at.query_params.items()) == [("layer", "1"), ("seed", "7"), ("text", "a dog sees a cat")]

    open_address(at, "attention", "seed=7&text=the+fish+swims")  # an entry of its own is followed, as always
    assert text_box(at).value == "the fish swims" and at.slider(key="layer").value == 0


def test_back_to_a_link_the_page_had_to_correct_corrects_it_again(app_page):
    """Opened with a position past the sentence's end, the page takes its default and says so. Back to that
    first link (still in the browser's history) corrects it the same way, not half-way."""
    opened = {"text": "the cat .", "edit": "9"}
    at = app_page("masking", **opened)
    corrected = at.selectbox(key="edit").value
    assert corrected != 9 and "edit" not in at.query_params and at.warning
    at.selectbox(key="layer").set_value(0).run()  # the first layer, not the default last one
    at.query_params.clear()
    at.query_params.update(opened)  # Back, twice
    at.run()
    assert at.selectbox(key="edit").value == corrected and "edit" not in at.query_params
    assert at.selectbox(key="layer").value == 1 and not at.exception


def required_choice_page() -> None:
    import streamlit as st

    from pages.common import url_state

    with url_state.page_scope(""):  # as app.py runs every page: the link goes out when the page is done
        stage = url_state.bind("show", default="weights", options=["mask", "scores", "weights"])
        st.segmented_control("Show", ["mask", "scores", "weights"], key="show", required=True)
        st.markdown(f"showing {stage.upper()}")  # a page that relies on a value being chosen


def test_a_choice_that_comes_back_empty_keeps_the_last_one_shown_or_the_default():
    at = AppTest.from_function(required_choice_page).run()
    at.button_group(key="show").set_value("mask").run()
    at.button_group(key="show").set_value(None).run()
    assert not at.exception
    assert at.markdown[0].value == "showing MASK" and at.button_group(key="show").value == "mask"  # kept
    fresh = AppTest.from_function(required_choice_page)
    fresh.session_state["show"] = None  # nothing shown yet to go back to
    fresh.run()
    assert not fresh.exception and fresh.markdown[0].value == "showing WEIGHTS"


def test_pages_end_early_through_url_state_so_that_their_link_still_goes_out():
    root = Path(__file__).resolve().parents[2]
    found = [
        f"{path.relative_to(root)}:{node.lineno}"
        for path in [root / "app.py", *sorted((root / "pages").rglob("*.py"))]
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stop"
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "st"
    ]
    assert not found, f"st.stop() sends nothing more, not even the link; use url_state.stop(): {found}"


def run_reconnected(at: AppTest, shown=None) -> AppTest:
    """The run that a change makes after the server forgot the session (it restarted, or the tab slept too
    long): a new session, whose first run comes with every value the browser still shows (`shown`)."""
    from streamlit.runtime.state import SafeSessionState, SessionState
    from streamlit.testing.v1.app_test import TESTING_KEY, _AppTestSessionState

    shown = shown or at._tree.get_widget_states()
    fresh = SessionState()
    fresh[TESTING_KEY] = {}
    at._session_state = SafeSessionState(fresh, lambda: None)
    at.session_state = _AppTestSessionState(at._session_state)
    return at._run(widget_state=shown)


def test_the_change_that_wakes_a_new_session_is_kept_and_the_rest_comes_from_the_link():
    at = run(text="the old words", layer="2")
    at.text_input(key="text").set_value("the new words")  # the student's first change after the restart
    at.slider(key="temperature").set_value(1.5)
    run_reconnected(at)
    assert values(at) == {**DEFAULTS, "text": "the new words", "layer": 2, "temperature": 1.5}
    assert at.query_params["text"] == "the new words" and at.query_params["temperature"] == "1.5"
    at.run()  # and it stays
    assert values(at) == {**DEFAULTS, "text": "the new words", "layer": 2, "temperature": 1.5}


def test_a_reconnected_value_the_widget_cannot_take_leaves_the_link_value():
    at = run(model="MiniLM")
    shown = at._tree.get_widget_states()
    box = next(w for w in shown.widgets if w.id == at.selectbox(key="model").id)
    box.string_value = "a model this page no longer offers"  # e.g. the app was updated while the tab slept
    run_reconnected(at, shown)
    assert not at.exception
    assert values(at)["model"] == "MiniLM"
