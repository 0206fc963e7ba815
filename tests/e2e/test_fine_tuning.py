"""The Fine-tuning page in a real browser: a run's curve grows while it trains, and Stop stops it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from pages.common.limits import CONCURRENT_TRAININGS
from pages.common.training import REASONS

pytestmark = pytest.mark.e2e


# Points of the first curve of the chart titled `title`. The chart is redrawn as training goes
# on, so for a moment a new copy may be empty: take the largest count on the page.
POINTS_JS = """title => Math.max(0, ...[...document.querySelectorAll('.js-plotly-plot')]
    .filter(el => el.textContent.includes(title) && el.data && el.data.length)
    .map(el => el.data[0].y.length))"""


def loss_points(page: Page, title: str) -> int:
    return page.evaluate(POINTS_JS, title)


def test_a_run_grows_its_curve_live_and_stops_when_asked(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/fine_tuning?section=instruct&it_steps=400&it_seconds=60&it_lr=0.001&it_batch=64")
    expect(page.get_by_role("heading", name="10. Fine-tuning")).to_be_visible()
    page.get_by_role("button", name="Instruction-tune").click()

    title = "Loss on answer tokens"
    # Each count is the one the wait saw: read again afterwards, it could fall on a redraw's empty moment.
    first = page.wait_for_function(f"title => {{ const n = ({POINTS_JS})(title); return n >= 3 && n }}",
                                   arg=title).json_value()
    later = page.wait_for_function(f"([title, m]) => {{ const n = ({POINTS_JS})(title); return n > m && n }}",
                                   arg=[title, first]).json_value()
    assert later > first >= 3  # the curve grows while the model trains
    expect(page.get_by_role("button", name="Stop")).to_be_enabled()
    expect(page.get_by_role("button", name="Instruction-tune")).to_be_disabled()  # no second run meanwhile

    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text(REASONS["stopped"])).to_be_visible()
    page.wait_for_selector("[data-test-script-state='notRunning']")
    stopped_at = loss_points(page, title)
    assert later <= stopped_at < 400  # it stopped well before its budget, and kept every step
    expect(page.get_by_text("after instruction tuning")).to_be_visible()  # results of what was trained
    expect(page.get_by_role("button", name="Instruction-tune")).to_be_enabled()
    assert_no_exception(page)


def test_closing_a_tab_frees_its_training_slot_for_another_student(browser, server_url, open_page):
    """Every slot taken by students who then close their tabs: a third student can train at once."""
    # The longest run the page allows (400 steps of 64 examples): the slots stay taken while the test acts.
    url = f"{server_url}/fine_tuning?section=instruct&it_steps=400&it_seconds=60&it_lr=0.001&it_batch=64"
    trainers = []
    for _ in range(CONCURRENT_TRAININGS):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        tab = open_page(context.new_page(), url)
        tab.get_by_role("button", name="Instruction-tune").click()
        expect(tab.get_by_role("button", name="Stop")).to_be_enabled()
        trainers.append(context)

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    third = open_page(context.new_page(), url)
    third.get_by_role("button", name="Instruction-tune").click()
    expect(third.get_by_text("try again in a moment")).to_be_visible()  # the server is full

    for trainer in trainers:
        trainer.close()  # each run had about a minute left
    train = third.get_by_role("button", name="Instruction-tune")
    for _ in range(20):  # seconds; each run had about a minute left
        third.wait_for_timeout(1000)
        if train.is_disabled():  # a run of this tab is going
            break
        train.click()
    expect(third.get_by_role("button", name="Stop")).to_be_enabled()  # it started: the slots were freed
    third.get_by_role("button", name="Stop").click()
    expect(third.get_by_text(REASONS["stopped"])).to_be_visible()
    context.close()
