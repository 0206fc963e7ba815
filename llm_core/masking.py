"""What a mask lets each token see, measured on real models.

The masking page compares an encoder (every token sees every token), a decoder (a token sees
itself and the past), padding (nobody looks at [PAD]) and cross-attention (decoder queries,
encoder keys). These functions run a model once through `capture` and return plain numpy data
(in inference mode: no autograd bookkeeping at all, since nothing here is trained):

- `masked_attention`: one head's attention in four stages, mask -> raw scores -> masked scores
  (-inf where forbidden) -> softmax weights;
- `perturbation_effect`: change one input token and measure, at every position and layer, how
  far the hidden state moved; the causal mask makes the change exactly zero before the edit;
- `prefix_predictions`: a decoder's next-token guesses at every position from one pass, each
  checked against a run on the prefix alone;
- `fill_masks`: an encoder's guesses for [MASK] positions (masked language modelling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .hooks import capture
from .model import Transformer


def _row(ids: Sequence[int] | torch.Tensor, device: torch.device) -> torch.Tensor:
    """One sequence as a (1, T) batch; a (B, T) tensor passes through."""
    t = ids if isinstance(ids, torch.Tensor) else torch.tensor(list(ids), dtype=torch.long)
    return (t if t.dim() == 2 else t.reshape(1, -1)).to(device)  # (B, T)


def _stack_of(model: Transformer) -> str:
    """The stack whose output feeds the LM head: the encoder of an encoder, else the decoder."""
    return "encoder" if model.config.arch == "encoder" else "decoder"


# --- attention, stage by stage ------------------------------------------------------------


@dataclass(frozen=True)
class MaskedAttention:
    """One head of one layer for one sequence of a batch, in the order attention computes it.

    Rows are queries (the tokens doing the looking), columns keys (the tokens looked at).
    """

    mask: np.ndarray  # (T, S) bool: True where the query may look at the key
    scores: np.ndarray  # (T, S) q·k / sqrt(d_k), before the mask
    masked_scores: np.ndarray  # (T, S) the same, with -inf where the mask forbids
    weights: np.ndarray  # (T, S) softmax of each row of masked_scores; 0 wherever the mask forbids


@torch.inference_mode()
def masked_attention(
    model: Transformer,
    idx: Sequence[int] | torch.Tensor,
    *,
    layer: int,
    head: int,
    stack: str | None = None,
    cross: bool = False,
    src: Sequence[int] | torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    src_attention_mask: torch.Tensor | None = None,
    batch_row: int = 0,
) -> MaskedAttention:
    """Capture the scores and weights of one head while the model runs, and read the mask back.

    The mask is recovered from where the model put -inf, so the page shows exactly the mask that
    attention applied (built inside the model by `causal_mask`, `bidirectional_mask` and
    `padding_mask`), not a second copy that could disagree with it. `idx` (and `src`) are one
    sequence or a (B, T) batch; `batch_row` picks the sequence to show.
    """
    stack = stack or _stack_of(model)
    if cross and model.config.arch != "encoder-decoder":
        raise ValueError("only an encoder-decoder model has cross-attention")
    device = model.device
    idx = _row(idx, device)  # (B, T)
    kwargs = {}
    if src is not None:
        kwargs["src"] = _row(src, device)  # (B, S)
    if attention_mask is not None:
        kwargs["attention_mask"] = attention_mask.to(device)
    if src_attention_mask is not None:
        kwargs["src_attention_mask"] = src_attention_mask.to(device)
    name = f"{stack}.blocks.{layer}.{'cross_attn' if cross else 'attn'}"
    with capture(model, [f"{name}.hook_scores", f"{name}.hook_masked_scores", f"{name}.hook_pattern"]) as acts:
        model.hidden(idx, **kwargs)
    scores = acts[f"{name}.hook_scores"][batch_row, head].float().cpu().numpy()  # (T, S)
    masked = acts[f"{name}.hook_masked_scores"][batch_row, head].float().cpu().numpy()  # (T, S)
    weights = acts[f"{name}.hook_pattern"][batch_row, head].float().cpu().numpy()  # (T, S)
    return MaskedAttention(mask=~np.isneginf(masked), scores=scores, masked_scores=masked, weights=weights)


# --- the proof by perturbation ------------------------------------------------------------


@dataclass(frozen=True)
class Perturbation:
    """How far each position's hidden state moved when one input token was replaced."""

    layers: list[str]  # row names of `change`: "embedding", "layer 0", ..., "output"
    change: np.ndarray  # (L + 2, T) L2 norm of the change, per layer (rows) and position (columns)
    edited: list[int]  # positions whose input token differs

    @property
    def final(self) -> np.ndarray:
        """(T,) change of the final hidden state, the representation the LM head reads."""
        return self.change[-1]


def _hidden_states(model: Transformer, idx: torch.Tensor, src: torch.Tensor | None) -> list[torch.Tensor]:
    """Input of the stack, the output of every block, and the final hidden state, each (B, T, C)."""
    stack = _stack_of(model)
    with capture(model, [f"{stack}.hook_input", f"{stack}.blocks.*.hook_resid_post"]) as acts:
        final = model.hidden(idx, src=src)  # (B, T, C)
    blocks = [acts[f"{stack}.blocks.{i}.hook_resid_post"] for i in range(model.config.n_layer)]
    return [acts[f"{stack}.hook_input"], *blocks, final]


@torch.inference_mode()
def perturbation_effect(
    model: Transformer,
    ids: Sequence[int],
    edited_ids: Sequence[int],
    *,
    src: Sequence[int] | None = None,
) -> Perturbation:
    """Run the model on two sequences of equal length and measure ||h_after - h_before|| per position.

    Both sequences go through the model as one batch of two (no KV cache), so every kernel
    treats them alike, whatever thread count a busy server gives it: any position the edit
    cannot reach gives bit-identical hidden states and a change of exactly 0.0, not merely a
    small number. In a decoder these are the positions before the edit; in an encoder there
    are none.
    """
    if len(ids) != len(edited_ids):
        raise ValueError(f"the edit must keep the length ({len(ids)} tokens, got {len(edited_ids)})")
    device = model.device
    both = torch.cat([_row(ids, device), _row(edited_ids, device)])  # (2, T): before, after
    src_rows = None if src is None else _row(src, device).expand(2, -1)
    states = _hidden_states(model, both, src_rows)
    change = torch.stack([(h[1] - h[0]).norm(dim=-1) for h in states])  # (L + 2, T)
    names = ["embedding", *(f"layer {i}" for i in range(model.config.n_layer)), "output"]
    edited = [t for t, (a, b) in enumerate(zip(ids, edited_ids, strict=True)) if a != b]
    return Perturbation(layers=names, change=change.float().cpu().numpy(), edited=edited)


# --- a decoder's predictions, position by position ----------------------------------------


@dataclass(frozen=True)
class PrefixPrediction:
    """What a decoder predicts after position t, having seen only tokens 0..t."""

    position: int
    prefix: list[int]  # ids 0..t: everything the causal mask lets position t see
    target: int | None  # the token that really comes next (the shifted target); None at the end
    target_prob: float | None  # P(target | prefix) from the full-sequence pass
    top: list[tuple[int, float]]  # the k most likely next tokens and their probabilities
    prefix_only_prob: float | None  # P(target | prefix) again, from a pass on the prefix alone


@torch.inference_mode()
def prefix_predictions(
    model: Transformer, ids: Sequence[int], *, k: int = 3, src: Sequence[int] | None = None
) -> list[PrefixPrediction]:
    """Every position's next-token distribution from ONE forward pass, as a decoder is trained.

    Each is recomputed from its prefix alone, to show that nothing after position t entered it:
    row t of a second batch holds tokens 0..t and then padding that no token may attend to. The
    two agree up to float rounding (the passes multiply matrices of different sizes).
    """
    if model.config.arch == "encoder":
        raise ValueError("an encoder sees the whole sentence; next-token prediction needs a decoder")
    device = model.device
    ids = list(ids)
    T = len(ids)
    src_row = None if src is None else _row(src, device)
    logits, _ = model(_row(ids, device), src=src_row)  # (1, T, V)
    probs = logits[0].double().softmax(-1).cpu()  # (T, V)
    top_p, top_i = probs.topk(min(k, probs.size(-1)), dim=-1)  # (T, k)
    alone: list[float | None] = [None] * T
    if T > 1:  # one row per prefix 0..t that has a next token (t < T - 1)
        n = T - 1
        known = torch.ones(n, n, dtype=torch.bool, device=device).tril()  # row t: positions 0..t
        prefixes = _row(ids[:-1], device).expand(n, -1).masked_fill(~known, 0)  # later tokens gone
        src_rows = None if src_row is None else src_row.expand(n, -1)
        prefix_logits, _ = model(prefixes, src=src_rows, attention_mask=known)  # (n, n, V)
        rows = torch.arange(n, device=device)
        last = prefix_logits[rows, rows].double().softmax(-1)  # (n, V): row t's prediction after token t
        alone[:n] = last[rows, torch.tensor(ids[1:], device=device)].tolist()  # P(the real next token)
    out = []
    for t in range(T):
        target = ids[t + 1] if t + 1 < T else None
        out.append(
            PrefixPrediction(
                position=t,
                prefix=ids[: t + 1],
                target=target,
                target_prob=None if target is None else float(probs[t, target]),
                top=list(zip(top_i[t].tolist(), top_p[t].tolist(), strict=True)),
                prefix_only_prob=alone[t],
            )
        )
    return out


# --- masked language modelling ------------------------------------------------------------


@torch.inference_mode()
def fill_masks(
    model: Transformer,
    ids: Sequence[int],
    positions: Sequence[int],
    *,
    mask_id: int,
    k: int = 5,
    exclude: Sequence[int] = (),
) -> dict[int, list[tuple[int, float]]]:
    """Replace `positions` by [MASK] and return the encoder's k best guesses for each, with probabilities.

    The encoder sees the words on both sides of every gap at once, which is why masked language
    modelling (and not next-token prediction) is the objective that fits it. Ids in `exclude`
    (special tokens) are skipped when ranking; the probabilities stay the model's own, over the
    whole vocabulary.
    """
    masked = list(ids)
    for p in positions:
        if not 0 <= p < len(masked):
            raise ValueError(f"position {p} is outside the sequence of {len(masked)} tokens")
        masked[p] = mask_id
    logits, _ = model(_row(masked, model.device))  # (1, T, V)
    probs = logits[0].double().softmax(-1).cpu()  # (T, V)
    ranked = probs.clone()
    ranked[:, list(exclude)] = -1.0  # below every probability, so never among the top k
    guesses = {}
    for p in positions:
        top_i = ranked[p].topk(min(k, probs.size(-1) - len(set(exclude)))).indices
        top_p = probs[p, top_i]
        guesses[p] = list(zip(top_i.tolist(), top_p.tolist(), strict=True))
    return guesses
