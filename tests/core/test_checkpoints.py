"""Checkpoints round-trip exactly and never need pickle; the shipped ones load, match their records,
and still reach the metrics they recorded."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from llm_core import checkpoints, pretrain, zoo
from llm_core.config import ModelConfig
from llm_core.data import instruction_pairs, nsp_pairs, preference_pairs, sentiment_examples, word_class
from llm_core.generate import generate
from llm_core.model import Transformer
from llm_core.tokenizers import train_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models train fastest on one thread


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


# --- the shipped tiny models (assets/) ---------------------------------------------------


@pytest.fixture(scope="module", params=zoo.NAMES)
def shipped(request):
    return (request.param, *zoo.load(request.param))


def test_shipped_checkpoints_load_and_match_their_record(shipped):
    name, model, tokenizer, meta = shipped
    assert model.config == ModelConfig.from_dict(meta["config"]) and not model.training
    assert model.config.vocab_size == tokenizer.vocab_size
    assert not meta["recipe"]["quick"] and meta["recipe"]["steps"] == pretrain.RECIPES[name].steps
    assert meta["recipe"]["cpu_seconds"] < 300  # sized to train in a few minutes on one CPU core
    assert meta["metrics"]["val_loss"] < meta["metrics"]["train_loss"] + 0.1


def test_assets_stay_small():
    total = sum(p.stat().st_size for p in zoo.ASSETS.iterdir() if p.is_file())
    assert total < 20 * 2**20, f"assets/ holds {total / 2**20:.1f} MB"


def test_untrained_twin_has_the_same_shape_and_initialisation_but_no_training():
    trained, _, meta = zoo.load("decoder")
    twin, tokenizer, _ = zoo.untrained("decoder")
    assert twin.config == trained.config and not twin.training
    again = zoo.initial_model(twin.config, meta["recipe"]["seed"])
    assert all(torch.equal(a, b) for a, b in zip(twin.state_dict().values(), again.state_dict().values(), strict=True))
    assert not torch.equal(twin.tok_emb.weight, trained.tok_emb.weight)
    before = pretrain.neighbour_class_agreement(twin, tokenizer)
    after = pretrain.neighbour_class_agreement(trained, tokenizer)
    assert before == pytest.approx(meta["metrics"]["neighbour_class_agreement_untrained"])
    assert after == pytest.approx(meta["metrics"]["neighbour_class_agreement"])
    assert after > 0.7 and after > before + 0.4  # embeddings cluster by word class only after training


def test_the_world_vocabulary_covers_every_labelled_variant():
    _, tokenizer, _ = zoo.load("decoder")
    texts = [e.text for e in sentiment_examples(300, seed=5)]
    texts += [f"{p.instruction} {p.answer}" for p in instruction_pairs()]
    texts += [f"{p.prompt} {p.chosen} {p.rejected}" for p in preference_pairs(seed=5)]
    texts += [f"{p.first} {p.second}" for p in nsp_pairs(300, seed=5)]
    unknown = {t for e in tokenizer.encode_batch(texts) for t, i in zip(e.tokens, e.ids, strict=True)
               if i == tokenizer.unk_id}
    assert not unknown
    _, encoder_tokenizer, _ = zoo.load("encoder")
    assert encoder_tokenizer.vocab == tokenizer.vocab


def test_decoder_reaches_its_recorded_validation_loss_and_grammar():
    model, tokenizer, meta = zoo.load("decoder")
    val = pretrain.decoder_val_loss(model, tokenizer)
    assert val["loss"] == pytest.approx(meta["metrics"]["val_loss"], rel=0.02)
    assert pretrain.agreement_accuracy(model, tokenizer) >= 0.95  # "the cat eats", "the cats eat"
    assert pretrain.name_accuracy(model, tokenizer) >= 0.9
    for seed in range(5):  # sampled lines are sentences of the world: known words, one final period
        out = generate(model, [tokenizer.bos_id], 30, temperature=0.8, seed=seed, stop_ids=[tokenizer.eos_id])
        words = [tokenizer.id_to_token(i) for i in out.tokens]
        assert out.stop_reason == "stop_token" and words[-2] == "."
        assert all(word_class(w) is not None for w in words[:-1]), words


@pytest.mark.parametrize(
    ("sentence", "expected_class"),
    [
        ("the cat eats [MASK] .", "food"),
        ("the apple is [MASK] .", "color"),
        ("the dog lives in the [MASK] .", "place"),
        ("the [MASK] eats fish in the house .", "animal"),
        ("two foxes [MASK] the eggs .", "action"),
    ],
)
def test_encoder_fills_a_mask_with_the_right_class_of_word(sentence, expected_class):
    model, tokenizer, _ = zoo.load("encoder")
    e = tokenizer.encode(sentence, add_special_tokens=True)
    at = e.tokens.index("[MASK]")
    logits, _ = model(torch.tensor([e.ids]), token_type_ids=torch.tensor([e.type_ids]))
    best = tokenizer.id_to_token(int(logits[0, at].argmax()))
    assert word_class(best) == expected_class, best


def test_seq2seq_reaches_its_recorded_exact_match():
    model, tokenizer, meta = zoo.load("seq2seq")
    result = pretrain.seq2seq_exact_match(model, tokenizer)
    assert result == pytest.approx(meta["metrics"]["exact_match"], abs=0.02)
    assert result["all"] >= 0.9


def test_icl_accuracy_rises_with_the_number_of_examples():
    model, tokenizer, meta = zoo.load("icl")
    result = pretrain.icl_accuracy(model, tokenizer)
    assert result == pytest.approx(meta["metrics"]["accuracy_by_shots"], abs=0.03)
    assert result["0"] < result["1"] <= result["2"] + 0.03 and result["2"] <= result["4"] + 0.03
    assert result["4"] > result["0"] + 0.3


def test_quick_pretraining_writes_a_checkpoint_the_zoo_can_load(tmp_path):
    pretrain.pretrain("seq2seq", tmp_path, quick=True, log=lambda s: None)
    model, tokenizer, meta = zoo.load("seq2seq", assets=tmp_path)
    assert meta["recipe"]["quick"] and meta["recipe"]["steps"] == 20
    assert set(meta["metrics"]["exact_match"]) == {"copy", "reverse", "sort", "spell", "all"}
    assert tokenizer.vocab_size == model.config.vocab_size
