"""The masking page in a real browser: every figure drawn, bad input answered with a message."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CHARTS = "[data-testid='stPlotlyChart'] .js-plotly-plot"
LOAD_MS = 60_000  # the first visit loads three models on a busy machine


def test_masking_page_draws_all_its_figures(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/masking")

    expect(page.get_by_role("heading", name="5. Masking: encoder vs decoder")).to_be_visible()
    # four masks, two perturbation bars, the [MASK] chips, the encoder's guesses, the decoder's
    # shifted targets; the two layer-by-layer heatmaps are built when their expander opens
    expect(page.locator(CHARTS)).to_have_count(9, timeout=LOAD_MS)
    expect(page.locator(CHARTS).nth(1)).to_contain_text("Decoder: causal mask")
    expect(page.locator("[data-testid='stMain']")).to_contain_text("changed by exactly 0")
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    assert_no_exception(page)

    page.get_by_text("Layer by layer: where the change spreads").click()
    expect(page.locator(CHARTS)).to_have_count(11, timeout=LOAD_MS)
    expect(page.locator(CHARTS).nth(6)).to_be_visible()
    expect(page.locator(CHARTS).nth(6)).to_contain_text("Encoder: ‖change‖ per layer")
    assert_no_exception(page)

    code = page.locator("[data-testid='stCode']")
    expect(code).to_have_count(0)  # the source is sent only once asked for
    page.get_by_text("Show the code").click()
    expect(code.first).to_contain_text("def causal_mask", timeout=LOAD_MS)
    assert_no_exception(page)


def test_masking_page_explains_a_one_word_sentence(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/masking?text=cat")

    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text("at least 2 words", timeout=LOAD_MS)
    expect(page.locator(CHARTS)).to_have_count(0)
    assert_no_exception(page)


def test_controls_below_a_refused_sentence_come_back_as_they_were(page, server_url, open_page, assert_no_exception):
    """The page stops above them, so the browser drops them; they must not come back at their own defaults."""
    open_page(page, f"{server_url}/masking?layer=0&head=1&task=copy&digits=2+7+1&short=the+cat+eats+.")
    sentence = page.get_by_role("textbox", name="Your sentence")
    expect(page.locator(CHARTS).first).to_be_visible(timeout=LOAD_MS)
    shown = {label: page.get_by_label(label, exact=True).input_value()
             for label in ("Layer", "Head", "Task", "Digits for the encoder-decoder")}
    shown["second"] = page.get_by_role("textbox", name="A second sentence, batched with yours").input_value()
    assert shown == {"Layer": "0", "Head": "1", "Task": "copy", "Digits for the encoder-decoder": "2 7 1",
                     "second": "the cat eats ."}

    sentence.fill("cat")
    sentence.press("Enter")
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text("at least 2 words", timeout=LOAD_MS)
    sentence.fill("the dog eats the cake .")
    sentence.press("Enter")
    expect(page.locator("[data-testid='stAlertContentError']")).to_have_count(0, timeout=LOAD_MS)
    expect(page.locator(CHARTS).first).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_role("textbox", name="A second sentence, batched with yours")).to_have_value("the cat eats .")
    for label, value in {"Layer": "0", "Head": "1", "Task": "copy", "Digits for the encoder-decoder": "2 7 1"}.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    assert "layer=0" in page.url and "task=copy" in page.url
    assert_no_exception(page)
