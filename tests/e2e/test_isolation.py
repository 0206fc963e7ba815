"""Two students at once in two browser contexts: what A uploads or trains never shows up for B.

A uploads a corpus of made-up words on the Tokenization page and trains tokenizers on it; B
opens the same link and sees the built-in corpus. On every page that trains, A starts a run; B,
on the same page, sees no run and may train at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.page_catalog import training_pages

pytestmark = pytest.mark.e2e

SECRET_WORDS = ["zorblax", "quindle", "frobnik", "glimmerwort"]
SECRET_CORPUS = (" ".join(SECRET_WORDS) + " .\n") * 60
ROOT = Path(__file__).resolve().parents[2]




TRAINING_PAGES = training_pages()


@pytest.fixture
def two_students(browser: Browser) -> Iterator[tuple[Page, Page]]:
    contexts: list[BrowserContext] = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in "AB"]
    pages = []
    for context in contexts:
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        pages.append(tab)
    yield pages[0], pages[1]
    for context in contexts:
        context.close()


def wait_for_rerun(page: Page) -> None:
    page.wait_for_timeout(400)
    page.wait_for_selector("[data-test-script-state='notRunning']")


def main_text(page: Page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def test_a_corpus_uploaded_by_one_student_is_not_seen_by_another(two_students, server_url, open_page,
                                                                  assert_no_exception) -> None:
    a, b = two_students
    link = f"{server_url}/tokenization?corpus=own&tokenizer=word"
    open_page(a, link)
    a.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(
        files=[{"name": "mine.txt", "mimeType": "text/plain", "buffer": SECRET_CORPUS.encode()}]
    )
    wait_for_rerun(a)
    expect(a.get_by_text("Vocabulary learned from your uploaded file")).to_be_visible()
    box = a.get_by_role("textbox", name="Text to tokenize")
    box.fill("zorblax quindle")
    box.press("Control+Enter")
    wait_for_rerun(a)
    expect(a.locator("[data-testid='stPlotlyChart']").first).to_contain_text("zorblax")  # A's chips: A's words
    assert_no_exception(a)

    open_page(b, link)  # the same link, another student
    expect(b.get_by_text("Upload a file or paste some text")).to_be_visible()
    expect(b.get_by_text("Vocabulary learned from Real English prose")).to_be_visible()
    assert b.get_by_role("textbox", name="Text to tokenize").input_value() != "zorblax quindle"
    shown = main_text(b) + " ".join(b.locator(".js-plotly-plot").all_text_contents())
    assert not [w for w in SECRET_WORDS if w in shown]
    assert_no_exception(b)


@pytest.mark.parametrize("url_path", TRAINING_PAGES)
def test_a_training_stays_with_its_student(two_students, server_url, open_page, assert_no_exception,
                                           url_path) -> None:
    """While A trains, B on the same page sees no run and may train (tests/app/test_isolation.py waits for
    A's result and hashes the shared models)."""
    a, b = two_students
    train, stop = "[class*='_train'] button", "[class*='_stop'] button"
    open_page(a, f"{server_url}/{url_path}")
    a.locator(train).first.click()
    expect(a.locator("[data-testid='stProgress']").first).to_be_visible()  # A is training
    expect(a.locator(train).first).to_be_disabled()

    open_page(b, f"{server_url}/{url_path}")
    expect(b.locator(train).first).to_be_enabled()  # A's run holds nothing of B's
    expect(b.locator(stop).first).to_be_disabled()
    assert b.locator("[data-testid='stProgress']").count() == 0
    assert_no_exception(b)

    if a.locator(stop).first.is_enabled():
        with contextlib.suppress(PlaywrightTimeoutError):  # the run may reach its budget meanwhile
            a.locator(stop).first.click(timeout=10_000)
    expect(a.locator(train).first).to_be_enabled(timeout=180_000)
    assert_no_exception(a)
