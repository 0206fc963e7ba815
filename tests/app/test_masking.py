"""The masking page through app.py: the four masks, the perturbation proof, bad input, URL state.

Assertions read the figures' own data (`proto.spec`), so they check what a student sees. The
perturbation bars are also recomputed here from two plain forward passes of the shipped models.
"""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest
import torch

from llm_core import zoo

PAGE = "masking"


def spec(at, key: str) -> dict:
    """The Plotly figure shown under a widget key."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert charts, f"no chart {key!r}; shown: {[c.proto.id.rsplit('-', 1)[-1] for c in at.get('plotly_chart')]}"
    return json.loads(charts[0].proto.spec)


def array(value) -> np.ndarray:
    """A data array from figure JSON: a plain list, or Plotly's typed array {dtype, bdata, shape}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray([np.nan if v is None else v for v in value], dtype=float) if not (
        value and isinstance(value[0], list)) else np.asarray(
        [[np.nan if v is None else v for v in row] for row in value], dtype=float)


def ticks(figure: dict, axis: str) -> list[str]:
    return list(figure["layout"][f"{axis}axis"]["ticktext"])


def no_problems(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


@pytest.fixture(scope="module")
def shipped():
    """The shipped models, loaded here apart from the page's cache, for independent recomputation."""
    return {name: zoo.load(name)[:2] for name in ("encoder", "decoder")}


def final_change(model, ids: list[int], edited: list[int]) -> np.ndarray:
    with torch.no_grad():
        a = model.hidden(torch.tensor([ids]))[0].double().numpy()
        b = model.hidden(torch.tensor([edited]))[0].double().numpy()
    return np.sqrt(((b - a) ** 2).sum(-1))


def test_defaults_show_four_masks_and_their_weights(app_page):
    at = app_page(PAGE)
    no_problems(at)
    encoder, decoder = spec(at, "mask_encoder"), spec(at, "mask_decoder")
    assert ticks(encoder, "x")[:3] == ["[CLS]", "the (1)", "cat"] and ticks(encoder, "x")[-1] == "[SEP]"
    assert ticks(decoder, "y")[:3] == ["[BOS]", "the (1)", "cat"]
    w_enc, w_dec = array(encoder["data"][0]["z"]), array(decoder["data"][0]["z"])
    assert np.all(w_enc > 0)  # bidirectional: every key gets some weight
    T = w_dec.shape[0]
    assert np.all(w_dec[np.triu_indices(T, k=1)] == 0.0)  # causal: nothing above the diagonal
    assert np.all(w_dec[np.tril_indices(T)] > 0)
    np.testing.assert_allclose(w_dec.sum(1), 1.0, atol=1e-5)
    cross = spec(at, "mask_cross")
    assert ticks(cross, "x")[0] == "reverse" and ticks(cross, "y")[0] == "[BOS]"
    assert array(cross["data"][0]["z"]).shape == (len(ticks(cross, "y")), len(ticks(cross, "x")))
    for key in ("change_encoder", "change_decoder"):
        spec(at, key)
    assert not any(c.proto.id.endswith("-layers_encoder") for c in at.get("plotly_chart"))  # folded: built once opened
    at.session_state["layers_open"] = True
    at.run()
    for key in ("layers_encoder", "layers_decoder"):
        spec(at, key)
    shifted = spec(at, "shifted_targets")  # tick labels: the target over the input it is predicted at
    pairs = [re.fullmatch(r"<b>(.*)</b><br><span[^>]*>(.*)</span>", t).groups() for t in ticks(shifted, "x")]
    words = ["the", "cat", "eats", "the", "fish", "in", "the", "house", "."]
    assert [i for _, i in pairs] == ["[BOS]", *words] and [t for t, _ in pairs] == [*words, "[EOS]"]
    assert np.all((array(shifted["data"][0]["y"]) > 0) & (array(shifted["data"][0]["y"]) <= 1))
    assert at.dataframe, "the prefix table is missing"
    assert any("Takeaway" in s.value or "only the mask differs" in s.value for s in at.success)


def test_decoder_outputs_before_the_edit_do_not_change_at_all(app_page, shipped):
    at = app_page(PAGE)
    edit = at.selectbox(key="edit").value
    assert edit == 5 and at.selectbox(key="word").value == "honey"  # "fish" -> another food
    enc_bars = array(spec(at, "change_encoder")["data"][0]["y"])
    dec_bars = array(spec(at, "change_decoder")["data"][0]["y"])
    assert np.all(enc_bars > 0)
    assert np.all(dec_bars[:edit] == 0.0)  # exactly zero, as shown
    assert np.all(dec_bars[edit:] > 0)
    at.session_state["layers_open"] = True  # the student opens "Layer by layer"
    at.run()
    layers_fig = spec(at, "layers_decoder")
    layers = array(layers_fig["data"][0]["z"])
    assert ticks(layers_fig, "y") == ["embedding", "layer 0", "layer 1", "layer 2", "output"]
    assert np.all(layers[:, :edit] == 0.0)
    assert np.array_equal(np.array(layers_fig["data"][0]["text"]) == "0", layers == 0.0)  # marked as unmoved

    # independent recomputation from two plain forward passes of the shipped decoder and encoder
    model, tok = shipped["decoder"]
    sentence = tok.encode("the cat eats the fish in the house .").ids
    dec = [tok.bos_id, *sentence]
    edited = list(dec)
    edited[edit] = tok.token_to_id("honey")
    np.testing.assert_allclose(dec_bars, final_change(model, dec, edited), rtol=1e-4, atol=1e-6)
    model, tok = shipped["encoder"]
    enc = [tok.cls_id, *sentence, tok.sep_id]
    edited = list(enc)
    edited[edit] = tok.token_to_id("honey")
    np.testing.assert_allclose(enc_bars, final_change(model, enc, edited), rtol=1e-4, atol=1e-6)

    at.selectbox(key="edit").set_value(2).run()  # "cat": the default replacement follows
    no_problems(at)
    assert at.selectbox(key="word").value == "dog"
    dec_bars = array(spec(at, "change_decoder")["data"][0]["y"])
    assert np.all(dec_bars[:2] == 0.0) and np.all(dec_bars[2:] > 0)


def test_padding_gets_no_weight_and_minus_infinity(app_page):
    at = app_page(PAGE)
    padding = spec(at, "mask_padding")
    pad = np.array([t.startswith("[PAD]") for t in ticks(padding, "x")])
    assert pad.sum() == 5  # "the dog sleeps ." is 5 tokens shorter than the default sentence
    weights = array(padding["data"][0]["z"])
    assert np.all(weights[:, pad] == 0.0)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)

    at.segmented_control(key="show").set_value("masked").run()
    no_problems(at)
    padding = spec(at, "mask_padding")
    blocked = ~np.isnan(array(padding["data"][1]["z"]))  # the layer drawn as −∞
    assert np.array_equal(blocked, np.broadcast_to(pad, blocked.shape))
    assert set(np.array(padding["data"][1]["text"]).ravel()) == {""}  # 13 columns: "−∞" is wider than a cell
    decoder = spec(at, "mask_decoder")
    T = len(ticks(decoder, "y"))
    assert np.array_equal(~np.isnan(array(decoder["data"][1]["z"])), np.triu(np.ones((T, T), bool), k=1))

    at.segmented_control(key="show").set_value("mask").run()
    mask = array(spec(at, "mask_padding")["data"][0]["z"])
    assert np.all(mask[:, pad] == 0) and np.all(mask[:, ~pad] == 1)


def test_changing_the_sentence_updates_every_view(app_page):
    at = app_page(PAGE)
    text = "the dog sees a bird near the big lake ."
    at.text_input(key="text").set_value(text).run()
    no_problems(at)
    assert at.query_params["text"] == text
    for key in ("mask_encoder", "mask_decoder", "change_encoder", "change_decoder", "shifted_targets"):
        shown = " ".join(ticks(spec(at, key), "x"))
        assert "dog" in shown and "lake" in shown and "cat" not in shown, key
    pads = [t for t in ticks(spec(at, "mask_padding"), "x") if t.startswith("[PAD]")]
    assert len(pads) == 6  # 10 words against the 4 of "the dog sleeps ."
    edit = at.selectbox(key="edit").value
    assert 1 <= edit <= 10
    dec_bars = array(spec(at, "change_decoder")["data"][0]["y"])
    assert np.all(dec_bars[:edit] == 0.0) and np.all(dec_bars[edit:] > 0)
    table = next(d.value for d in at.dataframe if "position t sees" in d.value)
    assert table["position t sees"].iloc[3] == "[BOS] the dog sees"  # whole while it fits the column
    # longer, a prefix shows its end: each row's new token, next to the one it predicts
    assert table["position t sees"].iloc[-1] == "… near the big lake ."
    assert table["next token"].iloc[-1] == "[EOS]"
    assert at.multiselect(key="blank").value == [9]  # "lake", the last content word
    assert edit == 5 and at.selectbox(key="word").value != "honey"  # "bird", and a new replacement


def test_a_long_sentence_stays_readable(app_page):
    """30 tokens: labels every few columns, no cell or bar text that would run together, and the
    next-token chart's labels on one line each ("input → target"), every one of them."""
    words = ("the big dog sees the small cat near the old barn and " * 3).split()[:29]
    at = app_page(PAGE, text=" ".join(words) + " .", show="masked")
    no_problems(at)
    decoder, change = spec(at, "mask_decoder"), spec(at, "change_decoder")
    assert len(ticks(decoder, "y")) == 31 and len(ticks(decoder, "x")) == 11  # every third of 31 columns
    assert change["layout"]["xaxis"]["tickvals"] == list(range(0, 31, 3))  # the bars too
    assert set(decoder["data"][1].get("text", [[""]])[0]) == {""}  # no −∞ squeezed into 31 columns
    bars = change["data"][0]
    zero = array(bars["y"]) == 0
    assert zero.any() and [t for t, z in zip(bars["text"], zero, strict=True) if not z] == [""] * int((~zero).sum())
    assert all(t == "0" for t, z in zip(bars["text"], zero, strict=True) if z)  # exact zeros still marked
    shifted = ticks(spec(at, "shifted_targets"), "x")
    assert len(shifted) == 31 and shifted[0] == "[BOS] → <b>the</b>" and shifted[-1] == ". → <b>[EOS]</b>"

    short = app_page(PAGE, show="masked", text="the cat eats .", short="a dog .")
    for key in ("mask_decoder", "mask_padding"):  # 5 and 6 columns: room for "−∞", written where blocked only
        layer = spec(short, key)["data"][1]
        written = np.array(layer["text"]) == "−∞"
        assert written.any() and np.array_equal(written, ~np.isnan(array(layer["z"])))


def test_the_url_sets_the_whole_state(app_page):
    at = app_page(PAGE, text="the fox chases the rabbit .", edit="2", word="bird", show="masked",
                  layer="0", head="1", task="sort", digits="4 2 9")
    no_problems(at)
    assert at.selectbox(key="edit").value == 2 and at.selectbox(key="word").value == "bird"
    assert at.segmented_control(key="show").value == "masked"
    assert ticks(spec(at, "change_decoder"), "x")[2] == "2 fox→bird"
    dec_bars = array(spec(at, "change_decoder")["data"][0]["y"])
    assert np.all(dec_bars[:2] == 0.0)
    cross = spec(at, "mask_cross")
    assert ticks(cross, "x") == ["sort", "4", "2", "9"]
    assert ticks(cross, "y") == ["[BOS]", "2", "4", "9"]  # teacher forcing with the right answer


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cat", "has 1 token; type at least 2 words"),
        ("", "empty"),
        ("   ", "only whitespace"),
        (" ".join(["the cat eats"] * 11), "35 tokens long, special tokens included; the limit is 32"),
        ("cat " * 600, "2,400 characters; the limit is 2,000"),
    ],
)
def test_bad_sentences_get_a_message_and_nothing_runs(app_page, text, message):
    at = app_page(PAGE)
    at.text_input(key="text").set_value(text).run()
    assert not at.exception
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("plotly_chart")


def test_unknown_words_are_listed_and_become_unk(app_page):
    at = app_page(PAGE, text="the zebra eats pizza .")
    no_problems(at)
    warning = " ".join(w.value for w in at.warning)
    assert "“zebra”" in warning and "“pizza”" in warning and "[UNK]" in warning and "animal" in warning
    assert ticks(spec(at, "mask_encoder"), "x")[:3] == ["[CLS]", "the", "[UNK] (2)"]


def test_symbols_and_emoji_that_become_unk_are_named_too(app_page):
    at = app_page(PAGE, text="the 🐱 eats the cake !")
    no_problems(at)
    warning = " ".join(w.value for w in at.warning)
    assert "“🐱”" in warning and "“\\!”" in warning and "[UNK]" in warning  # “!”, escaped for markdown


@pytest.mark.parametrize("edit", ["9", "99"])  # 99: past every sentence's length too, still told about this one
def test_out_of_range_positions_and_bad_digits_are_explained(app_page, edit):
    at = app_page(PAGE, text="the cat sleeps .", edit=edit, blank="7")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert f"position to change is {edit}" in warnings and "positions 1 to 4" in warnings
    assert "between 1 and 4" in warnings and at.multiselect(key="blank").value == [2]  # "cat"
    assert at.selectbox(key="edit").value in range(1, 5)
    assert "edit" not in at.query_params and "blank" not in at.query_params  # the link no longer says 9 or 7
    dec_bars = array(spec(at, "change_decoder")["data"][0]["y"])
    edit = at.selectbox(key="edit").value
    assert np.all(dec_bars[:edit] == 0.0)

    at.text_input(key="digits").set_value("3 x 1").run()
    assert any("not a digit sequence" in e.value and "3 x" not in e.value for e in at.error)
    at.text_input(key="digits").set_value("1 2 3 4 5 6 7 8 9 0 1").run()
    assert any("11 digits; the limit is 10" in e.value for e in at.error)
    spec(at, "mask_encoder")  # the rest of the page still runs
