"""The Tokenization page in a real browser: chips and charts drawn, markup shown as text, uploads checked."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

DEFAULT_TEXT = "Tokenizers split rare words into frequent pieces, like reading and readers."
XSS = "<script>alert(1)</script> <img src=x onerror=alert(1)>"


def wait_for_rerun(page: Page) -> None:
    page.wait_for_timeout(400)  # let the rerun start
    page.wait_for_selector("[data-test-script-state='notRunning']")


def chip_texts(page: Page, chart: int = 0) -> list[str]:
    """The labels Plotly drew on the chips of one chart, in order."""
    plot = page.locator("[data-testid='stPlotlyChart']").nth(chart)
    return plot.locator("g.point text.bartext").all_text_contents()


def test_chips_and_charts_render_and_markup_stays_text(page, server_url, open_page, assert_no_exception):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_page(page, f"{server_url}/tokenization")

    expect(page.get_by_role("heading", name="1. Tokenization")).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot")).to_have_count(6)
    assert "".join(chip_texts(page)) == DEFAULT_TEXT.replace(" ", "▁")  # BPE pieces spell the text
    chip = page.locator("[data-testid='stPlotlyChart']").nth(0).locator("g.point path").nth(2).bounding_box()
    page.mouse.move(chip["x"] + chip["width"] / 2, chip["y"] + chip["height"] / 2)  # Plotly's drag layer is on top
    hover = page.locator("[data-testid='stPlotlyChart']").nth(0).locator(".hoverlayer")
    expect(hover).to_contain_text(chip_texts(page)[2])
    expect(hover).to_contain_text(re.compile(r"ID \d+"))
    assert_no_exception(page)

    box = page.get_by_role("textbox", name="Text to tokenize")
    box.fill(XSS)
    box.press("Control+Enter")
    wait_for_rerun(page)
    assert "".join(chip_texts(page)) == XSS.replace(" ", "▁")
    assert page.locator("img[src='x']").count() == 0 and not dialogs
    assert_no_exception(page)


def test_a_binary_upload_is_refused_with_a_message(page, server_url, open_page, assert_no_exception):
    open_page(page, f"{server_url}/tokenization?corpus=own")
    expect(page.get_by_text("Upload a file or paste some text")).to_be_visible()
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        files=[{"name": "photo.txt", "mimeType": "text/plain", "buffer": b"\x89PNG\r\n\x1a\n" + bytes(64)}]
    )
    wait_for_rerun(page)
    expect(page.locator("[data-testid='stAlert']").filter(has_text="PNG image")).to_be_visible(timeout=30_000)
    expect(page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").first).to_be_visible()
    assert_no_exception(page)


def test_another_corpus_keeps_the_merge_step_on_its_slider(page, server_url, open_page, assert_no_exception):
    """The merge slider's range follows the vocabulary; a new range makes it a new widget to the browser,
    which must show the k the page uses (and write on the next click), not 0."""
    open_page(page, f"{server_url}/tokenization?merge=5")
    page.get_by_text("Synthetic animal world").click()
    wait_for_rerun(page)
    expect(page).to_have_url(re.compile(r"corpus=synthetic"))
    expect(page.locator("[data-testid='stSliderThumbValue']").last).to_have_text("5")
    expect(page.get_by_text("no merges yet")).to_have_count(0)
    assert_no_exception(page)
