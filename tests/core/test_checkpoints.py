"""Checkpoints round-trip exactly and never need pickle."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from llm_core import checkpoints
from llm_core.config import ModelConfig
from llm_core.model import Transformer
from llm_core.tokenizers import train_tokenizer


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=16),
        ModelConfig(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16, arch="encoder-decoder",
                    pos="sinusoidal", norm="post"),
        ModelConfig(vocab_size=30, block_size=16, n_layer=1, n_head=4, n_embd=16, arch="encoder", tie_weights=False,
                    n_token_types=2, embed_norm=True),
    ],
)
def test_round_trip_is_exact(tmp_path, config):
    torch.manual_seed(0)
    model = Transformer(config)
    with torch.no_grad():
        model.tok_emb.weight.add_(torch.randn_like(model.tok_emb.weight))  # not just the initialisation
    recipe, metrics = {"objective": "causal_lm", "steps": 3, "lr": 1e-3, "seed": 0}, {"val_loss": 1.25}
    json_path = checkpoints.save(model, tmp_path / "m", recipe=recipe, metrics=metrics)
    loaded = checkpoints.load(tmp_path / "m")

    assert loaded.config == config and not loaded.model.training
    assert loaded.recipe == recipe and loaded.metrics == metrics
    original, restored = model.state_dict(), loaded.model.state_dict()
    assert original.keys() == restored.keys()
    for name in original:
        assert torch.equal(original[name], restored[name]), name
    if config.tie_weights:
        assert loaded.model.lm_head.weight is loaded.model.tok_emb.weight  # still one matrix
    else:
        assert loaded.model.lm_head.weight is not loaded.model.tok_emb.weight

    with safe_open(str(tmp_path / "m.safetensors"), "pt") as f:
        stored = set(f.keys())
    meta = json.loads(json_path.read_text())
    assert ("lm_head.weight" in stored) == (not config.tie_weights)  # a tied matrix is stored once
    assert meta["tied"] == ({"lm_head.weight": "tok_emb.weight"} if config.tie_weights else {})
    x = torch.randint(0, 30, (2, 8))
    kwargs = {"src": x} if config.arch == "encoder-decoder" else {}
    model.eval()
    torch.testing.assert_close(loaded.model(x, **kwargs)[0], model(x, **kwargs)[0], rtol=0, atol=0)


def test_loading_a_file_that_is_not_a_checkpoint_fails_clearly(tmp_path):
    (tmp_path / "x.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not an llm_core checkpoint"):
        checkpoints.load(tmp_path / "x")


def test_the_tokenizer_travels_with_the_checkpoint(tmp_path):
    tokenizer = train_tokenizer("word", "the cat eats fish .\nthe dog eats bread .")
    model = Transformer(ModelConfig(vocab_size=tokenizer.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=8))
    checkpoints.save(model, tmp_path / "m.json", tokenizer=tokenizer)  # either file name names the pair
    loaded = checkpoints.load(tmp_path / "m.safetensors").tokenizer
    assert loaded.vocab == tokenizer.vocab and loaded.special_tokens == tokenizer.special_tokens
    assert loaded.encode("the cat eats bread .").ids == tokenizer.encode("the cat eats bread .").ids
    assert checkpoints.read_meta(tmp_path / "m")["tokenizer"]["kind"] == "word"  # readable JSON, not a blob
