"""The training loop and every objective: losses really fall, seeds repeat, stops are honoured."""

from __future__ import annotations

import random
import threading

import pytest
import torch

from llm_core import objectives as O
from llm_core.config import ModelConfig
from llm_core.model import Transformer
from llm_core.train import evaluate, run, train

V = 24  # ids 0..3 are special: 0 [PAD], 1 [BOS], 2 [EOS], 3 [MASK]
PAD, BOS, EOS, MASK = 0, 1, 2, 3


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models train fastest on one thread


def counting_rows(rng: torch.Generator, B: int = 16, T: int = 12) -> torch.Tensor:
    """Rows that count upwards (wrapping inside the normal ids): a pattern a tiny model learns fast."""
    start = torch.randint(4, V, (B, 1), generator=rng)
    return 4 + (start - 4 + torch.arange(T)) % (V - 4)  # (B, T)


def tiny(arch: str = "decoder", n_layer: int = 1, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(ModelConfig(vocab_size=V, block_size=16, n_layer=n_layer, n_head=2, n_embd=32, arch=arch))


def causal_batch(rng):
    return O.causal_lm_batch(counting_rows(rng))


def mlm_batch(rng):
    rows = torch.randint(4, V, (16, 1), generator=rng).expand(16, 12)  # one word repeated: the context gives it away
    return O.mask_tokens(rows, mask_id=MASK, vocab_size=V, rate=0.3, special_ids=[0, 1, 2, 3], generator=rng)


def reverse_batch(rng):
    rows = counting_rows(rng, T=6)
    return O.seq2seq_batch([(r.tolist(), r.flip(0).tolist()) for r in rows], pad_id=PAD, bos_id=BOS, eos_id=EOS)


def denoising_batch(rng):
    py_rng = random.Random(int(torch.randint(2**31, (1,), generator=rng)))
    return O.denoising_batch(counting_rows(rng, T=8).tolist(), py_rng, corruption="span infilling", mask_id=MASK,
                             pad_id=PAD, bos_id=BOS, eos_id=EOS)


def label_batch(rng):
    labels = torch.randint(0, 2, (16,), generator=rng)
    rows = torch.randint(4, 14, (16, 8), generator=rng) + 10 * labels[:, None]  # class 1 uses the high ids
    return O.classification_batch(rows.tolist(), labels.tolist(), pad_id=PAD)


def instruction_pairs(rng):
    prompts = counting_rows(rng, T=5)
    return [(p.tolist(), [int(p[0])] * 3 + [EOS]) for p in prompts]  # answer: repeat the first word


def instruction(rng):
    return O.instruction_batch(instruction_pairs(rng), pad_id=PAD)


def preference(rng):
    prompts = counting_rows(rng, T=4)
    return O.preference_batch([(p.tolist(), [5, 6, EOS], [7, 8, EOS]) for p in prompts], pad_id=PAD)


def lm_objective(arch, batch_fn, n_layer=1):
    return lambda: (tiny(arch, n_layer), batch_fn, O.language_model_loss)


OBJECTIVES = {
    "causal": (lm_objective("decoder", causal_batch), 60, 1e-2),
    "masked": (lm_objective("encoder", mlm_batch), 60, 1e-2),
    "seq2seq": (lm_objective("encoder-decoder", reverse_batch), 80, 1e-2),
    "denoise": (lm_objective("encoder-decoder", denoising_batch), 80, 1e-2),
    "classify": (lambda: (O.SequenceClassifier(tiny("encoder"), 2), label_batch, O.classification_loss), 30, 1e-2),
    "instruct": (lm_objective("decoder", instruction), 60, 1e-2),
}


@pytest.mark.parametrize("name", OBJECTIVES)
def test_each_objective_lowers_its_loss(name):
    make, steps, lr = OBJECTIVES[name]
    model, batch_fn, loss_fn = make()
    start = evaluate(model, [batch_fn(torch.Generator().manual_seed(99))], loss_fn)["loss"]
    curve = run(train(model, batch_fn, loss_fn, steps=steps, lr=lr))
    end = evaluate(model, [batch_fn(torch.Generator().manual_seed(99))], loss_fn)["loss"]
    assert len(curve) == steps and curve[-1].stop_reason == "steps"
    assert end < 0.6 * start, f"{name}: {start:.3f} -> {end:.3f}"
    assert not model.training  # handed back ready to use


def test_same_seed_gives_identical_losses_and_another_seed_does_not():
    def losses(seed):
        return [m.loss for m in train(tiny(), causal_batch, O.language_model_loss, steps=8, seed=seed)]

    first = losses(1)
    assert losses(1) == first
    assert losses(2) != first


def test_stops_when_asked_and_at_the_time_budget():
    stop = threading.Event()
    seen = []
    for m in train(tiny(), causal_batch, O.language_model_loss, steps=1000, stop=stop):
        seen.append(m)
        if m.step == 3:
            stop.set()
    assert seen[-1].stop_reason == "stopped" and seen[-1].step <= 4

    timed = run(train(tiny(), causal_batch, O.language_model_loss, steps=100_000, max_seconds=0.3))
    assert timed[-1].stop_reason == "time" and timed[-1].step < 100_000
    assert timed[-1].elapsed >= 0.3 and timed[-1].tokens_per_s > 0

    assert run(train(tiny(), causal_batch, O.language_model_loss, stop=lambda: True)) == []


def test_a_nan_loss_stops_with_a_message_and_leaves_the_weights_alone():
    model = tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def broken(model, batch):
        loss, extras = O.language_model_loss(model, batch)
        return loss * float("nan"), extras

    curve = run(train(model, causal_batch, broken, steps=10))
    assert len(curve) == 1 and curve[0].stop_reason == "nan" and "learning rate" in curve[0].error
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_validation_runs_at_the_first_every_nth_and_last_step():
    fixed = [causal_batch(torch.Generator().manual_seed(5))]
    curve = run(train(tiny(), causal_batch, O.language_model_loss, steps=7, eval_every=3,
                      eval_fn=lambda m: evaluate(m, fixed, O.language_model_loss)))
    assert [m.step for m in curve if m.val is not None] == [1, 3, 6, 7]
    assert curve[-1].val_loss < curve[0].val_loss and 0 <= curve[-1].val_accuracy <= 1


def test_instruction_loss_counts_only_answer_tokens():
    prompt, answer = [5, 6, 7, 8], [9, 10, EOS]
    batch = O.instruction_batch([(prompt, answer), ([5, 6], [11, EOS])], pad_id=PAD)
    row = prompt + answer
    assert batch["idx"][0].tolist() == row[:-1]
    graded = batch["targets"][0][batch["answer_mask"][0]].tolist()
    assert graded == answer  # exactly the answer, in order
    assert (batch["targets"][~batch["answer_mask"]] == O.IGNORE).all()  # prompt and padding never graded
    assert batch["targets"][1].tolist() == [O.IGNORE, 11, EOS, O.IGNORE, O.IGNORE, O.IGNORE]


def test_dpo_reward_margin_grows_and_the_reference_stays_put():
    model = tiny()
    reference = O.frozen_copy(model)
    ref_state = {k: v.clone() for k, v in reference.state_dict().items()}
    curve = run(train(model, preference, O.make_dpo_loss(reference, beta=0.5), steps=30, lr=3e-3))
    margins = [m.extras["reward_margin"] for m in curve]
    assert margins[0] == pytest.approx(0.0, abs=1e-6)  # policy == reference at the start
    assert margins[-1] > 1.0 and curve[-1].loss < 0.6 * curve[0].loss
    assert curve[-1].extras["reward_accuracy"] == 1.0
    assert all(torch.equal(ref_state[k], v) for k, v in reference.state_dict().items())


def test_mask_tokens_follows_bert_proportions_and_never_masks_special_tokens():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, V, (64, 64), generator=g)
    ids[:, 0], ids[:, -1] = BOS, PAD
    b = O.mask_tokens(ids, mask_id=MASK, vocab_size=V, rate=0.25, special_ids=[PAD, BOS, EOS, MASK], pad_id=PAD,
                      generator=g)
    chosen = b["targets"] != O.IGNORE
    assert chosen.float().mean().item() == pytest.approx(0.25 * 62 / 64, abs=0.02)
    assert not chosen[:, [0, -1]].any()
    kinds = b["corruption"][chosen]
    assert (kinds == 1).float().mean().item() == pytest.approx(0.8, abs=0.03)
    assert (kinds == 2).float().mean().item() == pytest.approx(0.1, abs=0.03)
    assert (b["idx"][b["corruption"] == 1] == MASK).all()
    assert (b["idx"][b["corruption"] == 3] == ids[b["corruption"] == 3]).all()
    assert (b["idx"][~chosen] == ids[~chosen]).all() and (b["targets"][chosen] == ids[chosen]).all()
    assert not b["attention_mask"][:, -1].any()


def sentences_of(tokens: list[str]) -> list[tuple[str, ...]]:
    return [tuple(s.split()) for s in " ".join(tokens).replace(" . ", " .|").split("|")]


def test_corruptions_are_pure_and_do_what_their_names_say():
    words = "the cat eats fish . the dog runs home . a red bird sings ."
    tokens = words.split()
    rng = random.Random(0)
    infilled = O.span_infilling(tokens, rng, mask="[MASK]", rate=0.3)
    assert "[MASK]" in infilled and len(infilled) < len(tokens)
    assert "[MASK] [MASK]" not in " ".join(infilled)  # one mask per span
    deleted = O.token_deletion(tokens, random.Random(1), rate=0.3)
    assert len(deleted) < len(tokens) and "[MASK]" not in deleted
    permuted = O.sentence_permutation(tokens, random.Random(3))
    assert permuted != tokens and sorted(sentences_of(permuted)) == sorted(sentences_of(tokens))
    rotated = O.document_rotation(tokens, random.Random(4))
    assert any(tokens[k:] + tokens[:k] == rotated for k in range(1, len(tokens)))
    masked = O.token_masking(tokens, random.Random(5), mask="[MASK]", rate=0.5)
    assert len(masked) == len(tokens) and "[MASK]" in masked
    assert tokens == words.split()  # the input was not touched
    assert O.span_infilling(tokens, random.Random(7), mask="M") == O.span_infilling(tokens, random.Random(7), mask="M")

    row = list(range(4, 14))
    batch = O.denoising_batch([row], random.Random(0), mask_id=MASK, pad_id=PAD, bos_id=BOS, eos_id=EOS, rate=0.4)
    assert batch["targets"][0].tolist() == [*row, EOS] and batch["idx"][0].tolist() == [BOS, *row]
    assert MASK in batch["src"][0].tolist() and len(batch["src"][0]) < len(row)  # spans became single masks


def test_linear_probe_trains_only_the_head():
    backbone = tiny("encoder")
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    probe = O.SequenceClassifier(backbone, 2, pooling="cls", freeze_backbone=True)
    curve = run(train(probe, label_batch, O.classification_loss, steps=5))
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())
    assert curve[-1].extras["accuracy"] >= 0
    probe.train()
    assert probe.head.training and not probe.backbone.training
