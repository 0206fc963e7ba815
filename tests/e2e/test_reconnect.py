"""A tab that outlives its session: the server restarted, or a laptop slept past the time a session is kept.

The tab reconnects to a server that has no session of its own and still shows the page as the
student left it. The student's next change must stick. Before, the new session drew the page from
the link, which still held the old values, so the first change after a restart jumped back.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e

CONNECTED = "[data-test-connection-state='CONNECTED']"


def test_the_first_change_after_a_server_restart_is_kept(page: Page, restartable_server, open_page,
                                                         assert_no_exception) -> None:
    open_page(page, f"{restartable_server.url}/attention")
    sentence = page.get_by_label("Sentence", exact=True).and_(page.locator("input"))
    sentence.fill("a dog sees a cat")
    sentence.press("Enter")
    expect(page).to_have_url(re.compile(r"text=a\+dog\+sees\+a\+cat"))

    restartable_server.stop()
    page.wait_for_selector(f"[data-test-connection-state]:not({CONNECTED})")
    restartable_server.start()
    page.wait_for_selector(CONNECTED)
    expect(sentence).to_have_value("a dog sees a cat")  # the tab still shows the page as it was

    sentence.fill("the bird sings")
    sentence.press("Enter")
    expect(page).to_have_url(re.compile(r"text=the\+bird\+sings"))
    page.wait_for_selector("[data-test-script-state='notRunning']")
    page.wait_for_timeout(1500)  # the old code put the old sentence back about a second later
    expect(sentence).to_have_value("the bird sings")
    expect(page).to_have_url(re.compile(r"text=the\+bird\+sings"))
    expect(page.get_by_text("Shapes: X 4×64")).to_be_visible()  # drawn from the new sentence: [BOS] and 3 words
    assert_no_exception(page)
