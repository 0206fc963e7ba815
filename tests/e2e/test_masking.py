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
    expect(page.locator("[data-testid='stMain']")).to_contain_text("change exactly 0")
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
