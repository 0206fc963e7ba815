"""Fine-tuning experiments: copies never touch the original, masks and metrics match independent computations."""

from __future__ import annotations

import pytest
import torch

from llm_core import finetune
from llm_core import objectives as O
from llm_core.config import ModelConfig
from llm_core.data import (
    SENTIMENT_LABELS,
    InstructionPair,
    instruction_pairs,
    instruction_split,
    preference_pairs,
    sentiment_examples,
    sentiment_rule,
    synthetic_corpus,
    word_class,
)
from llm_core.generate import sequence_probability
from llm_core.model import Transformer
from llm_core.tokenizers import train_tokenizer
from llm_core.train import TrainMetrics
from tests.model_digest import weights_hash

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models train fastest on one thread


@pytest.fixture(scope="module")
def tokenizer():
    texts = [synthetic_corpus(20_000)]
    texts += [f"{p.instruction} {p.answer}" for p in instruction_pairs()]
    texts += [f"{p.prompt} {p.chosen} {p.rejected}" for p in preference_pairs()]
    texts += [e.text for e in sentiment_examples(400)]
    return train_tokenizer("word", "\n".join(texts))


def tiny(tokenizer, arch: str, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=tokenizer.vocab_size, block_size=48, n_layer=2, n_head=2, n_embd=32, arch=arch)
    return Transformer(config).eval()




def metrics(step: int, done: bool = False) -> TrainMetrics:
    return TrainMetrics(step, 1.0, 0.1, 0.0, 0.0, stop_reason="steps" if done else None)


# --- plumbing -----------------------------------------------------------------------------


def test_interleave_takes_turns_and_drops_finished_runs():
    runs = {"a": iter([metrics(1), metrics(2, done=True), metrics(3)]), "b": iter([metrics(1), metrics(2), metrics(3)])}
    order = [(name, m.step) for name, m in finetune.interleave(runs)]
    assert order == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("b", 3)]  # "a" stops at its done step


def test_freeze_stops_exactly_the_named_parts(tokenizer):
    model = tiny(tokenizer, "decoder")
    assert finetune.backbone_parts(model) == ["embeddings", "block 1", "block 2"]
    n = finetune.freeze(model, ["embeddings", "block 2"])
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(name.startswith(("tok_emb", "pos_emb", "decoder.blocks.1.")) for name in frozen)
    assert any(name.startswith("decoder.blocks.0.") for name, p in model.named_parameters() if p.requires_grad)
    assert n == sum(p.numel() for p in [model.tok_emb.weight, model.pos_emb.weight,
                                        *model.decoder.blocks[1].parameters()])  # fmt: skip
    with pytest.raises(ValueError, match="block 7"):
        finetune.freeze(model, ["block 7"])


def test_classifiers_for_each_method_train_what_they_should(tokenizer):
    pretrained = tiny(tokenizer, "encoder")
    before = weights_hash(pretrained)
    scratch = finetune.make_classifier(pretrained, "scratch", 2, seed=1)
    probe = finetune.make_classifier(pretrained, "probe", 2, seed=1)
    full = finetune.make_classifier(pretrained, "full", 2, seed=1, frozen_parts=["block 1"])

    assert finetune.trainable_parameters(probe)[0] == 2 * 32 + 2  # the head alone: a linear probe
    assert not torch.equal(scratch.backbone.tok_emb.weight, pretrained.tok_emb.weight)  # fresh weights
    assert torch.equal(full.backbone.tok_emb.weight, pretrained.tok_emb.weight)
    assert full.backbone.tok_emb.weight is not pretrained.tok_emb.weight  # a copy, not the same tensor
    assert not any(p.requires_grad for p in full.backbone.encoder.blocks[0].parameters())
    assert all(p.requires_grad for p in full.backbone.encoder.blocks[1].parameters())
    train, val = finetune.sentiment_task(16)
    for _ in finetune.train_downstream({"s": scratch, "p": probe, "f": full}, tokenizer, train, val, steps=5):
        pass
    assert weights_hash(pretrained) == before  # the shared model never changes
    with pytest.raises(ValueError, match="unknown method"):
        finetune.make_classifier(pretrained, "magic", 2)


# --- 1. downstream task -------------------------------------------------------------------


@pytest.mark.parametrize("n", [8, 9, 64])
def test_sentiment_task_is_balanced_labelled_by_the_rule_and_disjoint_from_validation(n):
    train, val = finetune.sentiment_task(n, seed=3)
    assert len(train) == n and abs(sum(e.label for e in train) - n / 2) <= 0.5
    assert all(sentiment_rule(e.text) == e.label for e in train + val)
    assert not {e.text for e in train} & {e.text for e in val}
    assert val == finetune.sentiment_task(2 * n, seed=5)[1]  # one fixed validation set for every run


@pytest.mark.parametrize("n", [8, 10, 96])
def test_topic_task_is_balanced_labelled_by_the_noun_and_disjoint_from_validation(n):
    train, val, names = finetune.labelled_task("topic", n, seed=2)
    assert names == ("animal", "food", "place") and len(train) == n
    assert max(counts := [sum(e.label == k for e in train) for k in range(3)]) - min(counts) <= 1
    for e in train + val:  # the only animal, food or place word in the sentence is of the labelled kind
        kinds = {word_class(w) for w in e.text.split()} & {"animal", "food", "place"}
        assert kinds == {names[e.label]}, e
    assert not {e.text for e in train} & {e.text for e in val}
    assert val == finetune.labelled_task("topic", 3 * n, seed=7)[1]


def test_own_examples_are_parsed_and_split_per_label():
    text = "Positive: the cake was lovely\n\nnegative : the soup was cold\npositive: a nice dog\nnegative: bad bread"
    examples, names = finetune.parse_labelled_lines(text)
    assert names == SENTIMENT_LABELS  # the usual order, whatever order they were written in
    assert [(e.text, e.label) for e in examples] == [
        ("the cake was lovely", 1), ("the soup was cold", 0), ("a nice dog", 1), ("bad bread", 0),
    ]  # fmt: skip
    train, val = finetune.split_own_examples(examples)
    assert {e.label for e in train} == {e.label for e in val} == {0, 1}
    assert sorted(train + val, key=examples.index) == examples

    lines = "animal: cat\nfood: cake\nanimal: dog\nfood: soup\ncolor: red\ncolor: blue"
    animals, names = finetune.parse_labelled_lines(lines)
    assert names == ("animal", "food", "color") and [e.label for e in animals] == [0, 1, 0, 1, 2, 2]


def test_a_sentence_written_twice_is_never_both_trained_on_and_held_out():
    lines = ["positive: the cake was lovely", "positive: the cake was lovely", "positive: a nice dog",
             "negative: the bread was stale", "Negative: The bread was stale", "negative: bad soup",
             "negative: bad soup", "negative: a cold day"]
    train, val = finetune.split_own_examples(finetune.parse_labelled_lines("\n".join(lines))[0])
    assert not {e.text for e in train} & {e.text for e in val}
    assert len(val) == len({(e.text, e.label) for e in val})  # each held-out sentence scored once
    assert {e.label for e in train} == {e.label for e in val} == {0, 1}
    assert sorted(e.text for e in val) == ["a cold day", "a nice dog"]  # the last different sentence of each label
    assert len(train) == 6  # every copy of the others


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no examples"),
        ("   \n \n", "no examples"),
        ("positive: nice\nthe soup was cold", "line 2"),
        ("positive: nice\n: the soup", "line 2"),
        ("positive: nice cake\npositive: lovely dog", "at least two different labels"),
        ("a: x\nb: y\nc: z\nd: w\ne: v\na: x\nb: y\nc: z\nd: w\ne: v", "limit is 4"),
        ("positive: nice\nnegative: bad\npositive: lovely", "only one example"),
        ("positive: nice\nnegative: bad\npositive: lovely\nnegative: BAD", "label “negative” has only one example"),
        ("positive: nice\npositive: fine\nnegative: fine\nnegative: bad", "“fine” has two labels, “negative” and"),
        ("positive: nice\n\nnegative: bad\n\n\nnegative the soup", r"line 6 \(“negative the soup”\)"),  # as on screen
        ("positive: nice\n" + "x" * 50, "line 2 \\(“" + "x" * 40 + "…”\\)"),
    ],
)
def test_bad_own_examples_get_a_sentence_saying_what_to_change(text, message):
    with pytest.raises(ValueError, match=message):
        finetune.parse_labelled_lines(text)


def test_downstream_runs_repeat_with_a_seed_and_learn(tokenizer):
    pretrained = tiny(tokenizer, "encoder")
    train, val = finetune.sentiment_task(64, n_val=64)

    def curves(seed: int, steps: int = 30) -> dict[str, list[float]]:
        classifiers = {m: finetune.make_classifier(pretrained, m, 2, seed=seed) for m in ("scratch", "full")}
        out: dict[str, list[float]] = {}
        for name, m in finetune.train_downstream(classifiers, tokenizer, train, val, steps=steps, lr=3e-3, seed=seed):
            out.setdefault(name, []).append(m.loss)
        return out

    first, second = curves(0), curves(0)
    assert first == second  # the same seed gives the same curves
    assert first["full"][:3] != curves(1, steps=3)["full"]
    for losses in first.values():
        assert len(losses) == 30
        assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5  # training lowers the loss


def test_classify_gives_one_probability_row_per_sentence(tokenizer):
    clf = finetune.make_classifier(tiny(tokenizer, "encoder"), "full", 3)
    probs = finetune.classify(clf, tokenizer, ["the cat was happy .", "The SOUP was bad", "zebra quantum"])
    assert len(probs) == 3 and all(len(p) == 3 and abs(sum(p) - 1) < 1e-5 for p in probs)
    assert finetune.classify(clf, tokenizer, []) == []


# --- 2. instruction tuning ----------------------------------------------------------------


def test_the_answer_mask_covers_the_answer_and_end_token_only(tokenizer):
    pair = InstructionPair("what does the fox eat ?", "eggs", "eats")
    shown = finetune.masked_example(tokenizer, pair)
    words = ["[BOS]", "what", "does", "the", "fox", "eat", "?", "eggs", "[EOS]"]  # written out by hand
    assert shown.inputs == words[:-1]
    assert shown.targets == words[1:]
    assert shown.counted == [False] * 6 + [True, True]  # "?" -> eggs and eggs -> [EOS]


def test_exact_match_in_one_pass_agrees_with_greedy_generation(tokenizer):
    pairs = instruction_pairs()[:24]
    model = tiny(tokenizer, "decoder")
    assert finetune.exact_match_rate(model, tokenizer, pairs) == 0.0
    for _ in finetune.train_instructions(model, tokenizer, pairs, pairs[:4], steps=60, lr=1e-2, batch_size=24):
        pass
    generated = [finetune.answer(model, tokenizer, p.instruction) for p in pairs]
    by_generation = sum(g == p.answer for g, p in zip(generated, pairs, strict=True)) / len(pairs)
    assert by_generation > 0  # some answers right, so the comparison below means something
    assert finetune.exact_match_rate(model, tokenizer, pairs) == pytest.approx(by_generation)


def test_instruction_tuning_validates_on_held_out_questions(tokenizer):
    train_pairs, val_pairs = instruction_split()
    model = tiny(tokenizer, "decoder")
    steps = list(finetune.train_instructions(model, tokenizer, train_pairs, val_pairs, steps=20, eval_every=10))
    assert [m.step for m in steps if m.val] == [1, 10, 20]
    assert set(steps[-1].val) >= {"loss", "accuracy", "exact_match"}
    assert steps[-1].val["loss"] < steps[0].val["loss"]


# --- 3. preference tuning -----------------------------------------------------------------


def test_preference_split_holds_out_both_kinds():
    train, test = finetune.preference_split()
    assert {p.kind for p in test} == {p.kind for p in train} == {"polite", "safe"}
    assert not set(train) & set(test) and len(train) + len(test) == len(preference_pairs())


def test_preference_scores_are_chain_rule_log_probabilities(tokenizer):
    model = tiny(tokenizer, "decoder")
    pairs = preference_pairs()[:3]
    for pair, score in zip(pairs, finetune.preference_scores(model, tokenizer, pairs), strict=True):
        prompt = finetune.prompt_ids(tokenizer, pair.prompt)
        for answer, logprob in ((pair.chosen, score.chosen_logprob), (pair.rejected, score.rejected_logprob)):
            whole = sequence_probability(model, prompt + finetune.answer_ids(tokenizer, answer))
            assert logprob == pytest.approx(sum(torch.tensor(whole.token_probs[len(prompt) - 1 :]).log().tolist()),
                                            abs=1e-4)  # fmt: skip


def test_dpo_raises_the_held_out_margin_and_it_matches_the_reported_one(tokenizer):
    policy = tiny(tokenizer, "decoder")
    reference = O.frozen_copy(policy)
    train, val = finetune.preference_split()
    before = finetune.preference_scores(reference, tokenizer, val)
    assert finetune.reward_margins(finetune.preference_scores(policy, tokenizer, val), before, 0.1) == pytest.approx(
        [0.0] * len(val), abs=1e-5
    )  # the policy starts as its reference
    steps = list(finetune.train_preferences(policy, reference, tokenizer, train, val, beta=0.1, steps=30, lr=3e-3))
    assert steps[-1].loss < steps[0].loss
    margins = finetune.reward_margins(finetune.preference_scores(policy, tokenizer, val), before, 0.1)
    assert sum(margins) / len(margins) == pytest.approx(steps[-1].val["reward_margin"], abs=1e-4)
    assert steps[-1].val["reward_margin"] > 0
    assert finetune.preference_scores(reference, tokenizer, val) == before  # the reference stayed frozen
