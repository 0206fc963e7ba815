"""The Tokenization page: what it shows, checked against Hugging Face's tokenizers and plain counts.

One AppTest drives most tests (the tokenizers it trains are cached per process, so later runs
are fast); each test sets the widgets it relies on. Expected values come from the HF tokenizer's
own `encode`, from its saved merges, or from counting characters and words here, never from
the page's own helpers.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from llm_core.data import prose_corpus
from llm_core.pretrained import minilm_dir
from llm_core.tokenizers import train_tokenizer
from pages.common import chips, ui

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEXT = "Tokenizers split rare words into frequent pieces, like reading and readers."


def open_page(**query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update(query)
    at._page_hash = calc_hash("tokenization")
    return at


@pytest.fixture(scope="module")
def at():
    """One session on the page for the whole module (as a student would keep one tab open)."""
    with pytest.MonkeyPatch.context() as mp:  # run through app.py on every run, as conftest.py explains
        original = PagesManager.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            PagesManager.uses_pages_directory = False

        mp.setattr(PagesManager, "__init__", init)
        yield open_page().run()


@pytest.fixture(scope="module")
def bpe_hf():
    """The page's default BPE (2,000 tokens on the prose), as HF's own tokenizer object."""
    return train_tokenizer("bpe", prose_corpus(), 2000, count_frequencies=False).hf


def set_state(at: AppTest, *, text: str = DEFAULT_TEXT, tokenizer: str = "bpe", corpus: str = "prose",
              vocab: int = 2000, specials: str = "none") -> AppTest:
    at.text_area(key="text").set_value(text)
    at.radio(key="tokenizer").set_value(tokenizer)
    at.radio(key="corpus").set_value(corpus)
    at.radio(key="specials").set_value(specials)
    if at.select_slider(key="vocab").value != vocab:  # disabled while MiniLM is shown
        at.select_slider(key="vocab").set_value(vocab)
    at.run()
    assert not at.exception, at.exception
    return at


def spec(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return json.loads(chart.proto.spec)
    raise KeyError(key)


def decode(values) -> list:
    """Plotly sends long numeric arrays as typed buffers ({"dtype", "bdata"}); lists stay lists."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def chip_rows(figure: dict) -> list[tuple[int, str, int, str]]:
    """(row, shown text, id, fill colour) of every chip, in reading order."""
    [bars] = figure["data"]  # a bar per chip, its label the bar's text
    ids = [int(re.search(r"ID ([\d,]+)", h).group(1).replace(",", "")) for h in bars["customdata"]]
    texts = [html.unescape(t) for t in bars["text"]]
    return list(zip(decode(bars["y"]), texts, ids, bars["marker"]["color"], strict=True))


def chip_texts(figure: dict) -> list[str]:
    return [text for _, text, _, _ in chip_rows(figure)]


def groups(figure: dict) -> dict[str, list[str]]:
    """Chips of a comparison figure, by the label of the rows they sit in."""
    starts = decode(figure["layout"]["yaxis"]["tickvals"])
    names = [label.split("<br>")[0] for label in figure["layout"]["yaxis"]["ticktext"]]
    out: dict[str, list[str]] = {name: [] for name in names}
    for row, text, _, _ in chip_rows(figure):
        out[names[max(i for i, s in enumerate(starts) if s <= row)]].append(text)
    return out


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def compare_table(at: AppTest):
    return next(d.value for d in at.dataframe if "characters per token" in d.value.columns)


def vocabulary_sizes(at: AppTest) -> dict[str, int]:
    table = compare_table(at)
    return dict(zip(table["tokenizer"], table["vocabulary size"], strict=True))


def visible(tokens: list[str]) -> list[str]:
    return [t.replace(" ", "▁").replace("\n", "↵") for t in tokens]


def bert_words(text: str) -> list[str]:
    """Split like BERT's pre-tokenizer: at whitespace, and every punctuation mark on its own."""
    def punct(ch: str) -> bool:
        return (33 <= ord(ch) <= 47 or 58 <= ord(ch) <= 64 or 91 <= ord(ch) <= 96 or 123 <= ord(ch) <= 126
                or unicodedata.category(ch).startswith("P"))

    words, current = [], ""
    for ch in text:
        if ch.isspace() or punct(ch):
            if current:
                words.append(current)
            current = ""
            if punct(ch):
                words.append(ch)
        else:
            current += ch
    return words + ([current] if current else [])


# --- the page with its defaults ------------------------------------------------------------------


def test_defaults_show_the_trained_bpe_tokens_ids_and_every_section(at, bpe_hf):
    set_state(at)
    assert at.title[0].value == "1. Tokenization" and not at.error
    reference = bpe_hf.encode(DEFAULT_TEXT, add_special_tokens=False)
    rows = chip_rows(spec(at, "tok_chips"))
    assert [t for _, t, _, _ in rows] == visible(reference.tokens)
    assert [i for _, _, i, _ in rows] == reference.ids
    assert metric(at, "Tokens") == str(len(reference.ids))
    assert metric(at, "Vocabulary size") == f"{bpe_hf.get_vocab_size():,}"
    assert at.code[0].value == ", ".join(map(str, reference.ids))  # what the model receives
    table = next(d.value for d in at.dataframe if "characters" in d.value.columns)
    assert list(table["ID"]) == reference.ids
    assert [DEFAULT_TEXT[int(a):int(b)] for a, b in (c.split("–") for c in table["characters"])] == [
        DEFAULT_TEXT[s:e] for s, e in reference.offsets
    ]
    assert at.success[-1].proto.title == "Takeaway"
    note = "on the prose with 2,000 tokens, “reading” is `▁rea` `ding`"  # the BPE note's example, as trained
    assert any(note in m.value for m in at.markdown)
    assert bpe_hf.encode(" reading", add_special_tokens=False).tokens[-2:] == ["▁rea", "ding"]
    assert not at.query_params  # defaults keep the link clean
    assert not any("def train_tokenizer" in c.value for c in at.code)  # the source is sent only when asked for
    at.session_state[ui.CODE_KEY] = True  # the student opens "Show the code"
    at.run()
    assert "def train_tokenizer" in at.code[-4].value and "def replay_bpe" in at.code[-2].value
    at.session_state[ui.CODE_KEY] = False
    at.run()


def test_growth_charts_match_counts_made_here(at):
    """Word-level needs one entry per distinct word (and keeps growing); characters stop at the alphabet."""
    set_state(at)
    corpus = prose_corpus()
    cut = int(len(corpus) * 0.9)
    while cut < len(corpus) and not corpus[cut].isspace():
        cut += 1
    train = corpus[:cut]
    figure = spec(at, "tok_growth_vocab")
    series = {trace["name"]: decode(trace["y"]) for trace in figure["data"]}
    assert figure["layout"]["xaxis"]["type"] == "log" and figure["layout"]["yaxis"]["type"] == "log"
    assert series["word-level"][-1] == 7 + len(set(bert_words(train)))
    assert series["character"][-1] == 7 + len(set(train))
    word_level = series["word-level"]
    assert word_level == sorted(word_level) and word_level[-1] > 5 * word_level[0]
    assert max(series["BPE (2,000 budget)"]) <= 2000
    oov = {trace["name"]: decode(trace["y"]) for trace in spec(at, "tok_growth_oov")["data"]}
    assert oov["word-level"][-1] > 1 and oov["character"][-1] == 0  # the prose alphabet is closed


# --- each tokenizer -------------------------------------------------------------------------------


def test_each_tokenizer_changes_the_shown_tokens(at, bpe_hf):
    counts = {}
    for kind in ("word", "char", "bpe", "wordpiece", "minilm"):
        set_state(at, tokenizer=kind)
        counts[kind] = int(metric(at, "Tokens"))
        assert at.query_params.get("tokenizer", "bpe") == kind
        assert len(chip_texts(spec(at, "tok_chips"))) == counts[kind]
    words = bert_words(DEFAULT_TEXT)
    assert counts["word"] == len(words)
    assert counts["char"] == len(DEFAULT_TEXT)  # every character of the text occurs in the prose
    assert counts["bpe"] == len(bpe_hf.encode(DEFAULT_TEXT, add_special_tokens=False).ids)
    assert counts["char"] > counts["bpe"] > counts["word"] and counts["wordpiece"] > counts["minilm"]
    assert len(set(counts.values())) == 5
    table = compare_table(at)
    assert dict(zip(table["tokenizer"], table["tokens"], strict=True)) == {
        "Word-level": counts["word"], "Character": counts["char"], "BPE": counts["bpe"],
        "WordPiece": counts["wordpiece"], "MiniLM (real)": counts["minilm"],
    }  # fmt: skip
    shown = groups(spec(at, "tok_compare_chips"))
    assert shown["Character"] == visible(list(DEFAULT_TEXT))


def test_minilm_splits_tokenization_into_token_and_ization(at):
    set_state(at, text="tokenization", tokenizer="minilm")
    assert chip_texts(spec(at, "tok_chips")) == ["token", "##ization"]
    set_state(at, text="tokenization", tokenizer="minilm", specials="encoder")
    rows = chip_rows(spec(at, "tok_chips"))
    vocab = (minilm_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()  # ID = line number
    assert [(t, i) for _, t, i, _ in rows] == [(t, vocab.index(t)) for t in ["[CLS]", "token", "##ization", "[SEP]"]]
    fills = [f for _, _, _, f in rows]
    assert fills[0] == fills[-1] == chips.SPECIAL_FILL and chips.SPECIAL_FILL not in fills[1:-1]
    assert metric(at, "Vocabulary size") == "30,522"


def test_decoder_special_tokens_wrap_the_text(at, bpe_hf):
    set_state(at, text="the cat", specials="decoder")
    rows = chip_rows(spec(at, "tok_chips"))
    inner = visible(bpe_hf.encode("the cat", add_special_tokens=False).tokens)
    assert [t for _, t, _, _ in rows] == ["[BOS]", *inner, "[EOS]"]
    assert (rows[0][2], rows[-1][2]) == (bpe_hf.token_to_id("[BOS]"), bpe_hf.token_to_id("[EOS]"))


def join_wordpieces(pieces: list[str]) -> list[str]:
    """Words back from WordPiece pieces: a "##" piece continues the word before it."""
    words: list[str] = []
    for piece in pieces:
        if piece.startswith("##") and words:
            words[-1] += piece[2:]
        else:
            words.append(piece)
    return words


def test_an_unknown_word_is_unk_for_words_and_split_by_subwords(at):
    text = "The zorblaxing function."
    set_state(at, text=text, tokenizer="word")
    rows = chip_rows(spec(at, "tok_chips"))
    assert [t for _, t, _, _ in rows] == ["The", "[UNK]", "function", "."]
    assert rows[1][3] == chips.UNKNOWN_FILL and metric(at, "[UNK] tokens") == "1"
    assert any("cannot spell “zorblaxing” from" in w.value for w in at.warning)  # named in the warning

    set_state(at, text=text, tokenizer="bpe")
    pieces = chip_texts(spec(at, "tok_chips"))
    assert "[UNK]" not in pieces and "".join(pieces) == "The▁zorblaxing▁function."

    set_state(at, text="tab\there", tokenizer="bpe")  # the corpus has no tab: one [UNK], named as its chip shows it
    assert metric(at, "[UNK] tokens") == "1" and any("cannot spell “⇥” from" in w.value for w in at.warning)
    assert "▁zorblaxing" not in pieces and len(pieces) > 4  # the rare word is spelled with known pieces

    set_state(at, text=text, tokenizer="wordpiece")
    pieces = chip_texts(spec(at, "tok_chips"))
    assert "[UNK]" not in pieces and "zorblaxing" not in pieces
    assert join_wordpieces(pieces) == ["The", "zorblaxing", "function", "."]


# --- BPE merges one at a time ---------------------------------------------------------------------


def test_merge_slider_goes_from_characters_to_the_trained_bpe(at, bpe_hf):
    text = "Splitting the words into tokens takes time."
    set_state(at, text=text)
    merges = json.loads(bpe_hf.to_str())["model"]["merges"]
    slider = at.slider(key="merge")
    assert (slider.min, slider.max, slider.value) == (0, len(merges), len(merges))
    trained = visible(bpe_hf.encode(text, add_special_tokens=False).tokens)
    assert chip_texts(spec(at, "tok_merge_chips")) == trained

    slider.set_value(0).run()
    assert chip_texts(spec(at, "tok_merge_chips")) == visible(list(text))
    assert at.query_params["merge"] == "0"

    at.button(key="merge_next").click().run()
    assert at.slider(key="merge").value == 1
    first = merges[0] if isinstance(merges[0], list) else merges[0].split(" ")
    # how often the first pair occurs in the corpus, counted here: spaces are "▁", a space run is
    # its own piece, so "▁" + "t" is a space before "t" that follows something other than a space
    corpus = prose_corpus().replace(" ", "▁")
    pair = "".join(first)
    expected = len(re.findall(rf"(?<!▁){re.escape(pair)}", corpus)) if first[0] == "▁" else corpus.count(pair)
    note = next(c.value for c in at.code if c.value.startswith("merge 1:"))
    assert f"{first[0]!r} + {first[1]!r} -> {pair!r}" in note and f"occurred {expected:,} times" in note
    rows = spec(at, "tok_merge_chips")["data"][0]["marker"]["line"]["width"]
    shown = chip_texts(spec(at, "tok_merge_chips"))
    assert [w == 4 for w in rows] == [t == pair for t in shown] and pair in shown

    at.button(key="merge_back").click().run()
    assert at.slider(key="merge").value == 0
    at.slider(key="merge").set_value(len(merges)).run()
    counts = decode(spec(at, "tok_merge_counts")["data"][0]["y"])
    assert len(counts) == len(merges) and counts[0] == expected
    captions = [c.value.replace("\\", "") for c in at.caption]  # Markdown, as it reads on screen
    assert any(f"most frequent pairs of this corpus (“{first[0]}” + “{first[1]}”," in c for c in captions)


def test_a_merge_step_left_in_the_link_by_a_vocabulary_without_merges_comes_back_quietly(at):
    set_state(at)
    at.button(key="merge_back").click().run()  # k = all merges - 1, written into the link
    assert at.query_params["merge"] == str(int(at.slider(key="merge").max) - 1)
    at.select_slider(key="vocab").set_value(30).run()  # the alphabet fills it: no merges, no slider
    assert not at.slider and not [w.value for w in at.warning if "link" in w.value]
    at.select_slider(key="vocab").set_value(200).run()  # the page's own old k is too far now
    assert not [w.value for w in at.warning if "link" in w.value]  # not taken for a link the student opened
    assert at.slider(key="merge").value == at.slider(key="merge").max  # all merges, as on a fresh vocabulary
    set_state(at)


def test_a_vocabulary_without_merges_says_how_to_get_some_with_the_slider_that_moves(app_page):
    at = app_page("tokenization", vocab="30")
    assert any(i.value.endswith("Choose a larger vocabulary size.") for i in at.info)
    at = app_page("tokenization", vocab="30", tokenizer="minilm")  # MiniLM's vocabulary: the slider is locked
    assert at.select_slider(key="vocab").disabled
    assert any("once a trained tokenizer is picked" in i.value for i in at.info)


# --- bad input ------------------------------------------------------------------------------------


def test_text_that_cannot_be_used_is_refused_and_the_last_good_text_stays(at, bpe_hf):
    set_state(at, text="good text")
    good = chip_texts(spec(at, "tok_chips"))
    refused = [("", "empty"), ("  \n\t  ", "whitespace"), ("a" * 10_001, "10,001 characters; the limit is 10,000")]
    for bad, words in refused:
        at.text_area(key="text").set_value(bad).run()
        assert not at.exception
        assert words in at.error[0].value and "last text that worked" in at.error[0].value
        assert chip_texts(spec(at, "tok_chips")) == good
    set_state(at, text="a " * 5_000)  # exactly at the bound: it runs
    assert not at.error and metric(at, "Characters") == "10,000"
    assert any("first 400 of" in c.value for c in at.caption)


def test_a_long_unknown_word_is_named_by_its_start(at):
    """Chinese has no spaces, so a paragraph of it is one word: the warning quotes its start, not a wall of it."""
    set_state(at, text="猫" * 3_000, tokenizer="word")
    assert metric(at, "[UNK] tokens") == "1"
    warning = next(w.value for w in at.warning if "cannot spell" in w.value)
    assert f"cannot spell “{'猫' * 39}…” from" in warning and len(warning) < 500


def test_emoji_never_seen_in_training_is_unk_for_bpe(at, bpe_hf):
    text = "I like 🍕!"
    set_state(at, text=text)
    rows = chip_rows(spec(at, "tok_chips"))
    assert [t for _, t, _, _ in rows] == visible(bpe_hf.encode(text, add_special_tokens=False).tokens)
    assert [f for _, t, _, f in rows if t == "[UNK]"] == [chips.UNKNOWN_FILL]  # the prose has no emoji
    assert any("cannot spell “🍕” from" in w.value for w in at.warning)  # and the warning names it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("東京は日本", list("東京は日本")),  # BERT cuts Chinese and Japanese text into single characters
        ("cafe\u0301", ["cafe"]),  # NFC makes "é" of e + combining accent; MiniLM then strips the accent
    ],
)
def test_cjk_and_combining_marks_in_minilm(at, text, expected):
    set_state(at, text=text, tokenizer="minilm")
    assert not at.error and chip_texts(spec(at, "tok_chips")) == expected


def test_markup_is_shown_as_text_never_as_tags(at):
    text = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
    set_state(at, text=text, tokenizer="char")
    assert "".join(chip_texts(spec(at, "tok_chips"))) == text.replace(" ", "▁")
    for key in ("tok_chips", "tok_compare_chips", "tok_merge_chips"):
        raw = json.dumps(spec(at, key), ensure_ascii=False)
        # the only tags left are the figure's own formatting; the text's "<" arrives as "&lt;"
        assert "<" not in re.sub(r"</?(b|i|br|extra)>", "", raw) and "&lt;" in raw


def test_control_characters_are_removed_from_the_box(at):
    set_state(at, text="ab\x07cd\x1b")
    assert at.text_area(key="text").value == "abcd"
    assert at.info[0].value == "Invisible control characters were removed from the text."  # nothing was replaced
    assert "".join(chip_texts(spec(at, "tok_chips"))) == "abcd"


def test_a_lone_surrogate_is_replaced_not_a_traceback():
    """A browser cannot send one over the websocket; session state is the only way in, so test that."""
    at = open_page()
    at.session_state["text"] = "ab\ud800cd"
    at.run()
    assert not at.exception and not at.error
    assert at.text_area(key="text").value == "ab\ufffdcd"
    assert at.text_area(key="text").set_value("ok now").run().metric[0].value != ""
    assert not at.exception


def test_uploads_are_checked_and_a_bad_one_keeps_the_last_good_corpus(at):
    set_state(at, corpus="own")
    assert any("Upload a file or paste" in i.value for i in at.info)
    corpus = "the cat sat on the mat . the dog ran to the cat , and the cat ran away .\n" * 30
    at.file_uploader(key="corpus_upload").set_value(("animals.txt", corpus.encode(), "text/plain")).run()
    assert not at.error and not at.exception
    vocab_sizes = vocabulary_sizes(at)
    assert vocab_sizes["Word-level"] == 7 + len(set(corpus.split()))
    assert vocab_sizes["Character"] == 7 + len(set(corpus))

    bad_uploads = [
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG"),
        (b"caf\xe9 au lait", "UTF-8"),
        (b"ab\xed\xa0\x80cd", "UTF-8"),  # a lone surrogate, as CESU-8 would write it
        (b"a" * 1_000_001, "1,000,001 bytes; the limit is 1,000,000"),  # the upload bound, checked before decoding
        (b"ab " * 100_001, "300,003 characters; the limit is 300,000"),  # the corpus bound
        (b"\x00\x01\x02binary", "binary"),
    ]
    for data, words in bad_uploads:
        at.file_uploader(key="corpus_upload").set_value(("upload.txt", data, "text/plain")).run()
        assert not at.exception
        assert words in at.error[0].value
        assert any("last corpus that worked" in c.value for c in at.caption)
        assert vocabulary_sizes(at) == vocab_sizes

    at.file_uploader(key="corpus_upload").set_value(("animals.txt", corpus.encode(), "text/plain"))
    at.text_area(key="corpus_paste").set_value("red blue green red blue red")
    at.run()  # both given: the file counts, and the page says so
    assert vocabulary_sizes(at) == vocab_sizes
    assert any("The uploaded file is used, not the pasted text" in c.value for c in at.caption)
    at.file_uploader(key="corpus_upload").set_value(None)
    at.run()
    assert not at.error
    assert vocabulary_sizes(at)["Word-level"] == 7 + 3
    assert any("needs at least 5,000" in i.value for i in at.info)  # too small for the growth chart
    set_state(at)


def test_an_own_corpus_is_still_there_after_a_visit_to_another_page():
    def elsewhere_and_back(at: AppTest) -> AppTest:
        for url_path in ("masking", "tokenization"):  # two clicks in the sidebar
            at.query_params.clear()
            at._page_hash = calc_hash(url_path)
            at.run()
        return at

    at = open_page(corpus="own").run()
    at.text_area(key="corpus_paste").set_value("red blue green red blue red").run()
    sizes = vocabulary_sizes(at)
    elsewhere_and_back(at)
    assert at.radio(key="corpus").value == "own" and not at.exception and not at.error
    assert at.text_area(key="corpus_paste").value == "red blue green red blue red"
    assert vocabulary_sizes(at) == sizes

    corpus = "the cat sat on the mat . the dog ran to the cat .\n" * 10
    at.text_area(key="corpus_paste").set_value("")
    at.file_uploader(key="corpus_upload").set_value(("animals.txt", corpus.encode(), "text/plain")).run()
    sizes = vocabulary_sizes(at)
    elsewhere_and_back(at)  # a browser cannot hand an upload back to the page: the page says what it uses
    assert vocabulary_sizes(at) == sizes
    assert any(f"your uploaded file, {len(corpus):,} characters" in c.value for c in at.caption)


def test_characters_per_token_count_unknown_tokens_and_not_the_added_ones():
    at = open_page(tokenizer="word", vocab="30").run()  # a tiny vocabulary: most words are [UNK]
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["[UNK] tokens"]) > 0
    expected = f"{len(DEFAULT_TEXT) / int(metrics['Tokens']):.2f}"
    assert metrics["Characters per token"] == expected
    for mode in ("encoder", "decoder"):  # two more tokens each, the same text
        at.radio(key="specials").set_value(mode).run()
        assert {m.label: m.value for m in at.metric}["Characters per token"] == expected, mode


def test_vocabulary_search_finds_every_matching_token(at, bpe_hf):
    set_state(at)
    at.text_input(key="vocab_search").set_value("ing").run()
    assert at.query_params["vocab_search"] == "ing"  # in the link, and kept when the student comes back
    table = next(d.value for d in at.dataframe if "frequency" in d.value.columns)
    expected = {t.replace(" ", "▁") for t in bpe_hf.get_vocab() if "ing" in t.lower()}
    assert set(table["token"]) == expected and len(expected) > 5
    # frequency = how often the token occurs in the encoded corpus
    counts = Counter(bpe_hf.encode(prose_corpus(), add_special_tokens=False).tokens)
    row = table.sort_values("frequency").iloc[-1]
    assert row["frequency"] == counts[row["token"]]
    at.text_input(key="vocab_search").set_value("zzqq").run()  # nothing matches: said, not an empty table
    assert any("No token of the 2,000 contains “zzqq”" in i.value for i in at.info)
    assert not any("frequency" in d.value.columns for d in at.dataframe)
    at.text_input(key="vocab_search").set_value("").run()


# --- the link ---------------------------------------------------------------------------------------


def test_the_link_sets_every_control_and_a_bad_value_only_warns():
    at = open_page(text="the cats are running", corpus="synthetic", tokenizer="wordpiece", vocab="500",
                   merge="10", specials="encoder").run()
    assert not at.exception and not at.error
    assert at.text_area(key="text").value == "the cats are running"
    assert (at.radio(key="corpus").value, at.radio(key="tokenizer").value) == ("synthetic", "wordpiece")
    assert at.select_slider(key="vocab").value == 500 and at.slider(key="merge").value == 10
    assert chip_texts(spec(at, "tok_chips"))[0] == "[CLS]"
    assert any(c.value.startswith("merge 10:") for c in at.code)

    at = open_page(vocab="123", tokenizer="gpt5").run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "vocab" in warnings and "tokenizer" in warnings
    assert at.select_slider(key="vocab").value == 2000 and at.radio(key="tokenizer").value == "bpe"


def test_unknown_characters_that_draw_nothing_are_named_by_their_code_points(app_page):
    """A zero-width space would be an empty pair of quotes in the message, and a right-to-left override
    would turn the rest of the message around."""
    at = app_page("tokenization", text="the\u200bcat sat \u202eon the mat")
    [note] = [w.value.replace("\\", "") for w in at.warning if "[UNK]" in w.value]  # as Markdown shows it
    assert "“⟨U+200B⟩”" in note and "“⟨U+202E⟩”" in note
    assert "\u200b" not in note and "\u202e" not in note
    assert not at.exception


def test_a_link_with_a_right_to_left_override_is_quoted_by_code_point(app_page):
    at = app_page("tokenization", vocab="\u202e500")
    [warning] = [w.value.replace("\\", "") for w in at.warning if "`vocab`" in w.value]
    assert "“⟨U+202E⟩500”" in warning and "\u202e" not in warning


def test_right_to_left_words_in_the_unknown_list_are_isolated_from_its_punctuation(app_page):
    """Arabic words quoted among others: without isolation the browser runs their direction on into the quotes and
    commas around them, and the list reads “,”مرحبا بالعالم“”."""
    at = app_page("tokenization", text="مرحبا بالعالم café", tokenizer="word")
    [note] = [w.value for w in at.warning if "cannot spell" in w.value]
    assert "“\u2068مرحبا\u2069”, “\u2068بالعالم\u2069”, “café”" in note
    assert not at.exception
