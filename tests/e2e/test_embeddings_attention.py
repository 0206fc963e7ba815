"""The Embeddings and Attention pages in a real browser: heatmaps and projections drawn, no exception box."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CHARTS = "[data-testid='stPlotlyChart'] .js-plotly-plot"
PAGE_TIMEOUT_MS = 120_000  # a new head or sentence is computed on a busy 2-core machine


def test_attention_page_draws_its_heatmaps(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/attention?model=MiniLM&layer=1&head=3")

    expect(page.get_by_role("heading", name="3. Attention")).to_be_visible()
    expect(page.locator(CHARTS)).to_have_count(8)
    grid = page.locator(CHARTS).filter(has_text="H11")  # every head of MiniLM's 6 layers, in one mosaic
    expect(grid).to_contain_text("L5")
    expect(grid.locator("g.hm image")).to_have_count(1)
    expect(page.locator(CHARTS).filter(has_text="Layer 1, head 3")).to_have_count(1)
    assert_no_exception(page)


def test_dragging_a_box_over_a_small_multiple_enlarges_that_head(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/attention?model=MiniLM")
    grid = page.locator(CHARTS).filter(has_text="H11")
    grid.scroll_into_view_if_needed()
    # The mosaic holds 6 x 12 tiles of 13 x 13 cells ([CLS] + 11 words + [SEP]), one empty cell between tiles.
    area = grid.locator("rect.nsewdrag").bounding_box()
    cols, rows, block = 12 * 14 - 1, 6 * 14 - 1, 14

    def cell(c: float, r: float) -> tuple[float, float]:
        return area["x"] + (c + 0.5) / cols * area["width"], area["y"] + (r + 0.5) / rows * area["height"]

    page.mouse.move(*cell(7 * block + 1, 1 * block + 1))  # inside the tile of layer 1, head 7
    page.mouse.down()
    page.mouse.move(*cell(7 * block + 6, 1 * block + 6), steps=5)
    page.mouse.move(*cell(7 * block + 11, 1 * block + 11), steps=5)
    page.mouse.up()

    expect(page).to_have_url(re.compile(r"layer=1&head=7"), timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector("[data-test-script-state='notRunning']")
    expect(page.locator(CHARTS).filter(has_text="Layer 1, head 7")).to_have_count(1, timeout=PAGE_TIMEOUT_MS)
    assert_no_exception(page)


def test_attention_page_survives_bad_input(page, server_url, open_page, assert_no_exception):
    long_text = "+".join(["cat"] * 40)
    open_page(page, f"{server_url}/attention?model=MiniLM&text={long_text}")
    expect(page.locator("[data-testid='stAlertContentError']")).to_contain_text("the limit is 32")
    expect(page.locator(CHARTS)).to_have_count(3)  # the √d_k demo still works
    assert_no_exception(page)


def test_embeddings_page_draws_the_table_and_both_projections(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/embeddings")

    expect(page.get_by_role("heading", name="2. Embeddings")).to_be_visible()
    charts = page.locator(CHARTS)
    expect(charts.filter(has_text="rows your sentence looks up")).to_have_count(1)
    expect(charts.filter(has_text="Before training")).to_have_count(1)
    expect(charts.filter(has_text="After training: PCA")).to_have_count(1)
    expect(charts.filter(has_text="Cosine similarity: After training")).to_have_count(1)
    assert_no_exception(page)


def test_embeddings_page_in_3d_with_minilm_and_an_unknown_word(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/embeddings?model=MiniLM&dims=3&method=t-SNE&word=xylophone")

    expect(page.locator("[data-testid='stAlertContentWarning']")).to_contain_text("xylophone")
    expect(page.locator(CHARTS).filter(has_text="MiniLM")).not_to_have_count(0)
    expect(page.locator(f"{CHARTS} .gl-container")).not_to_have_count(0)  # the 3D scene
    assert_no_exception(page)


def test_two_new_sentences_in_a_row_keep_the_token_box_working(page, server_url, open_page, assert_no_exception):
    """A new sentence changes every label of "Where does this token look?"; the browser then sends the old
    label back as text. The page must take it for a token again, not fail."""
    open_page(page, f"{server_url}/attention")
    sentence = page.get_by_role("textbox", name="Sentence", exact=True)
    box = page.get_by_role("combobox", name=re.compile("Where does this token look"))
    for text in ("the cat eats the fish in the house .", "the cat sleeps ."):
        sentence.fill(text)
        sentence.press("Enter")
        page.wait_for_timeout(500)
        page.wait_for_selector("[data-test-script-state='notRunning']", timeout=PAGE_TIMEOUT_MS)
        assert_no_exception(page)
    # the new sentence's own query, its last word, and the box says what the chart shows
    expect(page.locator(CHARTS).filter(has_text="Where “sleeps” looks")).to_have_count(1, timeout=PAGE_TIMEOUT_MS)
    expect(box).to_have_value(re.compile(r"\d+: sleeps"))
    assert_no_exception(page)


def test_another_model_keeps_the_layer_and_head_on_the_sliders(page, server_url, open_page, assert_no_exception):
    """The sliders' ranges change with the model, which makes them new widgets to the browser: they must
    show the layer and head the page uses, not their minimum."""
    open_page(page, f"{server_url}/attention?layer=1&head=2")
    page.get_by_role("combobox", name="Model").click()
    page.get_by_role("option", name="MiniLM").click()
    expect(page.locator(CHARTS).filter(has_text="H11")).to_have_count(1, timeout=PAGE_TIMEOUT_MS)  # MiniLM's grid
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=PAGE_TIMEOUT_MS)
    thumbs = page.locator("[data-testid='stSliderThumbValue']")
    expect(thumbs.nth(0)).to_have_text("1")
    expect(thumbs.nth(1)).to_have_text("2")
    expect(page.locator(CHARTS).filter(has_text="Layer 1, head 2")).to_have_count(1)
    assert_no_exception(page)
