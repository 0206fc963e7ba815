"""The Transformer of the lecture, in one file: attention, MLP, block, stack, model.

One `Transformer` class builds an encoder-only (BERT-like), decoder-only (GPT-like) or
encoder-decoder (T5/BART-like) model from a `ModelConfig`. The attention math is written out
with the lecture's names (W_q, W_k, W_v) so that the page can show this very code, and every
interesting tensor passes through a named `HookPoint` that `capture` can read.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .hooks import HookPoint
from .masks import bidirectional_mask, causal_mask, padding_mask

ACTIVATIONS = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU()}


class Attention(nn.Module):
    """Multi-head scaled dot-product attention, written out so the page can show it."""

    def __init__(self, config: ModelConfig, cross: bool = False):
        super().__init__()
        d, bias = config.n_embd, config.bias
        self.n_head, self.cross = config.n_head, cross
        self.W_q = nn.Linear(d, d, bias=bias)  # all heads' query projections side by side
        self.W_k = nn.Linear(d, d, bias=bias)
        self.W_v = nn.Linear(d, d, bias=bias)
        self.W_o = nn.Linear(d, d, bias=bias)  # mixes the concatenated heads back together
        self.dropout = nn.Dropout(config.dropout)
        self.hook_q, self.hook_k, self.hook_v = HookPoint(), HookPoint(), HookPoint()
        self.hook_scores = HookPoint()  # QK^T / sqrt(d_k), before the mask
        self.hook_masked_scores = HookPoint()  # forbidden positions set to -inf
        self.hook_pattern = HookPoint()  # softmax weights, each row sums to 1
        self.hook_z = HookPoint()  # every head's weighted sum of values, before concatenation

    def watched(self) -> bool:
        """True while `capture` listens to this layer: then the step-by-step path below must run."""
        return any(h._forward_hooks for h in self.children() if isinstance(h, HookPoint))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, H, T, d_k)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        B, H, T, d_k = x.shape
        return x.transpose(1, 2).reshape(B, T, H * d_k)  # (B, T, C): heads concatenated

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        context = x if context is None else context  # self-attention, or cross-attention
        q = self.hook_q(self.split_heads(self.W_q(x)))  # (B, H, T, d_k)
        if self.cross and cache and "k" in cache:  # the encoder output never changes while decoding
            k, v = cache["k"], cache["v"]
        else:
            k = self.split_heads(self.W_k(context))  # (B, H, S, d_k)
            v = self.split_heads(self.W_v(context))  # (B, H, S, d_k)
            if cache is not None and not self.cross and "k" in cache:  # keys of earlier positions
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            if cache is not None:
                cache["k"], cache["v"] = k, v
        k, v = self.hook_k(k), self.hook_v(v)
        if not self.watched():  # same math in one fused kernel when nobody is looking inside
            p = self.dropout.p if self.training else 0.0
            return self.W_o(self.merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)))
        scores = self.hook_scores(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)))  # (B, H, T, S)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        scores = self.hook_masked_scores(scores)
        weights = self.hook_pattern(scores.softmax(dim=-1))  # (B, H, T, S), rows sum to 1
        z = self.hook_z(self.dropout(weights) @ v)  # (B, H, T, d_k)
        return self.W_o(self.merge_heads(z))  # (B, T, C)


class MLP(nn.Module):
    """Position-wise feed-forward network: the same two-layer net applied to every token."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        hidden = config.mlp_ratio * config.n_embd
        self.W_1 = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.act = ACTIVATIONS[config.activation]
        self.W_2 = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.W_2(self.act(self.W_1(x))))


def _layer_norm(config: ModelConfig) -> nn.Module:
    if config.norm == "none":
        return nn.Identity()
    return nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)


class Block(nn.Module):
    """Attention, optional cross-attention, MLP; each wrapped in a shortcut and a layer norm."""

    def __init__(self, config: ModelConfig, cross: bool = False):
        super().__init__()
        self.pre_norm, self.post_norm = config.norm == "pre", config.norm == "post"
        self.residual = config.residual
        self.ln_1, self.attn = _layer_norm(config), Attention(config)
        if cross:
            self.ln_cross, self.cross_attn = _layer_norm(config), Attention(config, cross=True)
        self.ln_2, self.mlp = _layer_norm(config), MLP(config)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.hook_resid_pre, self.hook_resid_mid = HookPoint(), HookPoint()
        self.hook_attn_out, self.hook_mlp_out, self.hook_resid_post = HookPoint(), HookPoint(), HookPoint()
        if cross:
            self.hook_cross_out, self.hook_resid_cross = HookPoint(), HookPoint()

    def shortcut(self, x: torch.Tensor, out: torch.Tensor, norm: nn.Module) -> torch.Tensor:
        x = x + self.resid_dropout(out) if self.residual else self.resid_dropout(out)  # the residual shortcut
        return norm(x) if self.post_norm else x  # post-norm normalises after the addition

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        cache: dict | None = None,
    ) -> torch.Tensor:
        x = self.hook_resid_pre(x)  # (B, T, C)
        h = self.ln_1(x) if self.pre_norm else x
        out = self.hook_attn_out(self.attn(h, mask=mask, cache=None if cache is None else cache["self"]))
        x = self.hook_resid_mid(self.shortcut(x, out, self.ln_1))
        if context is not None:
            h = self.ln_cross(x) if self.pre_norm else x
            cross_cache = None if cache is None else cache["cross"]
            out = self.hook_cross_out(self.cross_attn(h, context, mask=context_mask, cache=cross_cache))
            x = self.hook_resid_cross(self.shortcut(x, out, self.ln_cross))
        h = self.ln_2(x) if self.pre_norm else x
        out = self.hook_mlp_out(self.mlp(h))
        return self.hook_resid_post(self.shortcut(x, out, self.ln_2))  # (B, T, C)


class Stack(nn.Module):
    """An encoder or a decoder: embedding hooks, n_layer blocks and (pre-norm) a final layer norm."""

    def __init__(self, config: ModelConfig, cross: bool = False):
        super().__init__()
        self.hook_embed, self.hook_pos, self.hook_input = HookPoint(), HookPoint(), HookPoint()
        self.blocks = nn.ModuleList(Block(config, cross=cross) for _ in range(config.n_layer))
        self.ln_f = _layer_norm(config) if config.norm == "pre" else nn.Identity()

    def forward(self, x, mask=None, context=None, context_mask=None, cache=None) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, mask, context, context_mask, None if cache is None else cache.layers[i])
        return self.ln_f(x)


class KVCache:
    """Keys and values of the positions already decoded, so each new token costs one position."""

    def __init__(self, n_layer: int):
        self.layers = [{"self": {}, "cross": {}} for _ in range(n_layer)]

    def __len__(self) -> int:
        k = self.layers[0]["self"].get("k")
        return 0 if k is None else k.size(2)


def sinusoidal_encoding(T: int, C: int) -> torch.Tensor:
    """PE[t, 2i] = sin(t / 10000^(2i/C)), PE[t, 2i+1] = cos(...): a fixed code for each position."""
    position = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    freq = torch.exp(torch.arange(0, C, 2, dtype=torch.float32) * (-math.log(10000.0) / C))  # (C/2,)
    pe = torch.zeros(T, C)
    pe[:, 0::2] = torch.sin(position * freq)
    pe[:, 1::2] = torch.cos(position * freq[: C // 2])
    return pe  # (T, C)


class Transformer(nn.Module):
    """Encoder-only, decoder-only or encoder-decoder, as `config.arch` says."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        C = config.n_embd
        self.tok_emb = nn.Embedding(config.vocab_size, C)  # the lookup table: token ID -> row
        if config.pos == "learned":
            self.pos_emb = nn.Embedding(config.block_size, C)
        elif config.pos == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_encoding(config.block_size, C), persistent=False)
        if config.n_token_types:
            self.type_emb = nn.Embedding(config.n_token_types, C)
        self.emb_norm = nn.LayerNorm(C, eps=config.layer_norm_eps) if config.embed_norm else nn.Identity()
        self.drop = nn.Dropout(config.dropout)
        has_encoder = config.arch in ("encoder", "encoder-decoder")
        has_decoder = config.arch in ("decoder", "encoder-decoder")
        self.encoder = Stack(config) if has_encoder else None
        self.decoder = Stack(config, cross=config.arch == "encoder-decoder") if has_decoder else None
        if config.lm_head:
            self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale the layers that write into the residual stream
            if name.endswith(("W_o.weight", "W_2.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
        if config.lm_head and config.tie_weights:
            self.lm_head.weight = self.tok_emb.weight

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def device(self) -> torch.device:
        return self.tok_emb.weight.device

    def embed(self, idx: torch.Tensor, stack: Stack, token_type_ids=None, offset: int = 0) -> torch.Tensor:
        """Token embedding + positional encoding (+ segment embedding), the input of a stack."""
        B, T = idx.shape
        if offset + T > self.config.block_size:
            raise ValueError(f"sequence of {offset + T} tokens is longer than block_size {self.config.block_size}")
        tok = stack.hook_embed(self.tok_emb(idx))  # (B, T, C)
        positions = torch.arange(offset, offset + T, device=idx.device)
        if self.config.pos == "learned":
            pos = self.pos_emb(positions)
        elif self.config.pos == "sinusoidal":
            pos = self.pos_table[positions]
        else:
            pos = torch.zeros(T, self.config.n_embd, device=idx.device)
        x = tok + stack.hook_pos(pos)  # (B, T, C); (T, C) broadcasts over the batch
        if self.config.n_token_types:
            x = x + self.type_emb(torch.zeros_like(idx) if token_type_ids is None else token_type_ids)
        return stack.hook_input(self.drop(self.emb_norm(x)))

    def encode(self, idx: torch.Tensor, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """Encoder: every token sees every (non-padding) token. Returns (B, T, C)."""
        T = idx.size(1)
        mask = bidirectional_mask(T, device=idx.device)  # (T, T)
        if attention_mask is not None:
            mask = mask & padding_mask(attention_mask)  # (B, 1, T, T)
        return self.encoder(self.embed(idx, self.encoder, token_type_ids), mask)

    def decode(
        self,
        idx: torch.Tensor,
        memory: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Decoder: token t sees tokens <= t, and (encoder-decoder) all of `memory`. Returns (B, T, C)."""
        past = 0 if cache is None else len(cache)
        T = idx.size(1)
        mask = causal_mask(T, past + T, device=idx.device)  # (T, past + T)
        if attention_mask is not None:  # flags for all past + T keys
            mask = mask & padding_mask(attention_mask)
        context_mask = None if memory_mask is None else padding_mask(memory_mask)  # (B, 1, 1, S)
        x = self.embed(idx, self.decoder, offset=past)
        return self.decoder(x, mask, memory, context_mask, cache)

    def hidden(self, idx, src=None, attention_mask=None, src_attention_mask=None, token_type_ids=None, cache=None):
        """Final hidden states (B, T, C) of the stack that feeds the LM head."""
        arch = self.config.arch
        if arch == "encoder":
            return self.encode(idx, attention_mask, token_type_ids)
        if arch == "decoder":
            return self.decode(idx, attention_mask=attention_mask, cache=cache)
        if src is None:
            raise ValueError("an encoder-decoder model needs `src`, the encoder's input")
        memory = self.encode(src, src_attention_mask)
        return self.decode(idx, memory, src_attention_mask, attention_mask, cache)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        src: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        src_attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits over the vocabulary at every position, and the cross-entropy loss if targets are given.

        Targets equal to -100 are ignored, so one loss serves next-token prediction (targets are the
        input shifted by one), masked LM (targets only at masked positions) and answer-only tuning.
        """
        if not self.config.lm_head:
            raise ValueError("this model has no LM head; use .hidden() for its representations")
        x = self.hidden(idx, src, attention_mask, src_attention_mask, token_type_ids, cache)
        logits = self.lm_head(x)  # (B, T, vocab_size)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return logits, loss

    def new_cache(self) -> KVCache:
        return KVCache(self.config.n_layer)
