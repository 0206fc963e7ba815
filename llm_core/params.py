"""Parameter count from a config alone, so GPT-3-sized models can be sized without allocating them.

The sum mirrors `model.py` module by module; a test checks it against a real model's
`parameters()` for many configurations, and against GPT-2 small's published 124,439,808.
"""

from __future__ import annotations

from .config import ModelConfig


def parameter_count(config: ModelConfig) -> int:
    C, V, b = config.n_embd, config.vocab_size, int(config.bias)
    layer_norm = 0 if config.norm == "none" else C + C * b  # gain (and bias)
    attention = 4 * (C * C + C * b)  # W_q, W_k, W_v, W_o
    hidden = config.mlp_ratio * C
    mlp = C * hidden + hidden * b + hidden * C + C * b  # W_1, W_2
    block = layer_norm + attention + layer_norm + mlp
    cross_block = block + layer_norm + attention  # decoder of an encoder-decoder
    final_norm = layer_norm if config.norm == "pre" else 0

    n = V * C  # token embedding
    n += config.block_size * C if config.pos == "learned" else 0
    n += config.n_token_types * C
    n += 2 * C if config.embed_norm else 0
    if config.arch in ("encoder", "encoder-decoder"):
        n += config.n_layer * block + final_norm
    if config.arch == "decoder":
        n += config.n_layer * block + final_norm
    if config.arch == "encoder-decoder":
        n += config.n_layer * cross_block + final_norm
    if config.lm_head and not config.tie_weights:
        n += C * V
    return n
