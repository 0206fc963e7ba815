"""The masking lesson's measurements against independent computations on small seeded models."""

import numpy as np
import pytest
import torch

from llm_core.config import ModelConfig
from llm_core.generate import next_token_distribution
from llm_core.masking import fill_masks, masked_attention, perturbation_effect, prefix_predictions
from llm_core.model import Transformer

V = 40


def build(arch: str, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=V, block_size=24, n_layer=2, n_head=2, n_embd=32, arch=arch)
    return Transformer(config).eval()


@pytest.fixture(scope="module")
def models() -> dict[str, Transformer]:
    return {arch: build(arch) for arch in ("encoder", "decoder", "encoder-decoder")}


IDS = [3, 17, 9, 22, 5, 31, 12, 8]


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_decoder_mask_is_lower_triangular_and_weights_follow_it(models):
    view = masked_attention(models["decoder"], IDS, layer=1, head=1)
    T = len(IDS)
    assert np.array_equal(view.mask, np.tril(np.ones((T, T), dtype=bool)))
    assert np.all(view.weights[~view.mask] == 0.0)
    assert np.all(np.isneginf(view.masked_scores[~view.mask]))
    assert np.array_equal(view.masked_scores[view.mask], view.scores[view.mask])
    # softmax of the allowed scores alone, computed here row by row
    for t in range(T):
        np.testing.assert_allclose(view.weights[t, : t + 1], softmax_rows(view.scores[t, : t + 1]), rtol=1e-5)


def test_encoder_mask_is_full(models):
    view = masked_attention(models["encoder"], IDS, layer=0, head=0)
    assert view.mask.all()
    np.testing.assert_allclose(view.weights, softmax_rows(view.scores), rtol=1e-5)


def test_padding_columns_get_no_weight(models):
    pad = 0
    long, short = IDS, IDS[:3]
    batch = torch.tensor([long, short + [pad] * (len(long) - len(short))])  # (2, T)
    view = masked_attention(models["encoder"], batch, layer=1, head=0, attention_mask=batch != pad, batch_row=1)
    expected = np.zeros((len(long), len(long)), dtype=bool)
    expected[:, :3] = True  # every query may look at the three real tokens only
    assert np.array_equal(view.mask, expected)
    assert np.all(view.weights[:, 3:] == 0.0)
    np.testing.assert_allclose(view.weights.sum(-1), 1.0, rtol=1e-6)
    # the real tokens' weights equal those of the short sentence run alone, without padding
    alone = masked_attention(models["encoder"], short, layer=1, head=0)
    np.testing.assert_allclose(view.weights[:3, :3], alone.weights, atol=1e-6)


def test_cross_attention_is_decoder_by_encoder(models):
    src = [4, 6, 8, 10, 12]
    view = masked_attention(models["encoder-decoder"], IDS, layer=0, head=1, cross=True, src=src)
    assert view.mask.shape == (len(IDS), len(src))
    assert view.mask.all()
    np.testing.assert_allclose(view.weights, softmax_rows(view.scores), rtol=1e-5)
    with pytest.raises(ValueError, match="cross-attention"):
        masked_attention(models["decoder"], IDS, layer=0, head=0, cross=True)


@pytest.mark.parametrize("edit", [1, 3, 7])
def test_decoder_positions_before_the_edit_do_not_move_at_all(models, edit):
    edited = list(IDS)
    edited[edit] = (edited[edit] + 5) % V
    result = perturbation_effect(models["decoder"], IDS, edited)
    assert result.edited == [edit]
    assert result.layers == ["embedding", "layer 0", "layer 1", "output"]
    assert result.change.shape == (2 + 2, len(IDS))
    assert np.all(result.change[:, :edit] == 0.0)  # exactly, not approximately
    assert np.all(result.change[:, edit:][1:] > 0.0)  # every block output from the edit on moves
    # the embedding differs only at the edited position
    assert np.count_nonzero(result.change[0]) == 1 and result.change[0, edit] > 0


@pytest.mark.parametrize("threads", [1, 2])
def test_exact_zeros_hold_at_any_thread_count(models, threads):
    """A busy server runs pages with varying thread counts; before and after share one batch."""
    edited = list(IDS)
    edited[5] = (edited[5] + 3) % V
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = perturbation_effect(models["decoder"], IDS, edited)
    finally:
        torch.set_num_threads(saved)
    assert np.all(result.change[:, :5] == 0.0) and np.all(result.change[1:, 5:] > 0.0)


def test_encoder_positions_all_move(models):
    edited = list(IDS)
    edited[4] = (edited[4] + 1) % V
    result = perturbation_effect(models["encoder"], IDS, edited)
    assert np.all(result.final > 0.0)
    # independent: the L2 norm of the difference of the final hidden states, from two plain forward passes
    with torch.no_grad():
        a = models["encoder"].hidden(torch.tensor([IDS]))[0].numpy()
        b = models["encoder"].hidden(torch.tensor([edited]))[0].numpy()
    np.testing.assert_allclose(result.final, np.sqrt(((b - a) ** 2).sum(-1)), rtol=1e-4, atol=1e-6)


def test_perturbation_needs_equal_lengths(models):
    with pytest.raises(ValueError, match="length"):
        perturbation_effect(models["decoder"], IDS, IDS[:-1])


def test_prefix_predictions_match_running_on_the_prefix(models):
    rows = prefix_predictions(models["decoder"], IDS, k=3)
    assert [r.position for r in rows] == list(range(len(IDS)))
    assert rows[-1].target is None and rows[-1].target_prob is None
    for r in rows[:-1]:
        assert r.prefix == IDS[: r.position + 1] and r.target == IDS[r.position + 1]
        alone = next_token_distribution(models["decoder"], r.prefix)  # independent: the prefix alone
        assert r.target_prob == pytest.approx(float(alone[r.target]), rel=1e-4)
        assert r.prefix_only_prob == pytest.approx(r.target_prob, rel=1e-4)
        probs = [p for _, p in r.top]
        assert probs == sorted(probs, reverse=True) and len(probs) == 3
        assert r.top[0][0] == int(alone.argmax())
    with pytest.raises(ValueError, match="encoder"):
        prefix_predictions(models["encoder"], IDS)


def test_prefix_predictions_of_an_encoder_decoder_see_the_source_and_the_prefix_only(models):
    source = [4, 11, 27, 6]
    rows = prefix_predictions(models["encoder-decoder"], IDS, src=source)
    for r in rows[:-1]:
        alone = next_token_distribution(models["encoder-decoder"], r.prefix, src=source)
        assert r.prefix_only_prob == pytest.approx(float(alone[r.target]), rel=1e-4)
        assert r.target_prob == pytest.approx(float(alone[r.target]), rel=1e-4)


def test_fill_masks_ranks_the_encoders_own_probabilities(models):
    mask_id, specials = 1, [0, 1, 2]
    guesses = fill_masks(models["encoder"], IDS, [2, 5], mask_id=mask_id, k=4, exclude=specials)
    masked = list(IDS)
    masked[2] = masked[5] = mask_id
    with torch.no_grad():
        probs = models["encoder"](torch.tensor([masked]))[0][0].double().softmax(-1)  # (T, V)
    for p in (2, 5):
        ids = [i for i, _ in guesses[p]]
        assert not set(ids) & set(specials)
        expected = [i for i in probs[p].argsort(descending=True).tolist() if i not in specials][:4]
        assert ids == expected
        for i, prob in guesses[p]:
            assert prob == pytest.approx(float(probs[p, i]), rel=1e-9)
    with pytest.raises(ValueError, match="outside"):
        fill_masks(models["encoder"], IDS, [len(IDS)], mask_id=mask_id)
