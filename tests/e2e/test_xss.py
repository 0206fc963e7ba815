"""Markup typed, linked or uploaded stays text: in Chromium no script runs and no such element appears.

For every written page with an input: the payload goes in through a link that sets every key the
page binds to the URL (as a slide's deep link would, including the sidebar's seed), then it is
typed into every text box of the page (found by its key, on the page or behind a link in
`MORE_BOXES`), and on pages with an uploader it is uploaded. After each, no dialog has fired and the DOM holds none of
what the payload asks for: no `img[src=x]`, no `script` with `alert`, no `javascript:` link (in
HTML or in a Plotly SVG), no `onerror` attribute. The AppTest suite (tests/app/test_bad_input.py)
reaches every box by itself; this checks what a real browser makes of the markup.
"""

from __future__ import annotations

import ast
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page

from pages.common import course

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Two payloads, each short enough (in tokens) for the pages that take one sentence, so that the
# markup reaches their figures instead of stopping at a length check.
PAYLOADS = (
    "<img src=x onerror=alert(1)> [x](javascript:alert(1))",
    '<script>alert(1)</script> <a href="javascript:alert(1)">a</a>',
)
LINK_IN_A_LINK = "[x](javascript:alert(1)) [log in again](https://example.invalid)"
BOXES = "[data-testid='stTextInput'] input, [data-testid='stTextArea'] textarea"
UPLOADER = "[data-testid='stFileUploader'] input[type='file']"
# Links that show boxes or an uploader which the page does not show as it opens.
MORE_BOXES = {"tokenization": ["corpus=own"], "embeddings": ["model=MiniLM"], "fine_tuning": ["ds_task=own"]}
# Boxes left to the AppTest suite: shown only after a training, or after the first visit to a
# section prepares a model for minutes on a busy machine.
NOT_IN_BROWSER = {"fine_tuning": {"ds_try", "pt_ask"}}



INJECTED_JS = """() => {
  const found = [];
  for (const img of document.querySelectorAll("img[src='x'], img[src$='/x']")) found.push("img " + img.outerHTML);
  for (const s of document.querySelectorAll("script")) if (s.textContent.includes("alert(")) found.push("script");
  for (const a of document.querySelectorAll("a, area")) {
    const href = (a.getAttribute("href") || a.getAttribute("xlink:href") || "").trim().toLowerCase();
    if (href.startsWith("javascript")) found.push("link " + a.outerHTML.slice(0, 200));
  }
  for (const el of document.querySelectorAll("[onerror]")) found.push("onerror " + el.tagName);
  return found;
}"""


def page_inputs(file: str) -> tuple[list[str], bool, list[str]]:
    """(keys of its text boxes, has an uploader, keys it binds to the URL), read from the page's source."""
    boxes, upload, bound = [], False, ["seed"]  # the seed is bound by app.py on every page
    for node in ast.walk(ast.parse((ROOT / file).read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None)
        key = next((k.value for k in node.keywords if k.arg == "key"), None)
        if name in ("text_input", "text_area") and isinstance(key, ast.Constant):
            boxes.append(key.value)
        upload = upload or name == "file_uploader"
        if name == "bind" and node.args and isinstance(node.args[0], ast.Constant):
            bound.append(node.args[0].value)
    return boxes, upload, bound


PAGES = [
    (lesson.url_path, *page_inputs(lesson.file))
    for lesson in course.LESSONS
    if lesson.is_built() and any(page_inputs(lesson.file)[:2])
]


def load(page: Page, url: str, open_page) -> None:
    """Open the link and wait until the page has drawn its title (a loaded machine starts scripts late)."""
    open_page(page, url)
    page.locator("[data-testid='stMain'] h1").first.wait_for()
    page.wait_for_selector("[data-test-script-state='notRunning']")
    wait_for_rerun(page)  # a run that started over (a server's first session does) is finished too


def wait_for_rerun(page: Page) -> None:
    page.wait_for_timeout(400)  # let the rerun start
    page.wait_for_selector("[data-test-script-state='notRunning']")


def assert_inert(page: Page, dialogs: list[str], how: str) -> None:
    assert not dialogs, f"{how}: a dialog fired: {dialogs}"
    injected = page.evaluate(INJECTED_JS)
    assert not injected, f"{how}: {injected}"


def box_of(page: Page, key: str):
    """The text box of a widget key (Streamlit marks each keyed element's container with st-key-KEY)."""
    return page.locator(f".st-key-{key} input, .st-key-{key} textarea")


@pytest.mark.parametrize(("url_path", "boxes", "upload", "bound"), PAGES, ids=[p[0] for p in PAGES])
def test_markup_stays_text(page: Page, server_url, open_page, assert_no_exception, url_path, boxes, upload,
                           bound) -> None:
    """The second payload through the link in every bound key, the first typed into every box (both at
    once into boxes the link cannot set), and both in an upload."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = f"{server_url}/{url_path}"

    query = {key: PAYLOADS[1] for key in dict.fromkeys(bound)}
    query["seed"] = LINK_IN_A_LINK  # not a number: quoted in a warning, which must not make it a link
    load(page, f"{base}?" + urlencode(query), open_page)
    assert_inert(page, dialogs, "through the link")
    assert page.locator("[data-testid='stAlert'] a").count() == 0, "a link in the URL became a link on the page"
    assert_no_exception(page)

    links = [base, *(f"{base}?{query}" for query in MORE_BOXES.get(url_path, []))]
    todo = [key for key in boxes if key not in NOT_IN_BROWSER.get(url_path, set())]
    for link in links:
        if not todo:
            break
        load(page, link, open_page)
        for key in [k for k in todo if box_of(page, k).count()]:
            payload = PAYLOADS[0] if key in bound else " ".join(PAYLOADS)  # the link gave it PAYLOADS[1]
            if not box_of(page, key).count():  # a refusal in another box hid this one
                load(page, link, open_page)
            box = box_of(page, key).first
            box.fill(payload)
            box.press("Control+Enter" if box.evaluate("el => el.tagName") == "TEXTAREA" else "Enter")
            wait_for_rerun(page)
            assert_inert(page, dialogs, f"{payload!r} typed into {key}")
            assert_no_exception(page)
            todo.remove(key)
    assert not todo, f"/{url_path}: boxes not found through {links}: {todo}"

    if upload:
        if page.locator(UPLOADER).count() == 0:
            assert url_path in MORE_BOXES, f"/{url_path} has an uploader: add the link that shows it to MORE_BOXES"
            load(page, f"{base}?{MORE_BOXES[url_path][0]}", open_page)
        page.locator(UPLOADER).first.set_input_files(
            files=[{"name": "markup.txt", "mimeType": "text/plain",
                    "buffer": ("\n".join(PAYLOADS) + "\n").encode() * 50}]
        )
        wait_for_rerun(page)
        assert_inert(page, dialogs, "in an uploaded file")
        assert_no_exception(page)
