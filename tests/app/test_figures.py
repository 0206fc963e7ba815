"""Figure builders: what a student reads off a chart must be what the data says."""

from __future__ import annotations

import json
import math

import numpy as np
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from pages.common import chips, figures

TOKENS = ["the", "cat", "saw", "the", "dog"]  # "the" twice: two rows, not one


def checked(fig: figures.Figure) -> go.Figure:
    """The figure through every one of Plotly's checks (the builders skip them, for speed), to read it back."""
    return go.Figure(fig)


def causal_scores() -> np.ndarray:
    scores = np.arange(25, dtype=float).reshape(5, 5) / 10
    scores[np.triu_indices(5, k=1)] = -math.inf
    return scores


def test_heatmap_keeps_one_row_and_column_per_token_even_when_words_repeat():
    fig = checked(figures.heatmap(causal_scores(), TOKENS, TOKENS, "Scores"))
    assert list(fig.layout.yaxis.ticktext) == TOKENS and list(fig.layout.xaxis.ticktext) == TOKENS
    assert np.shape(fig.data[0].z) == (5, 5)
    assert fig.layout.yaxis.autorange == "reversed"  # first token at the top, as in the matrix


def test_a_wide_heatmap_labels_every_few_columns_and_the_hover_still_names_each():
    words = [f"w{i}" for i in range(30)]
    fig = figures.heatmap(np.zeros((30, 30)), words, words, "long")
    x, y = fig["layout"]["xaxis"], fig["layout"]["yaxis"]
    assert x["tickvals"] == list(range(0, 30, 3)) and x["ticktext"] == [words[i] for i in range(0, 30, 3)]
    assert y["ticktext"] == words  # rows are tall enough for every label
    assert fig["data"][0]["customdata"][0][29][1] == "w29"  # the hover of the last column
    narrow = figures.heatmap(np.zeros((2, 12)), words[:12], words[:2], "short")
    assert narrow["layout"]["xaxis"]["ticktext"] == words[:12]


def test_many_bars_side_by_side_are_labelled_every_few_and_rows_of_bars_every_one():
    words = [f"w{i}" for i in range(30)]
    side = figures.bar_chart(words, [1.0] * 30, "side by side", x_title="word", y_title="count")
    assert side["layout"]["xaxis"]["ticktext"] == words[::3] and side["data"][0]["customdata"][29] == "w29"
    wide = figures.bar_chart(words, [1.0] * 30, "full width", x_title="word", y_title="count", max_labels=32)
    assert wide["layout"]["xaxis"]["ticktext"] == words
    rows = figures.bar_chart(words, [1.0] * 30, "rows", x_title="count", y_title="word", horizontal=True)
    assert rows["layout"]["yaxis"]["ticktext"] == words


def test_heatmap_shows_masked_scores_as_minus_infinity_in_their_own_colour():
    scores = causal_scores()
    fig = checked(figures.heatmap(scores, TOKENS, TOKENS, "Masked scores", value_name="score"))
    values, masked = fig.data
    z, masked_z = np.array(values.z, dtype=float), np.array(masked.z, dtype=float)  # null cells read as NaN
    assert np.isnan(z[0, 1]) and z[1, 0] == scores[1, 0]  # -inf is not drawn on the scale
    assert masked_z[0, 1] == 1 and np.isnan(masked_z[1, 0])  # ...but on a layer of its own
    assert masked.customdata[0][1][2] == "−∞" and masked.text[0][1] == "−∞"
    assert values.customdata[4][3].tolist() == ["dog", "the", "2.300"]  # row label, column label, exact value
    assert "score: %{customdata[2]}" in values.hovertemplate
    assert masked.name == "masked (−∞)" and masked.showlegend


def test_heatmap_without_masked_cells_has_one_layer_and_a_centred_diverging_scale_on_request():
    diff = np.array([[-0.5, 0.25], [0.0, 0.1]])
    fig = checked(figures.heatmap(diff, ["a", "b"], ["c", "d"], "Difference", diverging=True))
    assert len(fig.data) == 1
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-0.5, 0.5)


def test_every_builder_uses_projector_sized_fonts_and_titles_its_axes():
    built = [
        figures.heatmap(causal_scores(), TOKENS, TOKENS, "Scores"),
        figures.line_chart([1, 2, 3], {"train": [3.0, 2.0, 1.5]}, "Loss", x_title="step", y_title="loss"),
        figures.bar_chart(TOKENS, [0.1, 0.2, 0.3, 0.2, 0.2], "Next token", x_title="token",
                          y_title="probability", highlight=2),
        figures.log_dot_chart(["a", "b"], [1e3, None], ["g", "g"], "Sizes", x_title="parameters"),
    ]
    for fig in map(checked, built):
        layout, default = fig.layout, fig.layout.template.layout  # what is drawn: own value, else the template's
        assert (layout.font.size or default.font.size) >= 16
        assert (layout.title.font.size or default.title.font.size) >= 16
        assert layout.xaxis.title.text
        assert (layout.xaxis.tickfont.size or default.xaxis.tickfont.size) >= 16
        assert fig.layout.template.layout.font.size == figures.FONT_SIZE  # the app's template, not a stock one


def test_bar_chart_marks_the_highlighted_bar_and_keeps_repeated_labels_apart():
    fig = checked(figures.bar_chart(TOKENS, [0.1, 0.2, 0.3, 0.2, 0.2], "Next token", x_title="token",
                                    y_title="probability", highlight=2))
    colors = list(fig.data[0].marker.color)
    assert colors[2] != colors[0] and len(set(colors)) == 2
    assert list(fig.data[0].x) == [0, 1, 2, 3, 4]


def test_log_dot_chart_says_unknown_instead_of_dropping_a_row():
    fig = checked(figures.log_dot_chart(["GPT-3", "GPT-4"], [570e9, None], ["GPT", "GPT"], "Data",
                                        x_title="bytes", uncertain=[False, True]))
    assert [a.text for a in fig.layout.annotations] == ["unknown"]
    assert fig.layout.xaxis.type == "log"
    assert list(fig.data[0].text) == ["570B"]
    assert list(fig.layout.yaxis.ticktext) == ["GPT-3", "GPT-4 (rumoured)"]


def test_log_dot_chart_has_a_grid_line_per_power_of_ten_and_labels_that_do_not_touch():
    few = figures.log_dot_chart(["a", "b"], [5.0, 4e3], ["g", "g"], "Few", x_title="GB")["layout"]["xaxis"]
    assert few["tickvals"] == [10.0, 100.0, 1e3, 1e4, 1e5] and few["ticktext"] == ["10", "100", "1K", "10K", "100K"]
    many = figures.log_dot_chart(["tiny", "huge"], [157e3, 1.78e12], ["g", "g"], "Many", x_title="parameters")
    axis = many["layout"]["xaxis"]
    assert axis["tickvals"] == [10.0**d for d in range(5, 14)]  # 100K ... 10T: a grid line on each
    assert axis["ticktext"] == ["100K", "", "10M", "", "1B", "", "100B", "", "10T"]


def test_a_narrow_log_axis_still_gets_several_labels():
    assert figures.log_ticks(30, 800)["ticktext"] == ["50", "100", "200", "500"]  # not just "100"
    wide = figures.log_ticks(0.5, 50_000)
    assert wide["tickvals"] == [1.0, 10.0, 100.0, 1e3, 1e4] and wide["ticktext"] == ["1", "10", "100", "1K", "10K"]


def test_short_number_reads_like_a_paper():
    assert [figures.short_number(n) for n in (117e6, 1.5e9, 175e9, 1.78e12, 950)] == [
        "117M", "1.5B", "175B", "1.78T", "950"]


def test_cells_print_special_values_as_a_student_reads_them():
    cells = figures.numbers(np.array([[0.25, -1.5], [-math.inf, math.nan]]), 3)
    assert cells.tolist() == [["0.250", "−1.500"], ["−∞", "n/a"]]
    assert figures.numbers(np.array([math.inf, -0.0001]), 2).tolist() == ["+∞", "−0.00"]


def test_a_figure_reaches_the_browser_as_built_in_the_app_look():
    def script() -> None:
        from pages.common import figures, ui

        ui.plot(figures.bar_chart(["a", "b"], [0.5, 2.0], "Two bars", x_title="token", y_title="count"), key="bars")

    at = AppTest.from_function(script).run()
    assert not at.exception
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["y"] == [0.5, 2.0] and spec["layout"]["title"]["text"] == "Two bars"
    assert spec["layout"]["template"] == figures.TEMPLATE  # the app's look travels with every figure


def test_coordinates_are_sent_with_a_float32s_precision_and_non_finite_values_as_null():
    values = np.array([[0.4817141592502594, -1234.56789], [3.0e-9, 1.78e12], [22565376.0, 1.234567891e13],
                       [np.inf, np.nan]])
    custom = values.tolist()
    fig = figures.figure([{"type": "heatmap", "z": values, "x": ["a", "b"], "customdata": custom}])
    z = fig["data"][0]["z"]
    assert z == [[0.4817142, -1234.568], [3e-09, 1.78e12], [22565376, 1.234567891e13], [None, None]]  # whole: exact
    assert json.dumps(z[:2]) == "[[0.4817142, -1234.568], [3e-09, 1780000000000.0]]"  # short...
    assert json.dumps(z[3]) == "[null, null]"  # ...and strict JSON
    finite = np.isfinite(values)
    np.testing.assert_allclose(np.array(z, dtype=float)[finite], values[finite], rtol=5e-7)
    assert fig["data"][0]["x"] == ["a", "b"] and fig["data"][0]["customdata"] is custom  # left as given
    integers = figures.figure([{"type": "bar", "x": [0, 1, 2], "y": np.array([1, 2, 3])}])["data"][0]
    assert list(integers["x"]) == [0, 1, 2] and list(integers["y"]) == [1, 2, 3]


def test_a_metric_change_of_zero_is_grey_and_flat_not_a_green_gain():
    def script() -> None:
        import streamlit as st

        from pages.common import ui

        for difference in (3, 0, -2):
            st.metric("after", "50%", **ui.change(difference, "points"))

    at = AppTest.from_function(script).run()
    assert not at.exception
    gain, none, loss = (metric.proto for metric in at.metric)
    assert (gain.delta, none.delta, loss.delta) == ("+3 points", "±0 points", "-2 points")
    assert gain.color != none.color and none.color == loss.__class__.MetricColor.Value("GRAY")
    assert gain.direction != none.direction and none.direction == loss.__class__.MetricDirection.Value("NONE")


def test_a_token_longer_than_a_row_of_chips_is_shortened_on_its_chip_and_whole_on_hover():
    token = "x" * 70 + "end"
    fig = chips.token_chips(["a", token, "b"], [1, 2, 3])
    [bars] = fig["data"]  # each chip's label is its bar's text
    assert bars["text"][1].startswith("xxx") and bars["text"][1].endswith("…")
    assert all(start + width <= chips.LINE_COLUMNS for start, width in zip(bars["base"], bars["x"], strict=True))
    assert token in bars["customdata"][1]  # the hover names the whole token
    assert [bars["text"][0], bars["text"][2]] == ["a", "b"]
    assert chips.fitted("漢" * 40) == "漢" * 27 + "…"  # wide characters count twice


@pytest.mark.parametrize(("token", "shown"), [
    ("\u200b", "⟨U+200B⟩"),  # zero-width space: would be an empty chip
    ("a\u202eb", "a⟨U+202E⟩b"),  # right-to-left override: would turn the chips after it around
    ("\x00", "⟨U+0000⟩"),
    ("\u2009", "⟨U+2009⟩"),  # thin space
    (" the\n", "▁the↵"),
    ("\u00a0", "⍽"),
    ("👍", "👍"),
    ("👨\u200d👩", "👨\u200d👩"),  # a joiner inside an emoji sequence does its job
    ("\u200d", "⟨U+200D⟩"),  # ... alone it would be an empty chip
])
def test_a_chip_shows_every_character_of_its_token_even_the_invisible_ones(token, shown):
    assert chips.visible(token) == shown


def test_a_large_matrix_is_drawn_without_gaps_between_its_cells_and_a_small_one_with():
    labels = [str(i) for i in range(384)]
    tall = figures.heatmap(np.zeros((384, 32)), labels[:32], labels, "W_q")["data"][0]
    small = figures.heatmap(np.zeros((12, 12)), labels[:12], labels[:12], "weights")["data"][0]
    assert (tall["xgap"], tall["ygap"]) == (0, 0)  # a gap would take half of a cell a few pixels wide
    assert (small["xgap"], small["ygap"]) == (1, 1)
    assert tall["colorbar"]["thickness"] < 30  # thinner than Plotly's own: the cells keep the width
    go.Figure({"data": [tall, small]})  # both valid for Plotly


def test_word_labels_are_drawn_over_every_marker_and_keep_clear_of_each_other():
    from pages.common import embedding_figures as ef

    words = ["cat", "dog", "fish", "apple", "red", "one"]
    points = np.array([[5.0, 5.0], [5.3, 5.0], [2.0, 7.0], [10.0, 10.0], [10.0, 0.0], [0.0, 10.0]])
    fig = ef.projection(points, words, ["animal", "animal", "animal", "food", "color", "number"], "t",
                        query="cat", neighbours=["dog"])
    labels = fig["data"][-1]  # drawn after the markers, the rings and the star, so no marker hides a word
    assert labels["name"] == "word labels" and labels["mode"] == "markers+text"
    assert labels["text"][:2] == ["<b>cat</b>", "dog"] and sorted(labels["text"][2:]) == ["apple", "fish", "one", "red"]
    sides = dict(zip(labels["text"], labels["textposition"], strict=True))
    # dog is a word's width right of cat: the searched word keeps the first choice, its neighbour goes below
    assert sides["<b>cat</b>"] == "top center" and sides["dog"] == "bottom center"
    assert sides["fish"] == "top center"  # alone in the middle: nothing in its way
    assert all("text" not in t.get("mode", "") for t in fig["data"][:-1])


def test_the_curves_of_a_finished_run_hold_every_step_of_every_model_trained_side_by_side():
    """Models that train side by side reach each step one after another: a curve drawn between two of them
    must not be shown again once the others have reached that step too."""
    from llm_core.train import TrainMetrics
    from pages.common import training

    run = training.LiveRun("demo", steps=2, max_seconds=60)
    run.history = {name: [TrainMetrics(1, 1.0, 0.1, 0.1, 10.0)] for name in ("a", "b")}
    run.history["a"].append(TrainMetrics(2, 0.5, 0.1, 0.2, 10.0))  # "a" is at step 2, "b" is not yet
    drawn = training.curve_figure(run, "loss", "Loss", y_title="loss", val=False)
    assert [len(t["y"]) for t in drawn["data"]] == [2, 1]

    run.history["b"].append(TrainMetrics(2, 0.4, 0.1, 0.2, 10.0))  # the run ends: both at step 2
    final = training.curve_figure(run, "loss", "Loss", y_title="loss", val=False)
    assert [t["y"] for t in final["data"]] == [[1.0, 0.5], [1.0, 0.4]]


def test_curves_side_by_side_name_each_run_once_and_keep_their_axes_level():
    from llm_core.train import TrainMetrics
    from pages.common import training

    run = training.LiveRun("demo", steps=2, max_seconds=60)
    step = [TrainMetrics(s, 1.0 / s, 0.1, 0.1, 10.0, {"accuracy": 0.5}, val={"loss": 1.0, "accuracy": 0.4})
            for s in (1, 2)]  # fmt: skip
    run.history = {name: list(step) for name in ("a", "b", "c")}
    labels = {"a": "From scratch", "b": "Linear probe", "c": "Full fine-tune"}
    loss = checked(training.curve_figure(run, "loss", "Loss", y_title="loss", labels=labels))
    accuracy = checked(training.curve_figure(run, "accuracy", "Accuracy", y_title="accuracy", labels=labels,
                                             train=False, percent=True))  # fmt: skip
    in_legend = [t.name for t in loss.data if t.showlegend is not False]
    assert in_legend == [*labels.values(), "training batches", "held out"]  # not six entries of "run · kind"
    assert {t.name for t in loss.data if t.x[0] is not None} == {f"{v} · {k}" for v in labels.values()
                                                                 for k in ("train", "validation")}  # fmt: skip
    assert [t.name for t in accuracy.data] == list(labels.values())
    assert loss.layout.legend.yref == accuracy.layout.legend.yref == "container"  # below the plot, not over it
    assert loss.layout.margin.b == accuracy.layout.margin.b  # one plot height for both, whatever their legends
    assert all(t.cliponaxis is False for t in accuracy.data)  # a point at 0% is drawn whole, not cut by the axis
