"""The Attention page: the weights it draws are the model's, checked against Hugging Face BERT and `capture`.

One AppTest session drives the module (models and forward passes are cached per process); each
test sets the widgets it relies on. Expected attention comes from `transformers.BertModel` for
MiniLM, and from `capture` on a separately loaded model for the tiny ones, never from the page's
own helpers.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
import transformers
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from llm_core import zoo
from llm_core.hooks import capture
from llm_core.pretrained import load_minilm, minilm_dir
from pages.common import models, ui

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEXT = "the cat is hungry , so it eats the fish ."


def open_page(**query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update(query)
    at._page_hash = calc_hash("attention")
    return at


@pytest.fixture(scope="module")
def at():
    """One session on the page for the whole module, as a student keeps one tab open."""
    with pytest.MonkeyPatch.context() as mp:  # run through app.py on every run, as tests/conftest.py explains
        original = PagesManager.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            PagesManager.uses_pages_directory = False

        mp.setattr(PagesManager, "__init__", init)
        yield open_page(model="MiniLM").run()


@pytest.fixture(scope="module")
def bert():
    """The reference: Hugging Face's BERT with MiniLM's weights, eager attention so it returns the weights."""
    model = transformers.BertModel.from_pretrained(str(minilm_dir()), attn_implementation="eager").eval()
    return model, transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))


def bert_attention(bert, text: str) -> tuple[list[str], np.ndarray]:
    model, tokenizer = bert
    enc = tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    return tokenizer.convert_ids_to_tokens(enc["input_ids"][0]), torch.stack([a[0] for a in out.attentions]).numpy()


def chart(at: AppTest, key: str) -> dict:
    [found] = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    return json.loads(found.proto.spec)


def array(value) -> np.ndarray:
    """A data array from figure JSON: a (nested) list, or Plotly's typed array {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")] if shape else -1).astype(float)
    return np.array([[np.nan if v is None else v for v in row] if isinstance(row, list) else
                     (np.nan if row is None else row) for row in value], dtype=float)  # fmt: skip


def z(spec: dict, trace: int = 0) -> np.ndarray:
    """A heatmap's values; cells drawn separately as −∞ come back as NaN."""
    return array(spec["data"][trace]["z"])


def tile(grid: dict, layer: int, head: int, n_tokens: int) -> np.ndarray:
    """One head's (T, T) tile of the small-multiples mosaic (tiles are separated by one empty row/column)."""
    block = n_tokens + 1
    return z(grid)[layer * block : layer * block + n_tokens, head * block : head * block + n_tokens]


def set_view(at: AppTest, *, model: str = "MiniLM", text: str = DEFAULT_TEXT, layer: int = 0, head: int = 0,
             step: str = "X", hide: bool = False, token: int = 0) -> AppTest:
    at.selectbox(key="model").set_value(model).run()
    at.text_input(key="text").input(text)
    at.toggle(key="hide_special").set_value(hide)
    at.run()
    at.slider(key="layer").set_value(layer)
    at.slider(key="head").set_value(head)
    at.segmented_control(key="step").set_value(step)
    at.run()
    if token:
        at.selectbox(key="token").set_value(token).run()
    assert not at.exception, at.exception
    return at


def test_default_view_shows_the_formula_every_section_and_the_takeaway(at, bert):
    at = set_view(at)
    assert not at.error
    assert at.title[0].value == "3. Attention"
    keys = [c.proto.id.rsplit("-", 1)[1] for c in at.get("plotly_chart")]
    assert keys == ["step_fig_a", "dk_example", "dk_saturation", "dk_spread", "head_grid", "head_big",
                    "token_lines", "mh_shapes"]
    x = chart(at, "step_fig_a")
    tokens, _ = bert_attention(bert, DEFAULT_TEXT)
    assert z(x).shape == (len(tokens), 384)
    assert x["layout"]["yaxis"]["ticktext"][:3] == ["[CLS]", "the (1)", "cat"]
    assert any(box.proto.title == "Takeaway" for box in at.success)
    at.session_state[ui.CODE_KEY] = True  # the student opens "Show the code"
    at.run()
    assert any("def attention_steps" in block.value for block in at.code)  # the code that ran


@pytest.mark.parametrize(("layer", "head"), [(0, 0), (3, 7), (5, 11)])
def test_the_enlarged_head_is_berts_attention_for_that_layer_and_head(at, bert, layer, head):
    at = set_view(at, layer=layer, head=head)
    tokens, reference = bert_attention(bert, DEFAULT_TEXT)
    big = chart(at, "head_big")
    assert big["layout"]["title"]["text"] == f"Layer {layer}, head {head}"
    np.testing.assert_allclose(z(big), reference[layer, head], atol=1e-3)
    grid = chart(at, "head_grid")
    T = len(tokens)
    assert z(grid).shape == (6 * (T + 1) - 1, 12 * (T + 1) - 1)  # 6 layers x 12 heads of T x T, with gaps
    np.testing.assert_allclose(tile(grid, layer, head, T), reference[layer, head], atol=1e-3)
    np.testing.assert_allclose(tile(grid, 5 - layer, 11 - head, T), reference[5 - layer, 11 - head], atol=1e-3)
    x_labels, y_labels = grid["data"][0]["x"], grid["data"][0]["y"]
    assert x_labels[head * (T + 1) + 2] == f"head {head}, key “cat”"
    assert y_labels[layer * (T + 1)] == f"layer {layer}, query “[CLS]”"
    [frame] = grid["layout"]["shapes"]  # the chosen head is framed in the grid
    centre = (T - 1) / 2
    assert frame["x0"] < head * (T + 1) + centre < frame["x1"] and frame["y0"] < layer * (T + 1) + centre < frame["y1"]
    assert at.query_params.get("layer") == (str(layer) if layer else None)


def test_every_shown_attention_matrix_has_rows_summing_to_one(at):
    at = set_view(at, layer=2, head=4, step="softmax", token=3)
    grid, T = chart(at, "head_grid"), len(at.selectbox(key="token").options)
    for layer in range(6):
        for head in range(12):
            np.testing.assert_allclose(tile(grid, layer, head, T).sum(axis=1), 1.0, atol=2e-3)
    np.testing.assert_allclose(z(chart(at, "head_big")).sum(axis=1), 1.0, atol=1e-3)
    np.testing.assert_allclose(z(chart(at, "step_fig_a")).sum(axis=1), 1.0, atol=1e-3)
    lines = chart(at, "token_lines")
    keys = lines["data"][-1]
    row = np.array([weight for _, weight in keys["customdata"]])
    np.testing.assert_allclose(row.sum(), 1.0, atol=1e-3)
    np.testing.assert_allclose(row, z(chart(at, "head_big"))[3], atol=1e-3)
    assert keys["text"] == [f"{w:.2f}" for w in row]  # each weight written in its token's row
    assert [label for label, _ in keys["customdata"]] == lines["data"][-2]["text"]  # the hover names the token


def test_step_through_output_is_the_layers_own_head_output(at):
    layer, head = 4, 9
    at = set_view(at, layer=layer, head=head, step="weights × V")
    minilm = load_minilm()
    ids = minilm.tokenizer.encode(DEFAULT_TEXT, add_special_tokens=True).ids
    with torch.no_grad(), capture(minilm.model, f"encoder.blocks.{layer}.attn.*") as acts:
        minilm.model.hidden(torch.tensor([ids]))
    np.testing.assert_allclose(z(chart(at, "step_fig_a")), acts[f"encoder.blocks.{layer}.attn.hook_z"][0, head],
                               atol=1e-3)
    assert any("largest difference" in box.value for box in at.success)
    at.segmented_control(key="step").set_value("÷ √d_k").run()
    np.testing.assert_allclose(z(chart(at, "step_fig_a")), acts[f"encoder.blocks.{layer}.attn.hook_scores"][0, head],
                               atol=1e-3)
    at.segmented_control(key="step").set_value("Q, K, V").run()
    q = chart(at, "step_fig_a")
    np.testing.assert_allclose(z(q), acts[f"encoder.blocks.{layer}.attn.hook_q"][0, head], atol=1e-3)
    # a third of the width for 32 head dimensions: a few numbered ticks, and cells without white gaps between them
    assert q["layout"]["xaxis"]["nticks"] <= 4 and "ticktext" not in q["layout"]["xaxis"]
    assert all(trace.get("xgap", 0) == 0 for trace in q["data"])
    at.button(key="step_next").click().run()  # Q, K, V -> QK^T
    assert at.segmented_control(key="step").value == "QK^T"
    Q, K = acts[f"encoder.blocks.{layer}.attn.hook_q"][0, head], acts[f"encoder.blocks.{layer}.attn.hook_k"][0, head]
    np.testing.assert_allclose(z(chart(at, "step_fig_a")), (Q @ K.T).numpy(), atol=2e-3)


def test_hiding_special_tokens_drops_them_and_renormalises(at, bert):
    at = set_view(at, layer=1, head=3, hide=True)
    tokens, reference = bert_attention(bert, DEFAULT_TEXT)
    big = chart(at, "head_big")
    assert "[CLS]" not in big["layout"]["yaxis"]["ticktext"] and "[SEP]" not in big["layout"]["xaxis"]["ticktext"]
    kept = reference[1, 3][1:-1, 1:-1]
    np.testing.assert_allclose(z(big), kept / kept.sum(axis=1, keepdims=True), atol=1e-3)
    assert any("renormalised" in c.value for c in at.caption)


def test_sqrt_dk_demo_shows_the_spread_growing_and_the_softmax_saturating(at):
    at.select_slider(key="dk").set_value(1024)
    at.toggle(key="scale").set_value(False)
    at.run()
    weights = array(chart(at, "dk_example")["data"][0]["y"])
    assert max(weights) > 0.9 and sum(weights) == pytest.approx(1.0)
    spread = {t["name"]: array(t["y"]) for t in chart(at, "dk_spread")["data"][:2]}
    d = array(chart(at, "dk_spread")["data"][0]["x"])
    np.testing.assert_allclose(spread["QK^T"], np.sqrt(d), rtol=0.15)
    np.testing.assert_allclose(spread["QK^T / √d_k"], 1.0, rtol=0.15)
    at.toggle(key="scale").set_value(True).run()
    assert array(chart(at, "dk_example")["data"][0]["y"]).max() < 0.6
    assert at.query_params.get("dk") == "1024"


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("   ", "whitespace"), (" ".join(["cat"] * 40), "the limit is 32")],
)
def test_bad_sentences_get_a_message_and_the_rest_of_the_page_stays(at, text, message):
    at.text_input(key="text").input(text).run()
    assert not at.exception
    [error] = at.error
    assert message in error.value
    if "limit" in message:
        assert "42 tokens" in error.value  # [CLS] + 40 words + [SEP]: the value is named too
    assert chart(at, "dk_saturation")  # the √d_k demo needs no sentence
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("-head_big")]
    [heads] = [i.value for i in at.info if "heads" in i.value]  # a sentence was typed: it says to change it
    assert "change the one above" in heads and "Type a sentence" not in heads
    at.text_input(key="text").input(DEFAULT_TEXT).run()


def test_emoji_and_cjk_are_tokens_too(at, bert):
    text = "the cat 🙂 likes 日本 fish"
    at = set_view(at, text=text, layer=2, head=1, hide=True)
    assert not at.error
    assert any("[UNK]" in box.value and "🙂" in box.value for box in at.info)
    tokens, reference = bert_attention(bert, text)
    big = chart(at, "head_big")
    labels = big["layout"]["yaxis"]["ticktext"]
    assert "日" in labels and "[UNK]" in labels and "[CLS]" not in labels  # [UNK] is a word: it is not hidden
    kept = reference[2, 1][1:-1, 1:-1]
    np.testing.assert_allclose(z(big), kept / kept.sum(axis=1, keepdims=True), atol=1e-3)


def test_markup_typed_in_the_sentence_is_shown_as_text(at):
    at = set_view(at, text="the <b>cat</b> sat")
    labels = chart(at, "head_big")["layout"]["xaxis"]["ticktext"]
    assert "&lt; (2)" in labels and "&gt; (4)" in labels and not any("<" in label for label in labels)


def test_a_deep_link_opens_the_exact_view(app_page):
    at = app_page("attention", model="MiniLM", text="the dog sees a bird .", layer="2", head="5",
                  step="softmax", hide_special="true")
    assert not at.exception and not at.warning
    assert (at.slider(key="layer").value, at.slider(key="head").value) == (2, 5)
    assert chart(at, "head_big")["layout"]["title"]["text"] == "Layer 2, head 5"
    assert chart(at, "step_fig_a")["layout"]["title"]["text"].startswith("Weights")


@pytest.mark.parametrize("name", ["decoder", "encoder"])
def test_tiny_models_show_their_own_attention(at, name):
    model, tokenizer, _ = zoo.load(name)
    L, H = model.config.n_layer, model.config.n_head
    text = "The dog eats bread in the garden ."  # read in lower case, as the tiny models were trained
    at = set_view(at, model=f"tiny {name}", text=text, layer=L - 1, head=H - 1, step="weights × V")
    assert not at.error and not at.info
    words = tokenizer.encode(text.lower()).ids
    ids = [tokenizer.bos_id, *words] if name == "decoder" else [tokenizer.cls_id, *words, tokenizer.sep_id]
    stack = "decoder" if name == "decoder" else "encoder"
    with torch.no_grad(), capture(model, f"{stack}.blocks.*.attn.*") as acts:
        model.hidden(torch.tensor([ids]))
    pattern = acts[f"{stack}.blocks.{L - 1}.attn.hook_pattern"][0, H - 1].numpy()
    np.testing.assert_allclose(z(chart(at, "head_big")), pattern, atol=1e-3)
    np.testing.assert_allclose(z(chart(at, "step_fig_a")), acts[f"{stack}.blocks.{L - 1}.attn.hook_z"][0, H - 1],
                               atol=1e-3)
    assert z(chart(at, "head_grid")).shape == (L * (len(ids) + 1) - 1, H * (len(ids) + 1) - 1)
    if name == "decoder":  # the causal mask: nothing above the diagonal
        assert np.allclose(np.triu(pattern, 1), 0) and np.allclose(np.triu(z(chart(at, "head_big")), 1), 0)
        at.segmented_control(key="step").set_value("÷ √d_k").run()
        assert np.isnan(z(chart(at, "step_fig_a"))[np.triu_indices(len(ids), 1)]).all()  # drawn as −∞


def test_the_chosen_token_survives_hiding_special_tokens_and_a_new_sentence_starts_from_its_own(at):
    at = set_view(at, model="MiniLM", token=8)
    assert chart(at, "token_lines")["layout"]["title"]["text"] == "Where “eats” looks"
    at.toggle(key="hide_special").set_value(True).run()  # [CLS] and [SEP] go: "eats" is still token 8
    assert at.selectbox(key="token").value == 8 and at.query_params["token"] == "8"
    assert chart(at, "token_lines")["layout"]["title"]["text"] == "Where “eats” looks"

    # A new sentence changes every label of the box; the browser then sends back the old label as its text,
    # which matches none of the new ones.
    at.session_state["token"] = "8: eats"
    at.text_input(key="text").input("the cat sleeps .").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="token").value == 3 and "token" not in at.query_params  # "sleeps": the last word
    at.toggle(key="hide_special").set_value(False).run()
    assert not at.exception
    at.selectbox(key="token").set_value(1).run()  # "the"
    at.text_input(key="text").input("my dog barks because he is hungry").run()
    assert at.selectbox(key="token").value == 6  # "he" ("bark", "##s" before it), not position 1
    assert chart(at, "token_lines")["layout"]["title"]["text"] == "Where “he” looks"


def test_quick_clicks_on_the_step_arrows_each_move_one_step(at):
    at = set_view(at, model="MiniLM", step="X")
    at.button(key="step_next").click().run()
    assert at.segmented_control(key="step").value == "W_q, W_k, W_v"
    # The next click leaves the browser before the last run came back: it still shows, and sends, "X".
    at.segmented_control(key="step").set_value("X")
    at.button(key="step_next").click().run()
    assert at.segmented_control(key="step").value == "Q, K, V"  # two clicks, two steps
    at.segmented_control(key="step").set_value("X").run()  # the student picks X: the clicks are forgotten
    at.button(key="step_next").click().run()
    assert at.segmented_control(key="step").value == "W_q, W_k, W_v"
    at.segmented_control(key="step").set_value("X").run()


def test_the_tiny_models_read_lower_case_and_minilm_reads_a_typed_special_token():
    assert models.text_model(models.TINY_DECODER).read("The Cat") == "the cat"  # their corpus is lower-case
    minilm = models.text_model(models.MINILM)
    assert minilm.read("[MASK] The Cat") == "[MASK] The Cat"  # its tokenizer lower-cases, and keeps [MASK]
    assert minilm.encode(minilm.read("[MASK] The Cat")).tokens == ["[CLS]", "[MASK]", "the", "cat", "[SEP]"]
