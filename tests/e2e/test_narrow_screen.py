"""A 1024 x 768 projector with the sidebar open: nothing a page writes is cut off.

At that size a page keeps some 530 px beside the sidebar. Streamlit cuts a label, a metric or a
button's text that does not fit its column (an ellipsis, or just hidden), so a value such as the
vocabulary size or the ◀/▶ of a step button could vanish. Rows of controls and numbers move onto
a new line instead (`ui.row`); this reads, in Chromium, every piece of text on the page and in the
sidebar and lists those wider than the box that clips them. Token chips are drawn by Plotly, which
does not cut text: there the check is that every chip's label fits inside its chip. And no chart's
title runs past its chart (figures side by side stack where each would be too narrow, `ui.figures_row`), and
no tick label or word label is hidden or cut at a chart's edge. Tables fit without a sideways scroll, but for two of
sentences.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from pages.common import course

pytestmark = pytest.mark.e2e

BUILT = ["", *(lesson.url_path for lesson in course.LESSONS if lesson.is_built())]
# Widgets that only some states draw: the corpus upload, MiniLM's word list, the later fine-tuning sections.
STATES = [*BUILT, "tokenization?corpus=own", "embeddings?model=MiniLM", "fine_tuning?section=instruct",
          "fine_tuning?section=preference", "attention?step=QK%5ET", "attention?step=softmax"]

# Text whose box clips it and is narrower than the text. Boxes of width 0 or 1 are screen-reader
# copies that are hidden on purpose (KaTeX's MathML).
CUT_TEXT = """() => {
  const cut = [];
  for (const el of document.querySelectorAll('[data-testid="stMain"] *, [data-testid="stSidebar"] *')) {
    const text = (el.innerText || '').trim();
    const style = getComputedStyle(el);
    const clips = style.overflowX === 'hidden' || style.overflowX === 'clip' || style.textOverflow === 'ellipsis';
    if (text && clips && el.clientWidth > 1 && el.scrollWidth > el.clientWidth + 1) {
      cut.push(`${text.slice(0, 60)} (${el.scrollWidth} px in ${el.clientWidth})`);
    }
  }
  return cut;
}"""

# A token chip's label wider than its chip: Plotly draws text at its own size whatever the chart's width,
# so on a narrow chart a label must shrink to its chip rather than run over its neighbours. A chips chart
# is one whose bars carry their labels; a label is matched to the chip under its middle.
CHIP_OVERFLOW = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(chart => {
  const labels = [...chart.querySelectorAll('text.bartext-inside, g.textpoint text')];
  const chips = [...chart.querySelectorAll('g.point path')].map(p => p.getBoundingClientRect());
  if (!chart.querySelector('.barlayer g.point') || !labels.length || !chips.length) return [];
  return labels.flatMap(label => {
    const r = label.getBoundingClientRect(), x = (r.left + r.right) / 2, y = (r.top + r.bottom) / 2;
    const chip = chips.find(c => c.left <= x && x <= c.right && c.top <= y && y <= c.bottom);
    return chip && r.left >= chip.left - 1 && r.right <= chip.right + 1 ? [] :
      [`${label.textContent} (${Math.round(r.width)} px on a ${chip ? Math.round(chip.width) : 'missing'} px chip)`];
  });
})"""

# A chart's title or axis title that runs past the edge of its chart, where the browser cuts it: the sign of
# a chart squeezed into a column too narrow for it.
CUT_TITLES = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(chart => {
  const box = chart.querySelector('svg.main-svg').getBoundingClientRect();
  return [...chart.querySelectorAll('.gtitle, .g-xtitle text, .g-ytitle text')].filter(t => {
    const r = t.getBoundingClientRect();
    return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1);
  }).map(t => `${t.textContent} (${Math.round(t.getBoundingClientRect().width)} px in ${Math.round(box.width)})`);
})"""

# A tick label that Plotly hid (it would reach past the chart's edge: the last of a row of slanted token
# labels) or that the chart's edge cuts: one of the positions goes unnamed.
HIDDEN_TICKS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(chart => {
  const box = chart.querySelector('svg.main-svg').getBoundingClientRect();
  return [...chart.querySelectorAll('g.xtick text, g.ytick text')].filter(t => {
    const r = t.getBoundingClientRect();
    return t.textContent.trim() && (getComputedStyle(t).display === 'none' || r.left < box.left - 1 ||
                                    r.right > box.right + 1);
  }).map(t => t.textContent);
})"""

# A word's label in a scatter plot that reaches past the plotting area and is cut there (Plotly clips a trace's
# text to the axes unless told otherwise): "mouse" beside a point at the left edge read "ouse".
CUT_POINT_LABELS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(chart => {
  const area = chart.querySelector('.nsewdrag');  // the plotting area's drag surface
  const svg = chart.querySelector('svg.main-svg').getBoundingClientRect();
  if (!area) return [];
  const box = area.getBoundingClientRect();
  return [...chart.querySelectorAll('.scatterlayer text')].filter(t => {
    const r = t.getBoundingClientRect();
    const outside = r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 ||
                    r.bottom > box.bottom + 1;
    const clipped = t.closest('[clip-path]') !== null;
    return r.width > 0 && ((outside && clipped) || r.left < svg.left - 1 || r.right > svg.right + 1);
  }).map(t => t.textContent);
})"""

# A table wider than its box, read by scrolling sideways: a column of numbers could go unseen. Each is named by
# its column headers. Two tables of sentences are wider than a projector's page and scroll on purpose (named by
# a column of theirs); every other fits.
WIDE_TABLES = ("position t sees", "preferred")
TABLES_TOO_WIDE = """() => [...document.querySelectorAll('[data-testid="stDataFrame"]')].flatMap(table => {
  const scroller = table.querySelector('.dvn-scroller');
  const headers = [...table.querySelectorAll('[role="columnheader"]')].map(h => h.textContent);
  return scroller && scroller.scrollWidth > scroller.clientWidth + 1 ? [headers] : [];
})"""

# Numbers printed in a heatmap's cells that run into their neighbours on the same row: Plotly prints them at
# their own size whatever the cells' width.
CELL_TEXT_OVERLAP = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(chart => {
  const rows = new Map();
  for (const t of chart.querySelectorAll('.heatmaplayer text')) {
    const r = t.getBoundingClientRect();
    if (!t.textContent.trim() || r.width === 0) continue;
    const y = Math.round((r.top + r.bottom) / 4);  // one key per row, give or take 2 px
    rows.set(y, [...(rows.get(y) || []), [r.left, r.right, t.textContent]]);
  }
  return [...rows.values()].flatMap(row => {
    row.sort((a, b) => a[0] - b[0]);
    return row.slice(1).flatMap((cell, i) => cell[0] < row[i][1] ? [`${row[i][2]}${cell[2]}`] : []);
  });
})"""


@pytest.fixture(scope="module")
def projector(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    yield tab
    context.close()


@pytest.mark.parametrize("url_path", STATES, ids=[p or "home" for p in STATES])
def test_nothing_is_cut_off_at_1024_px_with_the_sidebar_open(projector: Page, server_url, open_page,
                                                             assert_no_exception, url_path) -> None:
    open_page(projector, f"{server_url}/{url_path}")
    projector.wait_for_timeout(1000)  # fonts and lazily drawn widgets settle
    assert projector.locator("[data-testid='stSidebar'][data-collapsed='false']").count() == 1, "the sidebar is open"
    assert projector.evaluate(CUT_TEXT) == []
    assert projector.evaluate(CHIP_OVERFLOW) == []
    assert projector.evaluate(CUT_TITLES) == []
    assert projector.evaluate(HIDDEN_TICKS) == []
    assert projector.evaluate(CUT_POINT_LABELS) == []
    assert [h for h in projector.evaluate(TABLES_TOO_WIDE) if not set(h) & set(WIDE_TABLES)] == []
    assert projector.evaluate(CELL_TEXT_OVERLAP) == []
    assert_no_exception(projector)


# At 1280 px two figures share a line at some 360 px each, and a single step of the attention walk-through
# keeps its own width beside its note: titles written for one width must fit that one too.
WIDE_STATES = [*BUILT, "embeddings?method=t-SNE", "attention?step=QK%5ET", "attention?step=Q%2C+K%2C+V"]


@pytest.mark.parametrize("url_path", WIDE_STATES, ids=[p or "home" for p in WIDE_STATES])
def test_no_chart_title_is_cut_at_1280_px(browser: Browser, server_url, open_page, assert_no_exception,
                                          url_path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        open_page(tab, f"{server_url}/{url_path}")
        tab.wait_for_timeout(1000)
        assert tab.evaluate(CUT_TITLES) == []
        assert tab.evaluate(HIDDEN_TICKS) == []
        assert tab.evaluate(CUT_POINT_LABELS) == []
        assert_no_exception(tab)
    finally:
        context.close()


@pytest.mark.parametrize(("width", "side_by_side"), [(1024, False), (1400, True)])
def test_the_home_charts_share_a_line_only_where_each_has_room(browser: Browser, server_url, open_page, width,
                                                               side_by_side) -> None:
    context = browser.new_context(viewport={"width": width, "height": 900})
    try:
        tab = context.new_page()
        open_page(tab, server_url)
        charts = tab.locator("[data-testid='stPlotlyChart']")
        charts.nth(1).wait_for()
        first, second = charts.nth(0).bounding_box(), charts.nth(1).bounding_box()
        assert (abs(first["y"] - second["y"]) < 1) == side_by_side, (first, second)
        assert min(first["width"], second["width"]) >= (300 if side_by_side else 500)
        # The value beside each dot ("1.78T") shows whole: it ends inside the box that clips it, the plot area
        # when the chart clips its text there, else the chart.
        outside = tab.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(chart => {
            const plotArea = chart.querySelector('.nsewdrag').getBoundingClientRect().right;
            const whole = chart.querySelector('svg.main-svg').getBoundingClientRect().right;
            return [...chart.querySelectorAll('.textpoint text')].filter(t =>
                t.getBoundingClientRect().right > (t.closest('[clip-path]') ? plotArea : whole) + 1
            ).map(t => t.textContent);
        })""")
        assert outside == []
    finally:
        context.close()
