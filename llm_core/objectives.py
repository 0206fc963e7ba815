"""What a model is trained to do: batches and losses for each objective in the lecture.

Every objective is a pair: a function that builds a batch (a dict of tensors, so a page can
show exactly what the model saw) and a loss function `loss_fn(model, batch) -> (loss, extras)`
that the one training loop in `train.py` calls. One cross-entropy with ignored targets (-100)
serves next-token prediction, masked LM, denoising and answer-only instruction tuning; they
differ only in which input the model sees and which targets count.

The text corruptions of encoder-decoder pre-training (token masking, token deletion, span
infilling, sentence permutation, document rotation) are pure functions on token lists, so a
page can apply them to any text and show input and target side by side.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .model import Transformer

IGNORE = -100  # targets with this value add nothing to the loss
Batch = dict[str, torch.Tensor]
LossOutput = tuple[torch.Tensor, dict[str, float]]
T = TypeVar("T")


def pad_rows(rows: Sequence[Sequence[int]], pad: int, length: int | None = None) -> torch.Tensor:
    """Right-pad lists of ids into one (B, T) tensor; T is the longest row unless given."""
    length = max(len(r) for r in rows) if length is None else length
    out = torch.full((len(rows), length), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        r = list(r)[:length]
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out  # (B, T)


# --- causal language modelling (GPT) ------------------------------------------------------


def causal_lm_batch(ids: torch.Tensor, pad_id: int | None = None) -> Batch:
    """Next-token prediction: the target at position t is the input at t + 1.

    Rows of T + 1 tokens give T predictions each; padding is never a target.
    """
    idx, targets = ids[:, :-1], ids[:, 1:].clone()  # (B, T), (B, T)
    if pad_id is not None:
        targets[targets == pad_id] = IGNORE
    return {"idx": idx, "targets": targets}


# --- masked language modelling (BERT) -----------------------------------------------------


def mask_tokens(
    ids: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    rate: float = 0.15,
    special_ids: Sequence[int] = (),
    pad_id: int | None = None,
    generator: torch.Generator | None = None,
) -> Batch:
    """BERT's corruption: choose `rate` of the tokens; of those, 80% become [MASK], 10% a random
    token, 10% stay as they are. Only chosen positions are targets.

    The random and unchanged 10% keep the model from learning that only [MASK] needs predicting.
    `special_ids` (e.g. [CLS], [SEP], [PAD]) are never chosen nor drawn as random tokens.
    Returned keys: idx (corrupted input), targets (original token or -100), attention_mask (with
    `pad_id`), and corruption (0 not chosen, 1 -> [MASK], 2 -> random token, 3 chosen but unchanged) for display.
    """
    B, T = ids.shape
    special = torch.tensor(list(special_ids), dtype=torch.long)
    eligible = ~torch.isin(ids, special)  # (B, T): never mask [CLS], [SEP], [PAD]
    chosen = (torch.rand(B, T, generator=generator) < rate) & eligible
    for row in (~chosen.any(dim=1)).nonzero().flatten().tolist():  # at least one target per row
        candidates = eligible[row].nonzero().flatten()
        if len(candidates):
            pick = torch.randint(len(candidates), (1,), generator=generator)
            chosen[row, candidates[pick]] = True
    roll = torch.rand(B, T, generator=generator)
    to_mask = chosen & (roll < 0.8)
    to_random = chosen & (roll >= 0.8) & (roll < 0.9)
    normal = torch.tensor([i for i in range(vocab_size) if i not in set(special_ids)], dtype=torch.long)
    random_tokens = normal[torch.randint(len(normal), (B, T), generator=generator)]

    idx = ids.clone()
    idx[to_mask] = mask_id
    idx[to_random] = random_tokens[to_random]
    targets = torch.where(chosen, ids, torch.full_like(ids, IGNORE))
    corruption = torch.zeros_like(ids)
    corruption[chosen] = 3
    corruption[to_mask], corruption[to_random] = 1, 2
    batch = {"idx": idx, "targets": targets, "corruption": corruption}
    if pad_id is not None:
        batch["attention_mask"] = ids != pad_id  # (B, T): padding is never attended
    return batch


# --- denoising corruptions (BART / T5 pre-training) ---------------------------------------


def token_masking(tokens: Sequence[T], rng: random.Random, *, mask: T, rate: float = 0.15) -> list[T]:
    """Each token independently becomes the mask token."""
    return [mask if rng.random() < rate else t for t in tokens]


def token_deletion(tokens: Sequence[T], rng: random.Random, *, rate: float = 0.15) -> list[T]:
    """Tokens disappear without a trace: the model must also find *where* something is missing."""
    kept = [t for t in tokens if rng.random() >= rate]
    return kept or list(tokens[:1])


def span_infilling(
    tokens: Sequence[T], rng: random.Random, *, mask: T, rate: float = 0.3, mean_span: float = 2.0
) -> list[T]:
    """Spans of several tokens each become ONE mask token, so the model must also guess how many
    tokens are missing. Span lengths are geometric with mean `mean_span`, until about `rate` of
    the tokens are hidden."""
    n, budget = len(tokens), max(1, round(rate * len(tokens)))
    hidden = [False] * n
    while sum(hidden) < budget:
        length = 1
        while rng.random() > 1 / mean_span and length < budget:
            length += 1
        start = rng.randrange(n)
        for i in range(start, min(n, start + length)):
            hidden[i] = True
    out: list[T] = []
    for i, t in enumerate(tokens):
        if not hidden[i]:
            out.append(t)
        elif i == 0 or not hidden[i - 1]:  # first token of a span: one mask for the whole span
            out.append(mask)
    return out


def sentence_permutation(
    tokens: Sequence[T], rng: random.Random, *, is_end: Callable[[T], bool] = lambda t: t in (".", "!", "?")
) -> list[T]:
    """Sentences (ending at a token for which `is_end` holds) are shuffled."""
    sentences, current = [], []
    for t in tokens:
        current.append(t)
        if is_end(t):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    rng.shuffle(sentences)
    return [t for s in sentences for t in s]


def document_rotation(tokens: Sequence[T], rng: random.Random) -> list[T]:
    """The document is rotated to start at a random token; the model must find the real start."""
    k = rng.randrange(len(tokens)) if tokens else 0
    return list(tokens[k:]) + list(tokens[:k])


CORRUPTIONS: dict[str, Callable[..., list]] = {
    "token masking": token_masking,
    "token deletion": token_deletion,
    "span infilling": span_infilling,
    "sentence permutation": sentence_permutation,
    "document rotation": document_rotation,
}


def seq2seq_batch(
    pairs: Sequence[tuple[Sequence[int], Sequence[int]]], *, pad_id: int, bos_id: int, eos_id: int
) -> Batch:
    """Encoder input `src`; the decoder reads [BOS] + target and predicts target + [EOS] (teacher forcing)."""
    src = pad_rows([s for s, _ in pairs], pad_id)  # (B, S)
    idx = pad_rows([[bos_id, *t] for _, t in pairs], pad_id)  # (B, T)
    targets = pad_rows([[*t, eos_id] for _, t in pairs], IGNORE)  # (B, T)
    return {"src": src, "src_attention_mask": src != pad_id, "idx": idx, "targets": targets}


def denoising_batch(
    rows: Sequence[Sequence[int]],
    rng: random.Random,
    *,
    corruption: str = "span infilling",
    mask_id: int,
    pad_id: int,
    bos_id: int,
    eos_id: int,
    **options,
) -> Batch:
    """BART-style pre-training: the encoder reads a corrupted copy, the decoder rebuilds the original.

    `corruption` names one of CORRUPTIONS; `options` go to it (rate, mean_span, is_end ...).
    """
    corrupt = CORRUPTIONS[corruption]
    if corruption in ("token masking", "span infilling"):
        options = {"mask": mask_id, **options}
    pairs = [(corrupt(list(r), rng, **options), list(r)) for r in rows]
    return seq2seq_batch(pairs, pad_id=pad_id, bos_id=bos_id, eos_id=eos_id)


# --- the shared loss ----------------------------------------------------------------------

FORWARD_KEYS = ("src", "attention_mask", "src_attention_mask", "token_type_ids")


def language_model_loss(model: Transformer, batch: Batch) -> LossOutput:
    """Cross-entropy over the non-ignored targets, for every objective that predicts tokens."""
    kwargs = {k: batch[k] for k in FORWARD_KEYS if k in batch}
    logits, loss = model(batch["idx"], batch["targets"], **kwargs)  # (B, T, V)
    counted = batch["targets"] != IGNORE
    accuracy = (logits.argmax(-1) == batch["targets"])[counted].float().mean()
    return loss, {"accuracy": accuracy.item()}


# --- sequence classification (fine-tuning and linear probes) ------------------------------


class SequenceClassifier(nn.Module):
    """A pre-trained Transformer plus one linear layer on a pooled representation of the sequence.

    pooling: "mean" over real tokens, "cls" (first token, BERT's [CLS]) or "last" (last real
    token, the only one a decoder's causal mask lets see the whole sequence).
    freeze_backbone=True trains only the head: a linear probe of what pre-training learned.
    The backbone is used as given (not copied), so pass a copy of a shared model.
    """

    def __init__(self, backbone: Transformer, n_classes: int, pooling: str = "mean", freeze_backbone: bool = False):
        super().__init__()
        if pooling not in ("mean", "cls", "last"):
            raise ValueError(f"unknown pooling {pooling!r}")
        self.backbone, self.pooling, self.frozen = backbone, pooling, freeze_backbone
        self.head = nn.Linear(backbone.config.n_embd, n_classes)
        backbone.requires_grad_(not freeze_backbone)

    def train(self, mode: bool = True) -> SequenceClassifier:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # a probe reads fixed features: no dropout in the backbone
        return self

    def pool(self, h: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """(B, T, C) hidden states -> (B, C), one vector per sequence."""
        if attention_mask is None:
            attention_mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
        if self.pooling == "cls":
            return h[:, 0]
        if self.pooling == "last":
            last = attention_mask.long().sum(dim=1) - 1  # (B,)
            return h[torch.arange(h.size(0), device=h.device), last]
        m = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1)

    def forward(
        self,
        idx: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.backbone.hidden(idx, attention_mask=attention_mask, token_type_ids=token_type_ids)  # (B, T, C)
        logits = self.head(self.pool(h, attention_mask))  # (B, n_classes)
        loss = None if labels is None else F.cross_entropy(logits, labels)
        return logits, loss


def classification_batch(
    rows: Sequence[Sequence[int]],
    labels: Sequence[int],
    *,
    pad_id: int,
    type_ids: Sequence[Sequence[int]] | None = None,
) -> Batch:
    """Padded rows, their labels, and (for sentence pairs such as NSP) the segment ids."""
    idx = pad_rows(rows, pad_id)
    batch = {"idx": idx, "attention_mask": idx != pad_id, "labels": torch.tensor(list(labels), dtype=torch.long)}
    if type_ids is not None:
        batch["token_type_ids"] = pad_rows(type_ids, 0, idx.size(1))
    return batch


def classification_loss(model: SequenceClassifier, batch: Batch) -> LossOutput:
    kwargs = {k: batch[k] for k in ("attention_mask", "token_type_ids") if k in batch}
    logits, loss = model(batch["idx"], batch["labels"], **kwargs)
    return loss, {"accuracy": (logits.argmax(-1) == batch["labels"]).float().mean().item()}


# --- instruction tuning -------------------------------------------------------------------


def instruction_batch(examples: Sequence[tuple[Sequence[int], Sequence[int]]], *, pad_id: int) -> Batch:
    """(prompt, answer) pairs -> a causal-LM batch whose loss counts only the answer tokens.

    The model still reads the prompt; it is just never graded on predicting it. `answer_mask`
    (B, T) is True exactly where a target is an answer token, for a page to show. Append [EOS]
    to the answers so the model learns where to stop.
    """
    rows = [[*p, *a] for p, a in examples]
    ids = pad_rows(rows, pad_id)  # (B, T + 1)
    B, T = ids.size(0), ids.size(1) - 1
    position = torch.arange(T)[None, :]  # target t predicts token t + 1
    starts = torch.tensor([len(p) - 1 for p, _ in examples])[:, None]  # first target that is an answer token
    ends = torch.tensor([len(r) - 1 for r in rows])[:, None]
    answer_mask = (position >= starts) & (position < ends)  # (B, T)
    targets = torch.where(answer_mask, ids[:, 1:], torch.full((B, T), IGNORE))
    return {"idx": ids[:, :-1], "targets": targets, "answer_mask": answer_mask}


# --- preference tuning (DPO) --------------------------------------------------------------


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy that never trains: the reference a preference-tuned model is kept close to."""
    ref = copy.deepcopy(model).eval()
    return ref.requires_grad_(False)


def preference_batch(
    examples: Sequence[tuple[Sequence[int], Sequence[int], Sequence[int]]], *, pad_id: int
) -> Batch:
    """(prompt, chosen answer, rejected answer) triples -> both continuations as answer-only batches."""
    pairs = [(p, c) for p, c, _ in examples] + [(p, r) for p, _, r in examples]
    both = instruction_batch(pairs, pad_id=pad_id)  # (2B, T): one length for both halves
    B = len(examples)
    return {
        "chosen_idx": both["idx"][:B],
        "chosen_targets": both["targets"][:B],
        "rejected_idx": both["idx"][B:],
        "rejected_targets": both["targets"][B:],
    }


def sequence_logprob(model: Transformer, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log P(answer | prompt) = sum of log-probabilities of the non-ignored targets. Returns (B,)."""
    logits, _ = model(idx)  # (B, T, V)
    logp = logits.log_softmax(-1)
    counted = targets != IGNORE
    picked = logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (B, T)
    return (picked * counted).sum(dim=1)


def dpo_loss(policy: Transformer, reference: Transformer, batch: Batch, beta: float = 0.1) -> LossOutput:
    """Direct Preference Optimisation: raise the chosen answer's likelihood relative to the rejected
    one, measured against a frozen reference so the model cannot drift arbitrarily far.

    reward(y) = beta * (log pi(y|x) - log pi_ref(y|x)); loss = -log sigmoid(reward(chosen) - reward(rejected)).
    """
    n = batch["chosen_idx"].size(0)
    idx = torch.cat([batch["chosen_idx"], batch["rejected_idx"]])
    targets = torch.cat([batch["chosen_targets"], batch["rejected_targets"]])
    policy_lp = sequence_logprob(policy, idx, targets)  # (2B,)
    with torch.no_grad():
        ref_lp = sequence_logprob(reference, idx, targets)
    rewards = beta * (policy_lp - ref_lp)
    chosen, rejected = rewards[:n], rewards[n:]
    margin = chosen - rejected  # (B,)
    loss = -F.logsigmoid(margin).mean()
    return loss, {
        "reward_margin": margin.mean().item(),
        "reward_accuracy": (margin > 0).float().mean().item(),
        "chosen_reward": chosen.mean().item(),
        "rejected_reward": rejected.mean().item(),
    }


def make_dpo_loss(reference: Transformer, beta: float = 0.1) -> Callable[[Transformer, Batch], LossOutput]:
    """Bind the frozen reference and beta, giving the training loop its usual `loss_fn(model, batch)`."""

    def loss_fn(model: Transformer, batch: Batch) -> LossOutput:
        return dpo_loss(model, reference, batch, beta)

    return loss_fn
