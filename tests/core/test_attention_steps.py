"""The attention step-through against the model's own hooks, PyTorch's SDPA and Hugging Face BERT."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers

from llm_core.attention_steps import (
    attention_patterns,
    attention_steps,
    hide_positions,
    multi_head_output,
    record,
    scaling_demo,
)
from llm_core.config import ModelConfig
from llm_core.hooks import capture
from llm_core.model import Transformer

IDS = [3, 17, 5, 9, 22, 3, 41, 8]


def tiny(arch: str, norm: str) -> Transformer:
    torch.manual_seed(1)
    config = ModelConfig(vocab_size=50, block_size=16, n_layer=2, n_head=4, n_embd=32, arch=arch, norm=norm)
    return Transformer(config).eval()


@pytest.mark.parametrize(("arch", "norm"), [("decoder", "pre"), ("encoder", "post"), ("encoder", "none")])
def test_every_step_matches_the_hooks_and_sdpa(arch, norm):
    model = tiny(arch, norm)
    stack = "encoder" if arch == "encoder" else "decoder"
    layer, head = 1, 2
    with torch.no_grad(), capture(model, f"{stack}.blocks.{layer}.attn.*") as acts:
        model.hidden(torch.tensor([IDS]))
    s = attention_steps(model, IDS, layer, head)
    prefix = f"{stack}.blocks.{layer}.attn"
    for mine, hook in ((s.Q, "hook_q"), (s.K, "hook_k"), (s.V, "hook_v"), (s.weights, "hook_pattern"),
                       (s.output, "hook_z")):
        np.testing.assert_allclose(mine, acts[f"{prefix}.{hook}"][0, head].numpy(), atol=1e-5)
    np.testing.assert_allclose(s.scaled, acts[f"{prefix}.hook_scores"][0, head].numpy(), atol=1e-5)
    np.testing.assert_allclose(s.scaled, s.scores / np.sqrt(s.d_k), rtol=1e-6)
    # PyTorch's fused attention on the same Q, K, V gives the same output
    q, k, v = (torch.from_numpy(m)[None, None] for m in (s.Q, s.K, s.V))
    reference = F.scaled_dot_product_attention(q, k, v, is_causal=arch == "decoder")[0, 0].numpy()
    np.testing.assert_allclose(s.output, reference, atol=1e-5)
    assert s.max_difference < 1e-5
    np.testing.assert_allclose(s.weights.sum(axis=1), 1.0, atol=1e-6)
    if arch == "decoder":
        assert np.isneginf(s.masked[np.triu_indices(len(IDS), 1)]).all()
        assert (s.weights[np.triu_indices(len(IDS), 1)] == 0).all()
    # the head's slice of W_q really is the lecture's X @ W_q
    np.testing.assert_allclose(s.X @ s.W_q + s.b_q, s.Q, atol=1e-5)
    # from one recorded forward pass, any layer and head comes out the same without running the model again
    run = record(model, IDS)
    np.testing.assert_allclose(attention_steps(model, run, layer, head).output, s.output, atol=1e-6)
    np.testing.assert_allclose(run.patterns[layer, head], acts[f"{prefix}.hook_pattern"][0, head].numpy(), atol=1e-6)


def test_multi_head_output_is_the_layers_own_attention_output():
    model = tiny("decoder", "pre")
    with torch.no_grad(), capture(model, "decoder.blocks.0.hook_attn_out") as acts:
        model.hidden(torch.tensor([IDS]))
    mh = multi_head_output(model, IDS, 0)
    assert mh.concat.shape == (len(IDS), 32) and mh.W_o.shape == (32, 32)
    np.testing.assert_allclose(mh.output, acts["decoder.blocks.0.hook_attn_out"][0].numpy(), atol=1e-5)
    np.testing.assert_allclose(mh.concat[:, 8:16], mh.heads[1], atol=0)  # head 1's columns, in order


def test_bad_layer_head_or_length_is_refused_with_a_message():
    model = tiny("decoder", "pre")
    with pytest.raises(ValueError, match="layers 0 to 1"):
        attention_steps(model, IDS, 2, 0)
    with pytest.raises(ValueError, match="heads 0 to 3"):
        attention_steps(model, IDS, 0, 4)
    with pytest.raises(ValueError, match="at most 16"):
        attention_patterns(model, list(range(17)))


def test_scaling_keeps_the_spread_at_one_and_the_softmax_unsaturated():
    demo = scaling_demo([4, 64, 1024], n_keys=8, n_queries=512)
    for d, spread, scaled in zip(demo.d_k, demo.score_std, demo.scaled_score_std, strict=True):
        assert spread == pytest.approx(np.sqrt(d), rel=0.1)  # variance d_k: a sum of d_k unit products
        assert scaled == pytest.approx(1.0, rel=0.1)
    assert demo.max_weight[0] < demo.max_weight[1] < demo.max_weight[2] and demo.max_weight[2] > 0.9
    assert max(demo.scaled_max_weight) < 0.5


def test_hiding_tokens_renormalises_rows_and_reports_what_was_hidden():
    rng = np.random.default_rng(0)
    w = rng.random((2, 3, 5, 5))
    w /= w.sum(-1, keepdims=True)
    shown, hidden = hide_positions(w, [1, 2, 3])
    np.testing.assert_allclose(shown.sum(-1), 1.0)
    np.testing.assert_allclose(hidden, w[..., [1, 2, 3], :][..., [0, 4]].sum(-1))
    np.testing.assert_allclose(shown[0, 0, 0], w[0, 0, 1, 1:4] / w[0, 0, 1, 1:4].sum())


def test_minilm_patterns_equal_bert_attentions():
    from llm_core.pretrained import load_minilm, minilm_dir

    minilm = load_minilm()
    ids = minilm.tokenizer.encode("the cat is hungry , so it eats the fish .").ids
    mine = attention_patterns(minilm.model, ids)  # (6, 12, T, T)
    bert = transformers.BertModel.from_pretrained(str(minilm_dir()), attn_implementation="eager").eval()
    with torch.no_grad():
        theirs = bert(torch.tensor([ids]), output_attentions=True).attentions
    np.testing.assert_allclose(mine, torch.stack([a[0] for a in theirs]).numpy(), atol=1e-5)
    s = attention_steps(minilm.model, ids, 4, 7)
    np.testing.assert_allclose(s.weights, theirs[4][0, 7].numpy(), atol=1e-5)
