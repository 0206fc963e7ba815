"""Generation: the KV cache changes nothing but speed, filters keep what they promise, seeds repeat,
and the chain rule agrees with a step-by-step computation."""

from __future__ import annotations

import math

import pytest
import torch

from llm_core.config import ModelConfig
from llm_core.generate import filter_logits, generate, greedy_batch, next_token_distribution, sequence_probability
from llm_core.model import Transformer

V = 40


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models train fastest on one thread


def opinionated(arch: str = "decoder", seed: int = 0) -> Transformer:
    """Random weights large enough that the next-token distribution is far from uniform and varies."""
    torch.manual_seed(seed)
    model = Transformer(ModelConfig(vocab_size=V, block_size=48, n_layer=2, n_head=2, n_embd=32, arch=arch))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.35)
    return model.eval()


@pytest.mark.parametrize("arch", ["decoder", "encoder-decoder"])
def test_greedy_is_the_same_with_and_without_the_kv_cache(arch):
    model = opinionated(arch)
    src = {"src": [5, 9, 13, 2, 7]} if arch == "encoder-decoder" else {}
    cached = generate(model, [1, 4], 30, greedy=True, **src)
    recomputed = generate(model, [1, 4], 30, greedy=True, use_cache=False, **src)
    assert cached.tokens == recomputed.tokens
    assert len(set(cached.tokens)) > 3  # a real test: the continuation is not one repeated token
    for a, b in zip(cached.steps, recomputed.steps, strict=True):
        torch.testing.assert_close(a.raw_probs, b.raw_probs, atol=1e-5, rtol=1e-4)


def test_top_k_never_picks_outside_the_k_most_likely_and_probabilities_sum_to_one():
    model = opinionated()
    for seed in range(3):
        out = generate(model, [1], 40, top_k=3, temperature=1.5, seed=seed)
        for step in out.steps:
            assert step.token in torch.topk(step.raw_probs, 3).indices.tolist()
            assert (step.probs > 0).sum() <= 3
            assert step.probs.sum().item() == pytest.approx(1.0, abs=1e-5)
            assert step.raw_probs.sum().item() == pytest.approx(1.0, abs=1e-5)
            assert step.prob == pytest.approx(step.probs[step.token].item())


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    assert (filter_logits(logits, top_p=0.7) > 0).tolist() == [True, True, False, False]
    assert (filter_logits(logits, top_p=0.5) > 0).tolist() == [True, False, False, False]
    torch.testing.assert_close(filter_logits(logits, top_p=0.9), torch.tensor([0.5, 0.3, 0.15, 0]) / 0.95)


def test_temperature_sharpens_and_flattens():
    logits = torch.tensor([2.0, 1.0, 0.0])
    cold, warm = filter_logits(logits, temperature=0.5), filter_logits(logits, temperature=2.0)
    assert cold[0] > filter_logits(logits)[0] > warm[0]
    torch.testing.assert_close(cold, torch.softmax(logits / 0.5, -1))


def test_a_seed_makes_sampling_reproducible():
    model = opinionated()
    a = generate(model, [1, 2], 25, top_p=0.9, seed=7)
    b = generate(model, [1, 2], 25, top_p=0.9, seed=7)
    c = generate(model, [1, 2], 25, top_p=0.9, seed=8)
    assert a.tokens == b.tokens and a.tokens != c.tokens


def test_generation_stops_at_a_stop_token_and_at_the_context_length():
    model = opinionated()
    free = generate(model, [1], 10, greedy=True)
    stop_at = free.tokens[4]
    stopped = generate(model, [1], 10, greedy=True, stop_ids=[stop_at])
    assert stopped.tokens == free.tokens[: free.tokens.index(stop_at) + 1] and stopped.stop_reason == "stop_token"
    long = generate(model, [1] * 40, 50, greedy=True)
    assert len(long.ids) == 48 and long.stop_reason == "block_size"


def manual_softmax(logits: torch.Tensor) -> torch.Tensor:
    e = torch.exp(logits.double() - logits.double().max())
    return e / e.sum()


@pytest.mark.parametrize("arch", ["decoder", "encoder-decoder"])
def test_sequence_probability_is_the_product_of_step_probabilities(arch):
    model = opinionated(arch, seed=1)
    src = {"src": torch.tensor([[6, 7, 8]])} if arch == "encoder-decoder" else {}
    ids = [1, 12, 30, 7, 7, 21, 3]
    expected = []
    for t in range(1, len(ids)):  # one full forward pass per prefix, no cache, manual softmax
        logits, _ = model(torch.tensor([ids[:t]]), **src)
        expected.append(manual_softmax(logits[0, -1])[ids[t]].item())
    result = sequence_probability(model, ids, src=src.get("src"))
    assert result.token_probs == pytest.approx(expected, rel=1e-5)
    assert result.prob == pytest.approx(math.prod(expected), rel=1e-5)
    assert result.log_prob == pytest.approx(sum(math.log(p) for p in expected), rel=1e-6)


def test_generation_records_the_same_probabilities_the_chain_rule_uses():
    model = opinionated()
    out = generate(model, [1, 5], 12, temperature=1.0, seed=3)
    chain = sequence_probability(model, out.ids)
    assert chain.token_probs[1:] == pytest.approx([s.raw_prob for s in out.steps], rel=1e-4)


def test_next_token_distribution_matches_the_first_generation_step():
    model = opinionated()
    dist = next_token_distribution(model, [1, 5, 9], top_k=5)
    step = generate(model, [1, 5, 9], 1, top_k=5, seed=0).steps[0]
    torch.testing.assert_close(dist, step.probs, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("arch", ["decoder", "encoder-decoder"])
def test_greedy_batch_matches_one_prompt_at_a_time(arch):
    model = opinionated(arch, seed=2)
    prompts = [[1, 4], [1, 9, 9, 30, 2], [1]]
    srcs = [[5, 6, 7], [8, 9], [10, 11, 12, 13]] if arch == "encoder-decoder" else None
    stop = generate(model, prompts[1], 3, greedy=True, src=srcs and srcs[1]).tokens[-1]  # one row stops early
    batch = greedy_batch(model, prompts, 12, pad_id=0, stop_id=stop, srcs=srcs)
    for i, prompt in enumerate(prompts):
        single = generate(model, prompt, 12, greedy=True, stop_ids=[stop], src=srcs and srcs[i])
        assert batch[i] == single.tokens
    assert batch[1][-1] == stop and len(batch[1]) <= 3


def test_extreme_filters_keep_the_most_likely_token_or_refuse_clearly():
    logits = torch.tensor([0.1, 3.0, -1.0])
    assert filter_logits(logits, top_p=0.0).tolist() == [0.0, 1.0, 0.0]
    assert filter_logits(logits, top_k=1).tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="top_k"):
        filter_logits(logits, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        filter_logits(logits, temperature=0.0)
