"""The Transformer against its definition and against independent implementations."""

import pytest
import torch
import torch.nn.functional as F
import transformers

from llm_core.config import ModelConfig
from llm_core.hooks import HookPoint, capture, hook_names
from llm_core.masks import causal_mask, padding_mask
from llm_core.model import Attention, Transformer
from llm_core.params import parameter_count

ARCHS = ["encoder", "decoder", "encoder-decoder"]


def tiny(**kw) -> ModelConfig:
    return ModelConfig(**{"vocab_size": 50, "block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32, **kw})


@pytest.mark.parametrize("arch", ARCHS)
def test_output_shapes(arch):
    torch.manual_seed(0)
    model = Transformer(tiny(arch=arch)).eval()
    idx = torch.randint(0, 50, (3, 7))
    src = torch.randint(0, 50, (3, 11)) if arch == "encoder-decoder" else None
    logits, loss = model(idx, idx, src=src)
    assert logits.shape == (3, 7, 50)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert model.hidden(idx, src=src).shape == (3, 7, 32)


def test_pinned_parameter_counts():
    # Decoder, vocab V=50, block 16, C=32, 2 layers, tied head:
    #   token embedding 50*32 = 1,600; positions 16*32 = 512
    #   per block: 2 layer norms 2*(32+32) = 128; attention 4*(32*32+32) = 4,224;
    #              MLP 32*128+128 + 128*32+32 = 8,352  -> 12,704; two blocks 25,408
    #   final layer norm 64                                       -> 27,584
    assert parameter_count(tiny()) == 27_584
    # Encoder-decoder adds an encoder stack (25,408 + 64) and, per decoder block,
    # a cross-attention with its layer norm (4,224 + 64): 27,584 + 25,472 + 2*4,288 = 61,632.
    assert parameter_count(tiny(arch="encoder-decoder")) == 61_632
    # Untied head: + 32*50 = 1,600.
    assert parameter_count(tiny(tie_weights=False)) == 29_184


def test_gpt2_small_parameter_count():
    gpt2 = ModelConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)
    assert parameter_count(gpt2) == 124_439_808


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("norm", ["pre", "post", "none"])
@pytest.mark.parametrize("pos", ["learned", "sinusoidal", "none"])
@pytest.mark.parametrize("tie", [True, False])
def test_parameter_count_matches_the_built_model(arch, norm, pos, tie):
    config = tiny(arch=arch, norm=norm, pos=pos, tie_weights=tie, n_token_types=2 * (arch == "encoder"),
                  embed_norm=norm == "post", bias=norm != "none")
    model = Transformer(config)
    assert parameter_count(config) == sum(p.numel() for p in model.parameters())


def test_decoder_pattern_is_causal_and_rows_sum_to_one():
    torch.manual_seed(0)
    model = Transformer(tiny()).eval()
    with capture(model, "*.attn.hook_pattern") as acts:
        model(torch.randint(0, 50, (2, 9)))
    assert len(acts) == 2
    for weights in acts.values():  # (B, H, T, T)
        above = torch.triu(torch.ones(9, 9, dtype=torch.bool), diagonal=1)
        assert torch.all(weights[..., above] == 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 9))


def test_padded_keys_get_zero_weight():
    torch.manual_seed(0)
    model = Transformer(tiny(arch="encoder")).eval()
    idx = torch.randint(0, 50, (2, 6))
    is_token = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    with capture(model, "*hook_pattern") as acts:
        model(idx, attention_mask=is_token)
    for weights in acts.values():
        assert torch.all(weights[1, :, :, 3:] == 0)
        assert torch.all(weights[0] > 0)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6))


def test_padding_does_not_change_real_tokens():
    torch.manual_seed(0)
    model = Transformer(tiny(arch="encoder")).eval()
    idx = torch.randint(0, 50, (1, 4))
    padded = torch.cat([idx, torch.zeros(1, 3, dtype=torch.long)], dim=1)
    alone = model.hidden(idx)
    with_pad = model.hidden(padded, attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0, 0]]))
    torch.testing.assert_close(with_pad[:, :4], alone)


@pytest.mark.parametrize("masked", ["none", "causal", "padding"])
def test_attention_equals_torch_sdpa(masked):
    torch.manual_seed(0)
    config = tiny()
    attn = Attention(config).eval()
    x = torch.randn(2, 7, 32)
    mask = {"none": None, "causal": causal_mask(7),
            "padding": padding_mask(torch.tensor([[1] * 7, [1] * 4 + [0] * 3]))}[masked]
    with capture(attn, "hook_pattern") as acts:  # listening forces the written-out path
        ours = attn(x, mask=mask)
    assert "hook_pattern" in acts

    def heads(t):
        return t.view(2, 7, 4, 8).transpose(1, 2)

    q, k, v = heads(attn.W_q(x)), heads(attn.W_k(x)), heads(attn.W_v(x))
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ref = attn.W_o(ref.transpose(1, 2).reshape(2, 7, 32))
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-5)


def test_decoder_matches_transformers_gpt2():
    hf_config = transformers.GPT2Config(vocab_size=61, n_positions=24, n_embd=48, n_layer=3, n_head=4,
                                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(hf_config).eval()
    ours = Transformer(ModelConfig(vocab_size=61, block_size=24, n_layer=3, n_head=4, n_embd=48,
                                   activation="gelu_tanh")).eval()
    sd = hf.state_dict()
    w = {"tok_emb.weight": sd["transformer.wte.weight"], "pos_emb.weight": sd["transformer.wpe.weight"],
         "decoder.ln_f.weight": sd["transformer.ln_f.weight"], "decoder.ln_f.bias": sd["transformer.ln_f.bias"]}
    for i in range(3):
        h, b = f"transformer.h.{i}.", f"decoder.blocks.{i}."
        # GPT-2 stores Linear weights transposed (Conv1D) and Q, K, V side by side in c_attn.
        for name, part in zip(("W_q", "W_k", "W_v"), sd[h + "attn.c_attn.weight"].split(48, dim=1), strict=True):
            w[b + f"attn.{name}.weight"] = part.T
        for name, part in zip(("W_q", "W_k", "W_v"), sd[h + "attn.c_attn.bias"].split(48), strict=True):
            w[b + f"attn.{name}.bias"] = part
        w[b + "attn.W_o.weight"], w[b + "attn.W_o.bias"] = sd[h + "attn.c_proj.weight"].T, sd[h + "attn.c_proj.bias"]
        w[b + "mlp.W_1.weight"], w[b + "mlp.W_1.bias"] = sd[h + "mlp.c_fc.weight"].T, sd[h + "mlp.c_fc.bias"]
        w[b + "mlp.W_2.weight"], w[b + "mlp.W_2.bias"] = sd[h + "mlp.c_proj.weight"].T, sd[h + "mlp.c_proj.bias"]
        for ln in ("ln_1", "ln_2"):
            w[b + f"{ln}.weight"], w[b + f"{ln}.bias"] = sd[h + f"{ln}.weight"], sd[h + f"{ln}.bias"]
    ours.load_state_dict(w, strict=False)  # lm_head.weight is tied to tok_emb.weight
    assert ours.lm_head.weight is ours.tok_emb.weight
    idx = torch.randint(0, 61, (2, 24))
    with torch.no_grad():
        diff = (ours(idx)[0] - hf(idx).logits).abs().max().item()
    assert diff < 1e-5


@pytest.mark.parametrize("arch", ARCHS)
def test_fused_path_equals_the_written_out_path(arch):
    torch.manual_seed(0)
    model = Transformer(tiny(arch=arch)).eval()
    idx, src = torch.randint(0, 50, (2, 9)), torch.randint(0, 50, (2, 6))
    mask = torch.tensor([[1] * 9, [1] * 5 + [0] * 4])
    fused = model(idx, src=src, attention_mask=mask)[0]
    with capture(model, "*hook_pattern"):
        written_out = model(idx, src=src, attention_mask=mask)[0]
    torch.testing.assert_close(fused, written_out, atol=1e-5, rtol=1e-5)


def test_kv_cache_decoding_equals_full_forward():
    torch.manual_seed(0)
    model = Transformer(tiny()).eval()
    idx = torch.randint(0, 50, (2, 10))
    full = model(idx)[0]
    cache = model.new_cache()
    steps = [model(idx[:, :4], cache=cache)[0]] + [model(idx[:, t : t + 1], cache=cache)[0] for t in range(4, 10)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


# The hook names are public API: pages and tests address activations by them.
PINNED_DECODER_BLOCK_HOOKS = [
    "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_scores", "attn.hook_masked_scores",
    "attn.hook_pattern", "attn.hook_z", "hook_resid_pre", "hook_resid_mid", "hook_attn_out",
    "hook_mlp_out", "hook_resid_post",
]
PINNED_CROSS_HOOKS = [
    "cross_attn.hook_q", "cross_attn.hook_k", "cross_attn.hook_v", "cross_attn.hook_scores",
    "cross_attn.hook_masked_scores", "cross_attn.hook_pattern", "cross_attn.hook_z",
    "hook_cross_out", "hook_resid_cross",
]
STACK_HOOKS = ["hook_embed", "hook_pos", "hook_input"]


def test_hook_names_are_pinned():
    names = set(hook_names(Transformer(tiny(n_layer=1))))
    expected = {f"decoder.{h}" for h in STACK_HOOKS} | {f"decoder.blocks.0.{h}" for h in PINNED_DECODER_BLOCK_HOOKS}
    assert names == expected
    names = set(hook_names(Transformer(tiny(n_layer=1, arch="encoder-decoder"))))
    expected = {f"{s}.{h}" for s in ("encoder", "decoder") for h in STACK_HOOKS}
    expected |= {f"{s}.blocks.0.{h}" for s in ("encoder", "decoder") for h in PINNED_DECODER_BLOCK_HOOKS}
    expected |= {f"decoder.blocks.0.{h}" for h in PINNED_CROSS_HOOKS}
    assert names == expected


def test_capture_returns_every_activation_and_leaves_no_hook():
    torch.manual_seed(0)
    model = Transformer(tiny(arch="encoder-decoder")).eval()
    idx, src = torch.randint(0, 50, (1, 5)), torch.randint(0, 50, (1, 8))
    with capture(model) as acts:
        model(idx, src=src)
    assert set(acts) == set(hook_names(model))
    assert acts["decoder.blocks.1.cross_attn.hook_pattern"].shape == (1, 4, 5, 8)
    assert acts["encoder.blocks.0.attn.hook_q"].shape == (1, 4, 8, 8)
    assert acts["decoder.hook_pos"].shape == (5, 32)
    masked = acts["decoder.blocks.0.attn.hook_masked_scores"][0, 0]
    assert torch.isinf(masked[0, 1]) and masked[0, 1] < 0
    assert all(not m._forward_hooks for m in model.modules() if isinstance(m, HookPoint))


def test_capture_records_only_its_own_thread():
    import threading

    torch.manual_seed(0)
    model = Transformer(tiny()).eval()
    mine, theirs = torch.randint(0, 50, (1, 5)), torch.randint(0, 50, (1, 9))
    with capture(model, "*.hook_pattern") as acts:
        other = threading.Thread(target=lambda: model(theirs))  # another session, same shared model
        other.start()
        other.join()
        assert acts == {}
        model(mine)
    assert acts["decoder.blocks.0.attn.hook_pattern"].shape == (1, 4, 5, 5)


def test_no_residual_and_no_norm_variants_still_run():
    torch.manual_seed(0)
    for config in (tiny(residual=False), tiny(norm="none"), tiny(norm="post", pos="sinusoidal")):
        logits, loss = Transformer(config)(torch.randint(0, 50, (2, 5)), torch.randint(0, 50, (2, 5)))
        assert torch.isfinite(loss)


def test_sequence_longer_than_block_size_is_refused():
    with pytest.raises(ValueError, match="block_size"):
        Transformer(tiny())(torch.zeros(1, 17, dtype=torch.long))


def test_config_validates():
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(n_embd=30, n_head=4)
    assert tiny() == ModelConfig.from_dict(tiny().to_dict())
    assert hash(tiny()) == hash(tiny())
