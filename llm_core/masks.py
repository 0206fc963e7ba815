"""Attention masks as explicit boolean tensors: True means "this query may look at this key".

Masks are arguments, never hidden state, so a page can draw the very tensor that the
attention layer received.
"""

from __future__ import annotations

import torch


def causal_mask(T: int, S: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Decoder mask: query t sees keys 0..t (and, with a cache of S - T earlier keys, those too)."""
    S = T if S is None else S
    return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=S - T)  # (T, S)


def bidirectional_mask(T: int, S: int | None = None, device: torch.device | str | None = None) -> torch.Tensor:
    """Encoder (and cross-attention) mask: every query sees every key."""
    return torch.ones(T, T if S is None else S, dtype=torch.bool, device=device)  # (T, S)


def padding_mask(is_token: torch.Tensor) -> torch.Tensor:
    """From a (B, S) flag of real (non-padding) keys to a mask that broadcasts over heads and queries."""
    return is_token.bool()[:, None, None, :]  # (B, 1, 1, S)
