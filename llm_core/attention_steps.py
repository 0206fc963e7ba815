"""Scaled dot-product attention taken apart, one matrix at a time, on a real trained layer.

The attention page walks a student through Attention(Q, K, V) = softmax(QK^T / sqrt(d_k)) V for
one head of one layer: the layer's input X, that head's slices of W_q, W_k and W_v, then Q, K,
V, the raw scores, the scaled scores, the softmax weights and the weighted sum of the values.
Every intermediate is recomputed here from the layer's own weights, and the result is checked
against what the model itself produced (its `hook_z`), so what the page shows is provably what
the model does. Everything is returned as plain numpy arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .hooks import capture
from .model import Transformer


@dataclass(frozen=True)
class AttentionSteps:
    """Every intermediate of one head's attention on one sentence (T tokens, width C, head size d_k)."""

    layer: int
    head: int
    X: np.ndarray  # (T, C) what the attention layer receives (after the layer norm in a pre-norm model)
    W_q: np.ndarray  # (C, d_k) this head's columns of the query projection
    W_k: np.ndarray  # (C, d_k)
    W_v: np.ndarray  # (C, d_k)
    b_q: np.ndarray  # (d_k,) biases added after the product (zeros when the model has none)
    b_k: np.ndarray
    b_v: np.ndarray
    Q: np.ndarray  # (T, d_k) = X W_q + b_q
    K: np.ndarray  # (T, d_k)
    V: np.ndarray  # (T, d_k)
    scores: np.ndarray  # (T, T) = Q K^T
    scaled: np.ndarray  # (T, T) = Q K^T / sqrt(d_k)
    masked: np.ndarray  # (T, T) scaled, with -inf where the mask forbids looking (decoder: the future)
    weights: np.ndarray  # (T, T) softmax of each row; every row sums to 1
    output: np.ndarray  # (T, d_k) = weights V, this head's context vectors
    model_output: np.ndarray  # (T, d_k) the same head's output as the model computed it (hook_z)
    model_weights: np.ndarray  # (T, T) the model's own attention pattern for this head

    @property
    def d_k(self) -> int:
        return self.Q.shape[1]

    @property
    def max_difference(self) -> float:
        """Largest gap between the written-out computation and the model's own result."""
        return float(np.abs(self.output - self.model_output).max())


def stack_name(model: Transformer) -> str:
    """The stack whose self-attention the page looks at: the encoder of an encoder, else the decoder."""
    return "encoder" if model.config.arch == "encoder" else "decoder"


def _check_sentence(model: Transformer, ids: Sequence[int]) -> torch.Tensor:
    if not ids:
        raise ValueError("the sentence has no tokens")
    if len(ids) > model.config.block_size:
        raise ValueError(f"the sentence has {len(ids)} tokens; this model reads at most {model.config.block_size}")
    return torch.tensor([list(ids)], dtype=torch.long)  # (1, T)


@dataclass(frozen=True)
class SentenceRun:
    """One forward pass of one sentence, recorded at the attention of every layer.

    Everything a page shows about attention for this sentence (any layer, any head, step by
    step) is computed from this record and the model's weights, so changing layer or head
    never runs the model again.
    """

    ids: tuple[int, ...]
    resid_pre: np.ndarray  # (L, T, C) each block's input
    patterns: np.ndarray  # (L, H, T, T) attention weights, rows sum to 1
    z: np.ndarray  # (L, H, T, d_k) each head's weighted sum of values
    attn_out: np.ndarray  # (L, T, C) each layer's attention output, after W_o


@torch.no_grad()
def record(model: Transformer, ids: Sequence[int]) -> SentenceRun:
    """Run the sentence once through the model and keep what attention saw and made at every layer."""
    idx = _check_sentence(model, ids)
    stack = stack_name(model)
    names = ("hook_resid_pre", "attn.hook_pattern", "attn.hook_z", "hook_attn_out")
    with capture(model, [f"{stack}.blocks.*.{name}" for name in names]) as acts:
        model.hidden(idx.to(model.device))

    def layers(name: str) -> np.ndarray:
        per_layer = [acts[f"{stack}.blocks.{i}.{name}"][0] for i in range(model.config.n_layer)]
        return torch.stack(per_layer).float().cpu().numpy()

    return SentenceRun(tuple(ids), *(layers(name) for name in names))


def attention_patterns(model: Transformer, ids: Sequence[int]) -> np.ndarray:
    """Attention weights of every head of every layer for one sentence: (n_layer, n_head, T, T)."""
    return record(model, ids).patterns


def _head_slice(linear: torch.nn.Linear, head: int, d_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """This head's part of a projection, written as the lecture does: x @ W, W of shape (C, d_k)."""
    rows = slice(head * d_k, (head + 1) * d_k)
    W = linear.weight[rows].T  # nn.Linear stores (out, in); (C, d_k)
    b = linear.bias[rows] if linear.bias is not None else torch.zeros(d_k, device=W.device)
    return W, b


@torch.no_grad()
def attention_steps(model: Transformer, sentence: Sequence[int] | SentenceRun, layer: int, head: int) -> AttentionSteps:
    """Recompute one head's attention step by step from the layer's weights, next to the model's own result.

    `sentence` is a list of token IDs, or the `record` of one (then the model does not run again).
    The layer's input is the block's input (`hook_resid_pre`), passed through the block's first
    layer norm when the model normalises before attention (GPT-2 style); a post-norm model (BERT,
    MiniLM) feeds the residual stream to attention directly.
    """
    config = model.config
    if not 0 <= layer < config.n_layer:
        raise ValueError(f"layer {layer} does not exist; this model has layers 0 to {config.n_layer - 1}")
    if not 0 <= head < config.n_head:
        raise ValueError(f"head {head} does not exist; this model has heads 0 to {config.n_head - 1}")
    run = sentence if isinstance(sentence, SentenceRun) else record(model, sentence)
    stack = stack_name(model)
    block = getattr(model, stack).blocks[layer]
    resid = torch.from_numpy(run.resid_pre[layer]).to(model.device)  # (T, C)
    X = block.ln_1(resid) if block.pre_norm else resid  # (T, C)
    d_k = config.head_size
    attn = block.attn
    W_q, b_q = _head_slice(attn.W_q, head, d_k)  # (C, d_k), (d_k,)
    W_k, b_k = _head_slice(attn.W_k, head, d_k)
    W_v, b_v = _head_slice(attn.W_v, head, d_k)

    Q = X @ W_q + b_q  # (T, d_k)
    K = X @ W_k + b_k  # (T, d_k)
    V = X @ W_v + b_v  # (T, d_k)
    scores = Q @ K.T  # (T, T): how well each query matches each key
    scaled = scores / math.sqrt(d_k)  # keeps the spread of the scores near 1 whatever d_k is
    T = X.shape[0]
    allowed = torch.ones(T, T, dtype=torch.bool, device=X.device)
    if stack == "decoder":
        allowed = allowed.tril()  # a decoder token sees itself and the tokens before it
    masked = scaled.masked_fill(~allowed, float("-inf"))  # (T, T)
    weights = masked.softmax(dim=-1)  # (T, T), rows sum to 1
    output = weights @ V  # (T, d_k): each token's context vector from this head

    def np_(t: torch.Tensor) -> np.ndarray:
        return t.detach().float().cpu().numpy()

    return AttentionSteps(
        layer=layer, head=head, X=np_(X), W_q=np_(W_q), W_k=np_(W_k), W_v=np_(W_v),
        b_q=np_(b_q), b_k=np_(b_k), b_v=np_(b_v), Q=np_(Q), K=np_(K), V=np_(V),
        scores=np_(scores), scaled=np_(scaled), masked=np_(masked), weights=np_(weights), output=np_(output),
        model_output=run.z[layer, head], model_weights=run.patterns[layer, head],
    )  # fmt: skip


@dataclass(frozen=True)
class MultiHeadOutput:
    """How the heads of one layer become the layer's output: concatenate, then mix with W_o."""

    heads: np.ndarray  # (H, T, d_k) every head's weighted sum of values
    concat: np.ndarray  # (T, H * d_k) the heads side by side
    W_o: np.ndarray  # (H * d_k, C) the output projection, as x @ W_o
    b_o: np.ndarray  # (C,)
    output: np.ndarray  # (T, C) = concat W_o + b_o
    model_output: np.ndarray  # (T, C) the layer's own attention output (hook_attn_out)


@torch.no_grad()
def multi_head_output(model: Transformer, sentence: Sequence[int] | SentenceRun, layer: int) -> MultiHeadOutput:
    """Concatenate one layer's heads and apply its output projection, next to the model's own result."""
    run = sentence if isinstance(sentence, SentenceRun) else record(model, sentence)
    z = run.z[layer]  # (H, T, d_k)
    H, T, d_k = z.shape
    concat = z.transpose(1, 0, 2).reshape(T, H * d_k)  # (T, H * d_k): head 0's columns first
    W_o = getattr(model, stack_name(model)).blocks[layer].attn.W_o
    weight = W_o.weight.T.float().cpu().numpy()  # (H * d_k, C)
    bias = W_o.bias.float().cpu().numpy() if W_o.bias is not None else np.zeros(W_o.out_features, np.float32)
    return MultiHeadOutput(z, concat, weight, bias, concat @ weight + bias, run.attn_out[layer])


@dataclass(frozen=True)
class ScalingDemo:
    """Dot products of random vectors as d_k grows, with and without dividing by sqrt(d_k)."""

    d_k: list[int]
    score_std: list[float]  # spread of q . k over many random pairs: grows like sqrt(d_k)
    scaled_score_std: list[float]  # spread of q . k / sqrt(d_k): stays near 1
    max_weight: list[float]  # mean largest softmax weight per row, unscaled: heads towards 1 (saturated)
    scaled_max_weight: list[float]  # the same with the scaling: stays spread out
    n_keys: int


def scaling_demo(d_values: list[int], n_keys: int = 8, n_queries: int = 256, seed: int = 0) -> ScalingDemo:
    """Why the scores are divided by sqrt(d_k), shown on random vectors with unit-variance entries.

    Each entry of q and k is drawn from N(0, 1), so q . k is a sum of d_k products of variance 1:
    its variance is d_k. Unscaled, the scores of a long head are large, the softmax puts nearly all
    weight on one key and its gradient vanishes; dividing by sqrt(d_k) brings the variance back to 1.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {"std": [], "sstd": [], "max": [], "smax": []}
    for d in d_values:
        q = rng.standard_normal((n_queries, d))  # (N, d_k)
        k = rng.standard_normal((n_queries, n_keys, d))  # (N, n_keys, d_k)
        s = np.einsum("nd,nkd->nk", q, k)  # (N, n_keys)
        for key, scores in (("std", s), ("sstd", s / math.sqrt(d))):
            out[key].append(float(scores.std()))
        for key, scores in (("max", s), ("smax", s / math.sqrt(d))):
            out[key].append(float(softmax(scores).max(axis=-1).mean()))
    return ScalingDemo(list(d_values), out["std"], out["sstd"], out["max"], out["smax"], n_keys)


def random_scores(d_k: int, n_keys: int = 8, seed: int = 0) -> np.ndarray:
    """One query's raw scores against n_keys random keys (entries N(0, 1)): (n_keys,)."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal(d_k), rng.standard_normal((n_keys, d_k))
    return k @ q


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax: subtracting the row maximum changes nothing but avoids overflow."""
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def hide_positions(weights: np.ndarray, keep: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Attention weights restricted to some tokens (e.g. without [CLS] and [SEP]), rows renormalised.

    Dropping columns would leave rows that no longer sum to 1, so each kept row is divided by
    the weight that stays; that removed share is returned too (one value per kept row), so a
    page can say how much attention went to the hidden tokens. weights: (..., T, T).
    """
    idx = np.asarray(keep, dtype=int)
    part = weights[..., idx[:, None], idx]  # (..., K, K)
    kept = part.sum(axis=-1, keepdims=True)  # (..., K, 1)
    return part / np.clip(kept, 1e-12, None), 1.0 - kept[..., 0]
