"""Two students at once in two browser contexts: what A uploads or trains never shows up for B.

A uploads a corpus of made-up words on the Tokenization page and trains tokenizers on it; B
opens the same link and sees the built-in corpus. A fine-tunes on the Fine-tuning page; B,
on the same page, sees no run and may train at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from pages.common import course

pytestmark = pytest.mark.e2e

SECRET_WORDS = ["zorblax", "quindle", "frobnik", "glimmerwort"]
SECRET_CORPUS = (" ".join(SECRET_WORDS) + " .\n") * 60
BUILT = {lesson.url_path for lesson in course.LESSONS if lesson.is_built()}


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


@pytest.mark.skipif("fine_tuning" not in BUILT, reason="the Fine-tuning page is not written yet")
def test_a_fine_tuning_run_stays_with_its_student(two_students, server_url, open_page, assert_no_exception) -> None:
    """While A fine-tunes, B on the same page sees no run and may train; A's finished result stays A's
    (tests/app/test_isolation.py waits for the result and hashes the shared models)."""
    a, b = two_students
    open_page(a, f"{server_url}/fine_tuning?ds_steps=400&ds_seconds=60&ds_labels=8")
    a.get_by_role("button", name="Train all three").click()
    expect(a.get_by_text("Step ").first).to_be_visible()  # A's progress bar: A is training
    expect(a.get_by_role("button", name="Train all three")).to_be_disabled()

    open_page(b, f"{server_url}/fine_tuning")
    expect(b.get_by_role("button", name="Train all three")).to_be_enabled()  # A's run holds nothing of B's
    assert b.get_by_role("button", name="Stop").first.is_disabled()
    assert "Step " not in main_text(b) and "held-out accuracy" not in main_text(b)
    assert_no_exception(b)

    a.get_by_role("button", name="Stop").click()
    expect(a.get_by_role("button", name="Train all three")).to_be_enabled(timeout=180_000)
    assert_no_exception(a)
