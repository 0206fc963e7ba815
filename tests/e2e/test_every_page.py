"""Every page of the navigation in Chromium: it loads, draws its main figure, shows no exception.

The pages are read from the course map (`pages/common/course.py`), so a page written later is
opened here without touching this file once it is in git; a page not written yet must show its
preview instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from pages.common import course

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]



# A Plotly chart that Plotly drew, or a dataframe (possibly folded in an expander, as the
# Fine-tuning page's labelled data is until a model is trained).
MAIN_FIGURE = "[data-testid='stPlotlyChart'] .js-plotly-plot, [data-testid='stDataFrame']"
PAGES = [("", "Home", True),
         *((lesson.url_path, lesson.label, lesson.is_built()) for lesson in course.LESSONS)]


@pytest.fixture(scope="module")
def tab(browser: Browser) -> Iterator[Page]:
    """One tab for the tour, as a student clicking through the course would use (fewer contexts to start)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    yield page
    context.close()


@pytest.mark.parametrize(("url_path", "label", "built"), PAGES, ids=[p[0] or "home" for p in PAGES])
def test_page_loads_and_draws(tab: Page, server_url, open_page, assert_no_exception, url_path, label, built) -> None:
    script_errors: list[str] = []

    def on_error(error: Exception) -> None:
        script_errors.append(str(error))

    tab.on("pageerror", on_error)
    try:
        open_page(tab, f"{server_url}/{url_path}")
    finally:
        tab.remove_listener("pageerror", on_error)
    if built:
        expect(tab.locator(MAIN_FIGURE).first).to_be_attached()
        if url_path:
            expect(tab.get_by_role("heading", name=label, exact=True)).to_be_visible()
    else:
        expect(tab.get_by_role("heading", name=label, exact=True)).to_be_visible()
        expect(tab.get_by_text("This page is coming next")).to_be_visible()
    assert tab.locator("[data-testid='stAlertContentError']").count() == 0, "an error on the page as it opens"
    assert_no_exception(tab)
    assert not script_errors, script_errors


def test_the_sidebar_moves_between_pages_and_each_keeps_its_own_sentence(page: Page, server_url, open_page,
                                                                          assert_no_exception) -> None:
    """Attention and Masking both name their text box "text"; one session visits both through the sidebar.

    Each switch is one entry of the browser's history, at the new page's address with its state: Back
    returns to the page left, as it was left, in one press.
    """

    def click_in_sidebar(label: str) -> None:
        page.get_by_test_id("stSidebar").get_by_test_id("stPageLink").get_by_role("link", name=label).click()
        page.wait_for_timeout(500)
        page.wait_for_selector("[data-test-script-state='notRunning']")
        expect(page.get_by_role("heading", name=label, exact=True)).to_be_visible()

    open_page(page, f"{server_url}/attention")
    sentence = page.get_by_role("textbox", name="Sentence", exact=True)
    sentence.fill("a dog sees a cat")
    sentence.press("Enter")
    expect(page).to_have_url(f"{server_url}/attention?text=a+dog+sees+a+cat")

    masking = next(lesson.label for lesson in course.LESSONS if lesson.url_path == "masking")
    attention = next(lesson.label for lesson in course.LESSONS if lesson.url_path == "attention")
    click_in_sidebar(masking)
    own = page.get_by_role("textbox", name="Your sentence")
    expect(own).to_have_value("the cat eats the fish in the house .")
    expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0)
    own.fill("the dog eats the fish .")
    own.press("Enter")
    expect(page).to_have_url(f"{server_url}/masking?text=the+dog+eats+the+fish+.")

    click_in_sidebar(attention)
    expect(page.get_by_role("textbox", name="Sentence", exact=True)).to_have_value("a dog sees a cat")
    expect(page).to_have_url(f"{server_url}/attention?text=a+dog+sees+a+cat")
    expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0)

    page.go_back()
    expect(page).to_have_url(f"{server_url}/masking?text=the+dog+eats+the+fish+.")
    expect(page.get_by_role("textbox", name="Your sentence")).to_have_value("the dog eats the fish .")
    page.go_back()
    expect(page).to_have_url(f"{server_url}/masking")
    expect(page.get_by_role("textbox", name="Your sentence")).to_have_value("the cat eats the fish in the house .")
    page.go_back()
    expect(page).to_have_url(f"{server_url}/attention?text=a+dog+sees+a+cat")
    expect(page.get_by_role("textbox", name="Sentence", exact=True)).to_have_value("a dog sees a cat")
    expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0)
    assert_no_exception(page)


def test_the_back_button_undoes_the_last_change_on_a_page(page: Page, server_url, open_page,
                                                          assert_no_exception) -> None:
    open_page(page, f"{server_url}/attention")
    sentence = page.get_by_role("textbox", name="Sentence", exact=True)
    default = "the cat is hungry , so it eats the fish ."  # pages/attention.py
    expect(sentence).to_have_value(default)
    for text in ("a dog sees a cat", "the fish swims"):
        sentence.fill(text)
        sentence.press("Enter")
        expect(page).to_have_url(re.compile(r"text=" + text.replace(" ", r"\+")))
    page.wait_for_selector("[data-test-script-state='notRunning']")

    page.go_back()
    expect(sentence).to_have_value("a dog sees a cat")
    page.go_back()
    expect(sentence).to_have_value(default)
    expect(page).to_have_url(f"{server_url}/attention")
    page.go_forward()
    expect(sentence).to_have_value("a dog sees a cat")
    expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0)
    assert_no_exception(page)


def test_one_change_adds_one_entry_to_the_history_and_back_restores_the_whole_link(
        page: Page, server_url, open_page, assert_no_exception) -> None:
    opened = f"{server_url}/attention?token=3&layer=1"
    open_page(page, opened)
    entries = page.evaluate("history.length")
    sentence = page.get_by_role("textbox", name="Sentence", exact=True)
    sentence.fill("a dog sees a cat")
    sentence.press("Enter")  # forgets the query token and writes the text: one new link
    expect(page).to_have_url(f"{server_url}/attention?layer=1&text=a+dog+sees+a+cat")
    page.wait_for_selector("[data-test-script-state='notRunning']")
    assert page.evaluate("history.length") == entries + 1

    page.go_back()  # the link as opened, token and all, not a half-written one
    expect(page).to_have_url(opened)
    expect(sentence).to_have_value("the cat is hungry , so it eats the fish .")
    query = page.get_by_role("combobox", name="Where does this token look?")
    expect(query).to_have_value(re.compile(r"^3: "))  # the token of the opened link
    assert_no_exception(page)


def test_a_widget_the_browser_draws_late_keeps_the_value_of_the_link(page: Page, server_url, open_page,
                                                                    assert_no_exception) -> None:
    """The browser loads the code of each kind of widget when it first needs it (on a slow network or a busy
    server, late). A student who types before the radios and sliders are drawn must not send them back to
    their first choice."""
    held = []
    widget_code = re.compile(r"/static/js/(Radio|Slider)\.[^/]*\.js$")
    page.route(widget_code, lambda request: held.append(request))  # the requests wait here, unanswered
    open_page(page, f"{server_url}/tokenization?corpus=synthetic&tokenizer=word&vocab=500")
    assert held, "the page did not ask for the code of its radios and sliders"
    expect(page.locator("[data-testid='stRadio'], [data-testid='stSlider']")).to_have_count(0)
    box = page.get_by_role("textbox", name="Text to tokenize")
    box.fill("the first words")
    box.press("Control+Enter")  # a run whose values from the browser hold none for the radios and sliders
    expect(page).to_have_url(re.compile(r"text=the\+first\+words"))
    page.wait_for_selector("[data-test-script-state='notRunning']")

    for request in held:
        request.continue_()
    page.unroute(widget_code)
    expect(page.get_by_role("slider").first).to_have_attribute("aria-valuetext", "500")
    box.fill("the next words")
    box.press("Control+Enter")  # now the browser sends every widget's value
    expect(page).to_have_url(f"{server_url}/tokenization?corpus=synthetic&tokenizer=word&vocab=500"
                             "&text=the+next+words")
    page.wait_for_selector("[data-test-script-state='notRunning']")
    corpus = page.get_by_role("radiogroup", name="Training corpus")
    expect(corpus.get_by_role("radio", checked=True)).to_have_accessible_name("Synthetic animal world")
    assert_no_exception(page)
