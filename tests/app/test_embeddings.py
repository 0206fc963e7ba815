"""The Embeddings page: the rows, neighbours and similarities it shows, against independent computations.

One AppTest session drives the module. Expected values come from Hugging Face BERT and
sentence-transformers (MiniLM), from the shipped checkpoint read with `zoo.load` and plain numpy
(tiny models), and from scikit-learn's cosine similarity, never from the page's own helpers.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import sentence_transformers
import torch
import transformers
from sklearn.metrics.pairwise import cosine_similarity
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from llm_core import zoo
from llm_core.data import word_class
from llm_core.pretrained import minilm_dir
from pages.common import models

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEXT = "the cat eats the fish ."


def open_page(**query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    at.query_params.update(query)
    at._page_hash = calc_hash("embeddings")
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
        yield open_page().run()


@pytest.fixture(scope="module")
def decoder():
    model, tokenizer, _ = zoo.load("decoder")
    return model, tokenizer


def chart(at: AppTest, key: str) -> dict:
    [found] = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    return json.loads(found.proto.spec)


def array(value) -> np.ndarray:
    """A data array from figure JSON: a (nested) list, or Plotly's typed array {dtype, bdata, shape}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")] if shape else -1).astype(float)
    return np.array(value, dtype=float)


def points(spec: dict) -> dict[str, tuple[str, np.ndarray]]:
    """word -> (class, coordinates) from a projection figure's class traces."""
    out = {}
    for trace in spec["data"]:
        if trace.get("customdata") is None:
            continue
        coords = np.stack([array(trace[axis]) for axis in ("x", "y", "z") if axis in trace], axis=1)
        for (word, cls), xyz in zip(trace["customdata"], coords, strict=True):
            out[word] = (cls, xyz)
    return out


def settle(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def use(at: AppTest, model: str, **widgets) -> AppTest:
    at.selectbox(key="model").set_value(model)
    at.text_input(key="text").input(widgets.pop("text", DEFAULT_TEXT))
    at.text_input(key="word").input(widgets.pop("word", "cat"))
    at.segmented_control(key="method").set_value(widgets.pop("method", "PCA"))
    at.segmented_control(key="dims").set_value(widgets.pop("dims", 2))
    assert not widgets
    return settle(at)


def test_the_tiny_decoder_looks_up_its_own_rows(at, decoder):
    at = use(at, "tiny decoder", text=DEFAULT_TEXT.capitalize())  # read in lower case, as the model was trained
    assert not at.error and not at.warning and not at.info
    assert at.title[0].value == "2. Embeddings"
    model, tokenizer = decoder
    ids = [tokenizer.bos_id, *tokenizer.encode(DEFAULT_TEXT).ids]
    rows = chart(at, "lookup_rows")
    np.testing.assert_allclose(array(rows["data"][0]["z"]).reshape(len(ids), -1),
                               model.tok_emb.weight.detach().numpy()[ids], atol=1e-6)
    table = at.dataframe[0].value
    assert table["ID"].tolist() == ids and table["token"].tolist()[1:] == DEFAULT_TEXT.split()
    assert any(box.proto.title == "Takeaway" for box in at.success)


def agreements(at: AppTest) -> tuple[float, float]:
    """Neighbour class agreement before and after training, as the page's one metric shows them: the value
    after training, and the change from the value before."""
    [metric] = [m for m in at.metric if m.label == "Neighbour class agreement after training"]
    after = int(metric.value.rstrip("%"))
    gain, before = re.fullmatch(r"\+(\d+) points from (\d+)% before training", metric.proto.delta).groups()
    assert int(gain) == after - int(before)  # the change is the difference of the two
    return int(before) / 100, after / 100


def test_training_puts_words_of_a_class_together(at, decoder):
    at = use(at, "tiny decoder", word="cat")
    before, after = agreements(at)
    assert after > before + 0.3, (before, after)
    model, tokenizer = decoder
    shown = points(chart(at, "projection_after"))
    assert len(shown) > 100 and all(word_class(w) == c for w, (c, _) in shown.items())
    # the neighbour table after training is the cosine ranking of the checkpoint's own rows
    words = sorted(shown)
    E = model.tok_emb.weight.detach().numpy()[[tokenizer.token_to_id(w) for w in words]]
    sims = cosine_similarity(E[[words.index("cat")]], E)[0]
    expected = [words[i] for i in np.argsort(-sims) if words[i] != "cat"][:8]
    table = at.dataframe[-1].value
    assert table["word"].tolist() == expected
    np.testing.assert_allclose(table["cosine"], np.sort(sims)[::-1][1:9], atol=1e-3)
    assert [word_class(w) for w in expected[:3]].count("animal") >= 2


def test_three_d_t_sne_and_the_neighbours_are_marked(at):
    at = use(at, "tiny decoder", method="t-SNE", dims=3, word="apple")
    spec = chart(at, "projection_after")
    assert {t["type"] for t in spec["data"]} == {"scatter3d"}
    shown = points(spec)
    assert all(xyz.shape == (3,) for _, xyz in shown.values())
    names = [t["name"] for t in spec["data"]]
    assert "neighbours" in names and "“apple”" in names
    [labels] = [t["text"] for t in spec["data"] if t["name"] == "word labels"]
    assert labels[0] == "<b>apple</b>" and len(labels) == 9 and "apple" not in labels  # apple once, bold; 8 neighbours
    assert at.query_params.get("method") == "t-SNE" and at.query_params.get("dims") == "3"


def test_minilm_rows_and_neighbours_match_bert_and_sentence_transformers(at):
    at = use(at, "MiniLM", text="the cat sat on the mat")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    bert = transformers.BertModel.from_pretrained(str(minilm_dir()))
    ids = tokenizer("the cat sat on the mat")["input_ids"]
    rows = array(chart(at, "lookup_rows")["data"][0]["z"]).reshape(len(ids), 384)
    np.testing.assert_allclose(rows, bert.embeddings.word_embeddings.weight.detach().numpy()[ids], atol=1e-6)

    at.radio(key="rep").set_value("sentence embedding")
    settle(at)
    words = list(points(chart(at, "projection_after")))
    reference = sentence_transformers.SentenceTransformer(str(minilm_dir()), device="cpu")
    vectors = reference.encode(words, normalize_embeddings=True)
    sims = cosine_similarity(vectors[[words.index("cat")]], vectors)[0]
    expected = [words[i] for i in np.argsort(-sims) if words[i] != "cat"][:8]
    table = at.dataframe[-1].value
    assert table["word"].tolist() == expected
    assert word_class(expected[0]) == "animal"  # another animal comes before unrelated words

    picked = ["cat", "dog", "apple", "red"]
    at.multiselect(key="pick").set_value(picked)
    settle(at)
    index = [words.index(w) for w in picked]
    np.testing.assert_allclose(array(chart(at, "similarity")["data"][0]["z"]).reshape(4, 4),
                               cosine_similarity(vectors[index]), atol=1e-4)


def test_minilm_word_list_can_be_edited_and_is_bounded(at):
    at = use(at, "MiniLM")
    at.text_area(key="words").input("cat, dog, zebra, lion, piano, violin")
    settle(at)
    shown = points(chart(at, "projection_after"))
    assert set(shown) == {"cat", "dog", "zebra", "lion", "piano", "violin"}
    assert shown["piano"][0] == "other" and shown["dog"][0] == "animal"
    at.text_area(key="words").input("cat dog cat cat")  # a repeated word is one point
    settle(at)
    assert any("Different words in the list: 2; the minimum is 3" in e.value for e in at.error)
    at.text_area(key="words").input(" ".join(f"w{i}" for i in range(151)))
    settle(at)
    assert any("list: 151; the limit is 150" in e.value for e in at.error)
    at.text_area(key="words").input("cat, dog, " + "horse, " * 300)  # three different words, in 2,110 characters
    settle(at)
    assert [e.value for e in at.error] == ["Words to place: Text is 2,110 characters long; the limit is 2,000. "
                                           "Shorten the list above."]
    at.text_area(key="words").input("")
    settle(at)
    assert any("Different words in the list: 0; the minimum is 3" in e.value for e in at.error)
    at.text_area(key="words").input("cat, dog, horse, apple, bread, red")
    settle(at)


def test_a_new_word_list_without_the_chosen_words_chooses_its_own(at):
    """The words to compare are the list's: those still in it stay chosen; when none is, the new list's
    first words are, as a link to the page would choose them, not nothing."""
    at = use(at, "MiniLM")
    at.multiselect(key="pick").set_value(["cat", "dog", "apple"])
    at.text_area(key="words").input("cat, dog, lion, tiger, oak")
    settle(at)
    assert at.multiselect(key="pick").value == ["cat", "dog"]
    at.text_area(key="words").input("lion, tiger, bear, oak, pine")
    settle(at)
    assert at.multiselect(key="pick").value == ["lion", "tiger", "bear", "oak", "pine"]
    assert "pick" not in at.query_params and chart(at, "similarity")
    at.text_area(key="words").input("cat, dog, horse, apple, bread, red")
    settle(at)
    assert at.multiselect(key="pick").value == ["cat", "dog", "horse", "apple", "bread", "red"]
    assert "pick" not in at.query_params


def test_a_word_list_too_short_for_a_moment_keeps_the_chosen_words(at):
    """Clearing the list to type a new one makes it unusable for a moment; the words chosen from it
    come back with it, in the box and in the link."""
    at = use(at, "MiniLM")
    at.multiselect(key="pick").set_value(["cat", "dog", "apple"])
    settle(at)
    at.text_area(key="words").input("cat, dog")  # fewer than 3 words: refused
    settle(at)
    assert any("limit" in e.value or "minimum" in e.value for e in at.error)
    at.text_area(key="words").input("cat, dog, horse, apple, bread, red")
    settle(at)
    assert at.multiselect(key="pick").value == ["cat", "dog", "apple"]
    assert at.query_params["pick"] == ["cat", "dog", "apple"] and chart(at, "similarity")


@pytest.mark.parametrize(("model", "word", "shown"), [
    ("tiny decoder", "xylophone", "“xylophone”"),
    ("MiniLM", "xylophone", "“xylophone”"),
    ("tiny decoder", "**big**", "“\\*\\*big\\*\\*”"),  # markdown typed by the student stays text
])
def test_a_word_not_in_the_vocabulary_gets_a_message(at, model, word, shown):
    at = use(at, model, word=word)
    assert not at.error
    [warning] = at.warning
    assert shown in warning.value and "not in" in warning.value
    assert chart(at, "projection_after")  # the plot is still there


@pytest.mark.parametrize(("word", "suggested"), [("cat dog", "Try “cat”"), ("xylo phone", "Try “")])
def test_several_words_for_the_search_are_told_it_starts_from_one(at, word, suggested):
    at = use(at, "tiny decoder", word=word)
    [warning] = at.warning
    assert "is 2 words; the search starts from the point of one word." in warning.value
    assert suggested in warning.value and "not in" not in warning.value


def test_a_word_too_long_for_the_word_box_names_the_limit(at):
    at = use(at, "MiniLM", word="x" * 41)
    assert [e.value for e in at.error] == ["Nearest neighbours of: The word is 41 characters long; the limit is 40. "
                                           "Type one word."]
    assert not at.warning  # not also "not in the word list"
    at = use(at, "MiniLM", word="İ" * 40)  # 40 characters as typed, 80 once lower-cased
    assert not at.error


@pytest.mark.parametrize("model", ["tiny decoder", "MiniLM"])
def test_an_empty_word_box_says_what_it_is_for(at, model):
    at = use(at, model, word="   ")
    assert not at.error and not at.warning
    assert "Nearest neighbours of" in at.info[0].value
    assert chart(at, "projection_after")
    assert not [m for m in at.markdown if m.value.startswith("**Nearest neighbours of")]  # no table to title


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), (" ".join(["cat"] * 40), "the limit is 32")],
)
def test_bad_sentences_get_a_message_and_the_projection_stays(at, text, message):
    at = use(at, "tiny decoder", text=text)
    assert message in at.error[0].value
    assert not [c for c in at.get("plotly_chart") if c.proto.id.endswith("-lookup_rows")]
    assert chart(at, "projection_after")


def test_emoji_and_cjk_become_unknown_for_a_word_vocabulary(at):
    at = use(at, "tiny decoder", text="the cat 🙂 eats 日本 fish")
    assert not at.error
    assert any("🙂" in box.value and "日本" in box.value for box in at.info)
    assert at.dataframe[0].value["token"].tolist() == ["[BOS]", "the", "cat", "[UNK]", "eats", "[UNK]", "fish"]


def test_words_minilm_reads_as_unk_are_named(at):
    at = use(at, "MiniLM")
    at.text_area(key="words").input("cat, dog, 😀, 👨‍👩‍👧, fish")
    at = settle(at)
    notes = [box.value for box in at.info if "[UNK]" in box.value]
    assert notes and "“😀”, “👨‍👩‍👧”" in notes[0] and "cat" not in notes[0]


def test_live_training_trains_a_copy_and_shows_its_table(at, decoder):
    at = use(at, "tiny decoder")
    at.segmented_control(key="dim").set_value(8)
    settle(at)
    shipped = decoder[0].tok_emb.weight.detach().clone()
    at.button(key="embedding_train").click()
    settle(at)
    deadline = time.monotonic() + 180  # the run stops at its step or time budget (20 s)
    while not any("Finished" in c.value or "time budget" in c.value for c in at.caption):
        assert time.monotonic() < deadline, "the training never reported its end"
        time.sleep(1.0)
        settle(at)  # what the fragment's timer does in a browser
    live = chart(at, "live_projection")
    assert len(points(live)) > 100
    assert "8-dimensional" in live["layout"]["title"]["text"]
    assert at.metric[-1].value.endswith("%")
    assert at.button(key="embedding_train").disabled is False  # ready for another run
    # the page trained its own copy: the cached, shared checkpoint is untouched
    assert torch.equal(zoo.load("decoder")[0].tok_emb.weight, shipped)
    assert torch.equal(models.tiny("decoder")[0].tok_emb.weight.cpu(), shipped)


def test_a_deep_link_opens_the_exact_view(app_page):
    at = app_page("embeddings", model="tiny encoder", word="red", method="t-SNE", dim="32", pick=["red", "blue", "cat"])
    assert not at.exception and not at.warning and not at.error
    assert at.selectbox(key="model").value == "tiny encoder"
    assert at.segmented_control(key="dim").value == 32
    assert at.multiselect(key="pick").value == ["red", "blue", "cat"]
    assert chart(at, "projection_after")["layout"]["title"]["text"] == "After training: t-SNE"
    before, after = agreements(at)
    assert after > before + 0.3  # the encoder's table is organised by class too
    assert [word_class(w) for w in at.dataframe[-1].value["word"][:3]] == ["color"] * 3


def test_a_link_comparing_too_many_words_compares_the_first_twenty(app_page):
    words = list(points(chart(app_page("embeddings"), "projection_after")))[:25]
    at = app_page("embeddings", pick=words)
    assert not at.exception
    assert any("chooses 25 words to compare; the limit is 20" in w.value for w in at.warning)
    assert at.multiselect(key="pick").value == words[:20]
    assert at.query_params["pick"] == words[:20]  # the link says what is shown
    assert len(chart(at, "similarity")["data"][0]["y"]) == 20
