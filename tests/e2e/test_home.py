"""The home page in a real browser, and deep links into the app."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from pages.common.course import LESSONS


def test_home_draws_both_scale_charts_and_the_course_map(page, server_url, open_page, assert_no_exception):
    open_page(page, server_url)

    expect(page.get_by_role("heading", name="What makes a Large Language Model")).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot")).to_have_count(2)
    expect(page.locator(".js-plotly-plot").first).to_contain_text("GPT-4")
    main = page.locator("[data-testid='stMain']")
    for lesson in LESSONS:
        expect(main.get_by_role("link", name=lesson.label)).to_be_visible()
    expect(page.locator("[data-testid='stSidebar']")).to_contain_text("Models run on")
    assert_no_exception(page)


def test_the_browser_asks_nothing_of_any_other_server(page, server_url, open_page, assert_no_exception):
    """A classroom may have no internet: the pages, their fonts, icons and favicon all come from the app."""
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    open_page(page, server_url)
    open_page(page, f"{server_url}/attention")
    page.wait_for_timeout(1_000)  # the favicon is set after the page has run
    elsewhere = [url for url in asked if not url.startswith((server_url, "data:", "blob:"))]
    assert not elsewhere, elsewhere
    assert_no_exception(page)


def test_a_course_map_link_opens_its_page(page, server_url, open_page, assert_no_exception):
    open_page(page, server_url)
    lesson = LESSONS[2]
    page.locator("[data-testid='stMain']").get_by_role("link", name=lesson.label).click()

    expect(page).to_have_url(re.compile(f"/{lesson.url_path}$"))
    page.wait_for_selector("[data-test-script-state='notRunning']")
    expect(page.locator("h1").first).to_be_visible()
    assert_no_exception(page)


def test_a_deep_link_as_first_request_to_a_new_server_runs_through_the_app(
    page, fresh_server_url, open_page, assert_no_exception
):
    """What an instructor does first thing in class: start the server, open a slide's link.

    A new server treats `pages/` as an old-style pages folder until its first run calls
    st.navigation (see pages/common/__init__.py); the page must still get app.py's sidebar, and
    Streamlit's own list of that folder's files must not show meanwhile.
    """
    built = [lesson for lesson in LESSONS if lesson.is_built()]
    path = f"/{built[0].url_path}" if built else "/"
    page.goto(f"{fresh_server_url}{path}?seed=5")
    file_list_seen = False
    for _ in range(50):  # the first run on a new server takes some seconds: watch the sidebar meanwhile
        file_list_seen |= page.locator("[data-testid='stSidebarNav']").count() > 0
        page.wait_for_timeout(100)
    assert not file_list_seen, "Streamlit's list of the files in pages/ showed in the sidebar"
    open_page(page, f"{fresh_server_url}{path}?seed=5")

    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar).to_contain_text("Models run on")  # app.py ran: sidebar, navigation, seed
    expect(sidebar.locator("input[type='number']")).to_have_value("5")
    expect(page).to_have_url(re.compile(rf"{re.escape(path)}\?(.*&)?seed=5"))
    assert_no_exception(page)
