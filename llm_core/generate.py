"""Autoregressive generation that shows its work: every step keeps the whole next-token distribution.

A decoder predicts a distribution over the next token; generation samples one token, appends
it, and asks again. The strategies differ only in how a token is picked from the distribution:
greedy takes the most likely, temperature sharpens or flattens it, top-k and top-p cut off the
unlikely tail before sampling. With the KV cache each step feeds only the new token, because
the keys and values of the earlier positions are kept; `use_cache=False` recomputes everything,
for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from .model import Transformer


@dataclass
class GenerationStep:
    """One token: the distribution the model gave, the one it was drawn from, and the pick."""

    token: int
    raw_probs: torch.Tensor  # (V,) softmax of the logits, temperature 1, nothing filtered
    probs: torch.Tensor  # (V,) after temperature, top-k and top-p: what the token was drawn from
    prob: float  # probs[token]
    raw_prob: float  # raw_probs[token], the model's own probability of the pick


@dataclass
class Generation:
    """The prompt, the new tokens and every step's distributions."""

    prompt: list[int]
    tokens: list[int] = field(default_factory=list)  # the generated continuation only
    steps: list[GenerationStep] = field(default_factory=list)
    stop_reason: str = "max_new_tokens"  # or "stop_token", "block_size"

    @property
    def ids(self) -> list[int]:
        return self.prompt + self.tokens


def filter_logits(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> torch.Tensor:
    """Temperature, then top-k, then top-p (nucleus), as in most libraries. Returns probabilities (..., V).

    top-k keeps the k most likely tokens; top-p keeps the smallest set of most likely tokens whose
    probabilities add up to at least p. Removed tokens get probability 0, the rest are renormalised.
    """
    if temperature <= 0:
        raise ValueError("temperature must be positive; use greedy=True for the most likely token")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    logits = logits / temperature
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        remove = cumulative - sorted_logits.softmax(-1) >= top_p  # mass before this token already >= p
        remove[..., 0] = False  # the most likely token always stays, even for top_p = 0
        remove = remove.scatter(-1, order, remove)  # back to vocabulary order
        logits = logits.masked_fill(remove, float("-inf"))
    return logits.softmax(-1)


def _as_row(ids: Sequence[int] | torch.Tensor, device: torch.device) -> torch.Tensor:
    t = ids if isinstance(ids, torch.Tensor) else torch.tensor(list(ids), dtype=torch.long)
    return t.reshape(1, -1).to(device)  # (1, T)


@torch.no_grad()
def generate(
    model: Transformer,
    prompt: Sequence[int] | torch.Tensor,
    max_new_tokens: int = 20,
    *,
    greedy: bool = False,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    stop_ids: Sequence[int] = (),
    src: Sequence[int] | torch.Tensor | None = None,
    use_cache: bool = True,
    record: bool = True,
) -> Generation:
    """Continue `prompt` token by token.

    For an encoder-decoder, `src` is the encoder's input and `prompt` starts the decoder (usually
    [BOS]); the source is encoded once. Sampling uses `generator` (or a new one seeded with `seed`),
    so the same seed gives the same text. Generation stops at a token in `stop_ids` (which is kept),
    after `max_new_tokens`, or when the context reaches block_size. `record=False` skips keeping
    the distributions (for benchmarks).
    """
    device, config = model.device, model.config
    if generator is None and seed is not None:
        generator = torch.Generator(device=device).manual_seed(seed)
    ids = _as_row(prompt, device)  # (1, T)
    if ids.size(1) == 0:
        raise ValueError("the prompt needs at least one token (e.g. [BOS])")
    if ids.size(1) > config.block_size:
        raise ValueError(f"the prompt has {ids.size(1)} tokens; this model reads at most {config.block_size}")
    out = Generation(prompt=ids[0].tolist())
    memory = memory_mask = None
    if config.arch == "encoder-decoder":
        if src is None:
            raise ValueError("an encoder-decoder model needs `src`, the encoder's input")
        src = _as_row(src, device)
        memory = model.encode(src)  # (1, S, C), computed once for the whole generation
    elif config.arch != "decoder":
        raise ValueError("generation needs a decoder (arch 'decoder' or 'encoder-decoder')")

    cache = model.new_cache() if use_cache else None
    new = ids  # what the model has not seen yet: the whole prompt at first, then one token
    for _ in range(max_new_tokens):
        if ids.size(1) >= config.block_size:
            out.stop_reason = "block_size"
            break
        h = model.decode(new if use_cache else ids, memory, memory_mask, cache=cache)  # (1, T, C)
        logits = model.lm_head(h[:, -1])[0]  # (V,) the next-token logits
        raw = logits.softmax(-1)
        probs = raw if greedy and top_k is None and top_p is None else filter_logits(
            logits, 1.0 if greedy else temperature, top_k, top_p
        )
        token = int(probs.argmax()) if greedy else int(torch.multinomial(probs, 1, generator=generator))
        if record:
            out.steps.append(GenerationStep(token, raw.cpu(), probs.cpu(), float(probs[token]), float(raw[token])))
        out.tokens.append(token)
        new = torch.tensor([[token]], device=device)
        ids = torch.cat([ids, new], dim=1)
        if token in stop_ids:
            out.stop_reason = "stop_token"
            break
    return out


@torch.no_grad()
def next_token_distribution(
    model: Transformer,
    ids: Sequence[int] | torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    src: Sequence[int] | torch.Tensor | None = None,
) -> torch.Tensor:
    """P(next token | ids) as a (V,) tensor, after the chosen temperature and filters."""
    row = _as_row(ids, model.device)
    kwargs = {} if src is None else {"src": _as_row(src, model.device)}
    logits, _ = model(row, **kwargs)  # (1, T, V)
    return filter_logits(logits[0, -1], temperature, top_k, top_p).cpu()


@dataclass
class SequenceProbability:
    """P(x_1..x_n | x_0) by the chain rule: the product of each token's conditional probability."""

    ids: list[int]
    token_probs: list[float]  # P(x_t | x_<t) for t = 1..n (the first token is given, not predicted)
    log_prob: float  # sum of log P(x_t | x_<t)

    @property
    def prob(self) -> float:
        return float(torch.tensor(self.log_prob, dtype=torch.float64).exp())


@torch.no_grad()
def sequence_probability(
    model: Transformer, ids: Sequence[int] | torch.Tensor, *, src: Sequence[int] | torch.Tensor | None = None
) -> SequenceProbability:
    """Chain-rule probability of a whole sequence, from one forward pass.

    The causal mask makes position t's output depend only on tokens <= t, so a single pass gives
    every conditional P(x_{t+1} | x_<=t) at once. For an encoder-decoder the probability is
    conditioned on `src` as well.
    """
    row = _as_row(ids, model.device)  # (1, T)
    if row.size(1) < 2:
        return SequenceProbability(row[0].tolist(), [], 0.0)
    kwargs = {} if src is None else {"src": _as_row(src, model.device)}
    logits, _ = model(row[:, :-1], **kwargs)  # (1, T-1, V)
    logp = logits[0].double().log_softmax(-1)  # (T-1, V)
    picked = logp.gather(-1, row[0, 1:, None]).squeeze(-1)  # (T-1,) log P(x_t | x_<t)
    return SequenceProbability(row[0].tolist(), picked.exp().tolist(), float(picked.sum()))


@torch.no_grad()
def greedy_batch(
    model: Transformer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    pad_id: int,
    stop_id: int | None = None,
    srcs: Sequence[Sequence[int]] | None = None,
) -> list[list[int]]:
    """Greedy continuations of many prompts at once, to measure accuracy on a whole test set.

    Prompts of different lengths sit right-padded in one batch; each step runs the full batch and
    reads every row's logits at its own last token (the causal mask keeps the padding after it
    invisible). No cache and no recorded distributions: this is for counting right answers. Each
    continuation ends at `stop_id` (kept) or after `max_new_tokens`.
    """
    device, N = model.device, len(prompts)
    lengths = torch.tensor([len(p) for p in prompts], device=device)  # (N,)
    width = min(model.config.block_size, int(lengths.max()) + max_new_tokens)
    ids = torch.full((N, width), pad_id, dtype=torch.long, device=device)
    for i, p in enumerate(prompts):
        ids[i, : len(p)] = torch.tensor(list(p), dtype=torch.long)
    kwargs = {}
    if srcs is not None:
        src = torch.full((N, max(len(s) for s in srcs)), pad_id, dtype=torch.long, device=device)
        for i, s in enumerate(srcs):
            src[i, : len(s)] = torch.tensor(list(s), dtype=torch.long)
        kwargs = {"src": src, "src_attention_mask": src != pad_id}
    rows = torch.arange(N, device=device)
    done = torch.zeros(N, dtype=torch.bool, device=device)
    out: list[list[int]] = [[] for _ in range(N)]
    for _ in range(max_new_tokens):
        done |= lengths >= width  # a row that filled the context stops
        if done.all():
            break
        logits, _ = model(ids[:, : int(lengths.max())], **kwargs)  # (N, T, V)
        next_ids = logits[rows, lengths - 1].argmax(-1)  # (N,) each row's own next token
        for i in (~done).nonzero().flatten().tolist():
            out[i].append(int(next_ids[i]))
        ids[rows[~done], lengths[~done]] = next_ids[~done]
        lengths = lengths + (~done).long()
        if stop_id is not None:
            done |= next_ids == stop_id
    return out
