"""Tokenizers: vocabulary bounds, round trips, [UNK], MiniLM, and BPE and WordPiece against HF's own trainers."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models

from llm_core.data import prose_corpus, prose_paragraphs, synthetic_corpus, synthetic_sentences
from llm_core.tokenizers import (
    KINDS,
    SPECIAL_TOKENS,
    Tokenizer,
    bpe_merges,
    merge_counts,
    merge_word,
    minilm_tokenizer,
    oov_rate,
    replay_bpe,
    train_tokenizer,
    unknown_pieces,
    unknown_words,
    vocab_growth,
)

ODD_TEXTS = [
    "",
    " ",
    "   \n\t  ",
    "a",
    "The tokenizers are walking quickly, aren't they?",
    "  leading and trailing spaces  ",
    "two  spaces, three   spaces\n\nand a paragraph",
    "naïve café — “quoted” ‘text’ … 1,234.5%",
    "emoji 😀👩‍👩‍👧 and CJK 漢字かな and combining e\u0301 marks",
    "a [MASK] typed in, and [CLS] too",
    "tabs\tand\r\nwindows line ends",
    "ＦＵＬＬＷＩＤＴＨ and ½ ² ﬁ ligature",
    "x" * 300,
    "▁ the marker itself",
]


@pytest.fixture(scope="module")
def prose() -> str:
    return prose_corpus()


@pytest.fixture(scope="module")
def synthetic() -> str:
    return synthetic_corpus(100_000, seed=0)


@pytest.fixture(scope="module")
def bpe(prose) -> Tokenizer:
    return train_tokenizer("bpe", prose, 2000)


@pytest.fixture(scope="module")
def trained(prose) -> dict[str, Tokenizer]:
    return {kind: train_tokenizer(kind, prose, 800) for kind in KINDS}


# --- vocabulary and special tokens --------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("vocab_size", [9, 40, 120, 1500])
def test_vocab_size_is_respected(prose, kind, vocab_size):
    tok = train_tokenizer(kind, prose[:60_000], vocab_size, count_frequencies=False)
    assert tok.vocab_size <= vocab_size
    assert tok.vocab_size == len(tok.vocab) == len(tok.vocab_table())
    if vocab_size >= 120:
        assert tok.vocab_size >= 0.9 * vocab_size or kind == "char"  # the budget is used


@pytest.mark.parametrize("kind", KINDS)
def test_special_tokens_come_first_in_a_fixed_order(trained, kind):
    tok = trained[kind]
    assert tok.special_tokens == SPECIAL_TOKENS
    assert [tok.id_to_token(i) for i in range(7)] == ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[CLS]", "[SEP]", "[MASK]"]
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id, tok.cls_id, tok.sep_id, tok.mask_id) == tuple(range(7))
    assert tok.is_special("[MASK]") and not tok.is_special("the")
    table = tok.vocab_table()
    assert list(table.columns) == ["id", "token", "frequency", "special"]
    assert table["special"].sum() == 7 and list(table["id"]) == list(range(tok.vocab_size))


def test_training_is_the_same_in_every_process():
    """Checkpoints store a tokenizer, but retraining one must give the same ids too, so that a link to a
    page shows the same tokens after a restart. Hash-map order changes between processes (HF's own
    WordPiece trainer depends on it), so compare two fresh ones, at sizes where pairs tie."""
    script = """
import hashlib
from llm_core.data import prose_corpus, synthetic_corpus
from llm_core.tokenizers import train_tokenizer
for text in (prose_corpus()[:80_000], synthetic_corpus(30_000)):
    for kind, size in (("word", 300), ("char", None), ("bpe", 300), ("bpe", 1000), ("wordpiece", 300),
                       ("wordpiece", 2000)):
        print(kind, size, hashlib.sha256(train_tokenizer(kind, text, size).to_json().encode()).hexdigest())
"""
    root = Path(__file__).resolve().parents[2]
    runs = [subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]  # fmt: skip
    assert runs[0] == runs[1] and runs[0].count("\n") == 12


@pytest.mark.parametrize("size", [300, 1000])
def test_wordpiece_learns_the_vocabulary_hf_wordpiece_trainer_learns(prose, size):
    """The same algorithm as HF's trainer, only with ties broken the same way in every process: on
    sizes where no tie decides what is kept, the two vocabularies are equal."""
    from tokenizers import pre_tokenizers, trainers

    specials = list(SPECIAL_TOKENS.values())
    reference = HFTokenizer(models.WordPiece(unk_token="[UNK]"))
    reference.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=size, special_tokens=specials, limit_alphabet=(size - 7) // 2,
                                        show_progress=False)  # fmt: skip
    reference.train_from_iterator([prose], trainer)
    ours = train_tokenizer("wordpiece", prose, size)
    assert set(ours.vocab) == set(reference.get_vocab())
    for text in ["Tokenization of unbelievable words!", *prose_paragraphs()[:20]]:
        assert ours.encode(text).tokens == reference.encode(text, add_special_tokens=False).tokens


def test_too_small_or_unknown_requests_are_refused(prose):
    with pytest.raises(ValueError, match="at least 8"):
        train_tokenizer("bpe", prose, 7)
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        train_tokenizer("sentencepiece", prose, 100)
    with pytest.raises(ValueError, match="empty"):
        train_tokenizer("word", "  \n ", 100)


def test_word_frequencies_match_an_independent_count(synthetic):
    tok = train_tokenizer("word", synthetic)
    words = Counter(synthetic.split())
    for word in ["the", "cat", "eats", ".", ",", "anna"]:
        assert tok.frequencies[word] == words[word], word
    assert tok.vocab_size == len(words) + 7  # every distinct word, plus the special tokens


def test_special_tokens_wrap_single_texts_and_pairs(synthetic):
    tok = train_tokenizer("word", synthetic)
    single = tok.encode("the cat", add_special_tokens=True)
    assert single.tokens[0] == "[CLS]" and single.tokens[-1] == "[SEP]"
    assert single.special == [True] + [False] * (len(single) - 2) + [True]
    pair = tok.encode("the cat", pair="it is", add_special_tokens=True)
    assert pair.tokens.count("[SEP]") == 2 and pair.type_ids[-1] == 1 and pair.type_ids[1] == 0
    assert tok.decode(pair.ids) == "the cat it is"


# --- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_char_and_bpe_round_trip_exactly(prose, kind):
    """Every token is a literal piece of the text, so decoding is exact when nothing became [UNK]."""
    tok = train_tokenizer(kind, prose, 600)
    for text in [*random.Random(0).sample(prose_paragraphs(), 50), "two  spaces\n\n and a paragraph", prose[:5000]]:
        encoding = tok.encode(text)
        assert tok.unk_id not in encoding.ids
        assert tok.decode(encoding.ids) == text
        assert "".join(text[a:b] for a, b in encoding.offsets) == text


@pytest.mark.parametrize("kind", KINDS)
def test_word_level_kinds_round_trip_on_spaced_text(synthetic, kind):
    """Synthetic text has a space around every word and mark, so even word-level decoding is exact."""
    tok = train_tokenizer(kind, synthetic, 300)
    for line in synthetic_sentences(100, seed=9):
        ids = tok.encode(line).ids
        if kind == "wordpiece":  # the WordPiece decoder glues punctuation to the word before it
            assert tok.encode(tok.decode(ids)).ids == ids
        else:
            assert tok.decode(ids) == line


@pytest.mark.parametrize("kind", [*KINDS, "minilm"])
def test_empty_and_odd_text_never_crash(trained, kind):
    tok = minilm_tokenizer() if kind == "minilm" else trained[kind]
    for text in ODD_TEXTS:
        encoding = tok.encode(text)
        assert len(encoding.tokens) == len(encoding.ids) == len(encoding.offsets) == len(encoding.special)
        assert all(0 <= a <= b <= len(text) for a, b in encoding.offsets)
        tok.decode(encoding.ids)
    assert len(tok.encode("")) == 0 and tok.decode([]) == ""
    if kind in ("word", "wordpiece", "minilm"):
        assert len(tok.encode("   \n\t  ")) == 0


def test_unknown_words_become_unk_in_word_level(synthetic):
    tok = train_tokenizer("word", synthetic)
    encoding = tok.encode("the cat eats a xylophone near the zeppelin .")
    assert encoding.tokens == ["the", "cat", "eats", "a", "[UNK]", "near", "the", "[UNK]", "."]
    assert unknown_words(tok, "the cat eats a xylophone near the zeppelin .") == ["xylophone", "zeppelin"]
    assert oov_rate(tok, "the cat eats a xylophone") == pytest.approx(1 / 5)
    assert oov_rate(tok, "the cat eats") == 0.0 and oov_rate(tok, "") == 0.0
    # a subword tokenizer trained on the same text spells the new word out of pieces instead
    assert unknown_words(train_tokenizer("char", synthetic), "Zeppelin") == ["Zeppelin"]  # no capitals seen
    assert unknown_words(train_tokenizer("bpe", synthetic, 200), "blackbirds crocodile") == []


def test_an_unk_is_named_with_the_invisible_characters_it_covers(synthetic):
    """A zero-width space or a direction mark glued to a known word makes the whole piece [UNK]: the piece,
    not the known word inside it, is what the vocabulary lacks."""
    tok = train_tokenizer("word", synthetic)
    assert unknown_pieces(tok, "the cat eats") == []
    assert unknown_pieces(tok, "the \u202ecat eats\u202c fish") == ["\u202ecat", "eats\u202c"]
    assert unknown_pieces(tok, "ca\u200bt") == ["ca\u200bt"]  # one [UNK] over two words: named once
    assert unknown_pieces(tok, "ca\u200bt_zzz") == ["ca\u200bt_zzz"]  # and the [UNK]s after it, in its last word
    assert unknown_words(tok, "the cat\u200b eats") == ["cat\u200b"]


@pytest.mark.parametrize("kind", ["word", "bpe", "wordpiece"])
def test_unknown_pieces_name_every_unk_words_emoji_and_symbols_alike(synthetic, kind):
    tok = train_tokenizer(kind, synthetic, 300)
    text = "the cat ❤️ eats 👩‍👩‍👧 ‰ near café !"
    pieces = unknown_pieces(tok, text)
    assert "❤️" in pieces and "👩‍👩‍👧" in pieces and "‰" in pieces  # whole emoji: joiners and selectors too
    assert "café" in pieces and "cat" not in pieces  # a word that holds an [UNK] is named whole
    assert unknown_words(tok, text) == ["café"]  # only the words
    n_unk = tok.encode(text).ids.count(tok.unk_id)
    assert len(pieces) <= n_unk  # every piece stands for one [UNK] or more
    spans = [text[a:b] for i, (a, b) in zip(tok.encode(text).ids, tok.encode(text).offsets, strict=True)
             if i == tok.unk_id]
    assert all(any(span in piece for piece in pieces) for span in spans)  # and no [UNK] goes unnamed


def test_json_round_trip_keeps_everything(bpe):
    again = Tokenizer.from_json(bpe.to_json())
    assert again.kind == "bpe" and again.special_tokens == bpe.special_tokens
    assert again.frequencies == bpe.frequencies and again.vocab == bpe.vocab
    assert again.encode("The walking cats.").tokens == bpe.encode("The walking cats.").tokens
    assert json.loads(bpe.to_json())["kind"] == "bpe"


# --- subwords -----------------------------------------------------------------------------


def test_bpe_finds_the_endings_s_and_ing(prose):
    """On real prose, -s and -ing come out as tokens of their own, as the lecture says."""
    tok = train_tokenizer("bpe", prose, 1000)
    assert "s" in tok.vocab and "ing" in tok.vocab
    ing_words = sorted({w for w in re.findall(r"\b[a-z]{4,}ing\b", prose)})
    plurals = sorted({w for w in re.findall(r"\b[a-z]{4,}[^s]s\b", prose)})
    split_ing = sum(tok.encode(" " + w).tokens[-1] == "ing" for w in ing_words) / len(ing_words)
    split_s = sum(tok.encode(" " + w).tokens[-1] == "s" for w in plurals) / len(plurals)
    assert split_ing > 0.4 and split_s > 0.3


def test_wordpiece_marks_continuations(trained):
    tokens = trained["wordpiece"].encode("tokenization").tokens
    assert len(tokens) > 1 and not tokens[0].startswith("##") and all(t.startswith("##") for t in tokens[1:])


def test_minilm_tokenizer_is_the_real_one():
    tok = minilm_tokenizer()
    assert tok.kind == "minilm" and tok.vocab_size == 30_522
    assert tok.encode("tokenization").tokens == ["token", "##ization"]
    assert tok.encode("Hello", add_special_tokens=True).tokens == ["[CLS]", "hello", "[SEP]"]
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 100, 101, 102, 103)
    assert tok.bos_id is None and tok.eos_id is None
    assert len(tok.encode("word " * 300)) == 300  # no truncation to 128, no padding


def test_minilm_matches_the_transformers_tokenizer():
    transformers = pytest.importorskip("transformers")
    from llm_core.pretrained import minilm_dir

    reference = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    for text in ["The tokenizers are walking quickly.", "naïve café 漢字 😀", *prose_paragraphs()[:20]]:
        assert minilm_tokenizer().encode(text, add_special_tokens=True).ids == reference(text)["input_ids"]


# --- BPE merges, replayed by hand ---------------------------------------------------------


def test_merge_word_applies_the_lowest_rank_first():
    ranks = {("a", "b"): 0, ("b", "c"): 1, ("ab", "c"): 2}
    assert merge_word(list("abc"), ranks) == ["abc"]  # ab first (rank 0), then ab+c
    assert merge_word(list("bcab"), ranks) == ["bc", "ab"]
    assert merge_word(list("aaa"), {("a", "a"): 0}) == ["aa", "a"]  # left to right
    assert merge_word(list("xyz"), ranks) == ["x", "y", "z"]


def test_bpe_merges_are_the_trained_ones(bpe):
    merges = bpe_merges(bpe)
    assert len(merges) == len(set(merges)) == bpe.vocab_size - 7 - sum(len(t) == 1 for t in bpe.vocab)
    assert all(a + b in bpe.vocab for a, b in merges)
    with pytest.raises(ValueError, match="no BPE merges"):
        bpe_merges(minilm_tokenizer())


def test_replay_with_all_merges_equals_hf(bpe, prose, synthetic):
    texts = [*random.Random(1).sample(prose_paragraphs(), 200), *synthetic_sentences(200, seed=4), *ODD_TEXTS]
    merges = bpe_merges(bpe)
    for text in texts:
        ours, theirs = replay_bpe(bpe, text, merges=merges), bpe.encode(text)
        assert ours == theirs, text


def test_replay_on_synthetic_bpe(synthetic):
    tok = train_tokenizer("bpe", synthetic, 400)
    for text in [*synthetic_sentences(200, seed=11), *ODD_TEXTS]:
        assert replay_bpe(tok, text) == tok.encode(text), text


def hf_bpe_with_first(tok: Tokenizer, k: int) -> HFTokenizer:
    """HF's own BPE with the same vocabulary but only the first k merges: the independent reference."""
    partial = HFTokenizer(models.BPE(vocab=tok.vocab, merges=bpe_merges(tok)[:k], unk_token="[UNK]"))
    partial.normalizer, partial.pre_tokenizer = tok.hf.normalizer, tok.hf.pre_tokenizer
    return partial


@pytest.mark.parametrize("k", [0, 1, 2, 10, 100, 700, 1500])
def test_replay_after_k_merges_equals_hf_with_k_merges(bpe, k):
    reference = hf_bpe_with_first(bpe, k)
    for text in [*random.Random(2).sample(prose_paragraphs(), 60), *ODD_TEXTS[1:9]]:
        ours = replay_bpe(bpe, text, k)
        assert ours.tokens == reference.encode(text).tokens, text
        if k == 0:  # characters, spaces shown as ▁
            assert all(len(t) == 1 or t == "[UNK]" for t in ours.tokens)


def test_merge_counts_are_the_pair_counts_when_each_merge_was_learned(bpe, prose):
    """Checked with HF's BPE: tokenize the corpus with the first k merges, count the k-th pair,
    and check it was the most frequent pair then (which is how the trainer chose it)."""
    counts = merge_counts(bpe, prose)
    merges = bpe_merges(bpe)
    assert len(counts) == len(merges)
    assert all(a >= b for a, b in pairwise(counts)) and counts[-1] >= 1
    pieces = Counter(piece for piece, _ in bpe.pre_tokenize(prose))
    for k in [0, 1, 5, 50, 400, 1200, len(merges) - 1]:
        reference = hf_bpe_with_first(bpe, k).model
        pair_counts: Counter[tuple[str, str]] = Counter()
        for piece, n in pieces.items():
            for pair in pairwise(t.value for t in reference.tokenize(piece)):
                pair_counts[pair] += n
        assert counts[k] == pair_counts[merges[k]] == max(pair_counts.values()), k


# --- vocabulary growth --------------------------------------------------------------------


def test_vocab_growth_word_level_explodes_subwords_do_not(prose):
    table = vocab_growth(prose[:120_000], kinds=("word", "char", "bpe"), fractions=(0.1, 0.3, 1.0), bpe_vocab_size=500)
    assert set(table.columns) >= {"kind", "fraction", "chars", "words", "vocab_size", "oov_rate"}
    word, char, bpe = (table[table.kind == k].sort_values("fraction") for k in ("word", "char", "bpe"))
    assert word.vocab_size.is_monotonic_increasing and word.vocab_size.iloc[-1] > 3 * word.vocab_size.iloc[0] / 2
    assert (bpe.vocab_size <= 500).all() and (char.vocab_size < 150).all()
    assert word.oov_rate.iloc[0] > word.oov_rate.iloc[-1] > bpe.oov_rate.iloc[-1]
    distinct_words = len(set(re.findall(r"\w+|[^\w\s]", prose[: int(word.chars.iloc[-1])])))
    assert abs(word.vocab_size.iloc[-1] - 7 - distinct_words) < 0.05 * distinct_words
