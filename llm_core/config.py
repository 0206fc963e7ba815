"""One frozen dataclass describes every model the app builds.

Frozen, so a config hashes and can key a cache; every architecture choice the lecture
talks about (encoder / decoder / encoder-decoder, positional encoding, where the layer
norm sits, whether the residual shortcut is there at all) is a field, so an ablation is
just another config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

Arch = Literal["encoder", "decoder", "encoder-decoder"]
PositionalEncoding = Literal["learned", "sinusoidal", "none"]
NormPlacement = Literal["pre", "post", "none"]
Activation = Literal["gelu", "gelu_tanh", "relu"]


@dataclass(frozen=True)
class ModelConfig:
    """Hyperparameters of a Transformer; everything needed to rebuild it from scratch."""

    vocab_size: int = 64
    block_size: int = 64  # longest sequence the positional encoding covers
    n_layer: int = 2  # blocks per stack (an encoder-decoder has this many in each stack)
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    arch: Arch = "decoder"
    pos: PositionalEncoding = "learned"
    norm: NormPlacement = "pre"  # "pre": GPT-2 style; "post": original Transformer / BERT
    residual: bool = True  # False removes the shortcut around attention and MLP (ablation)
    activation: Activation = "gelu"
    mlp_ratio: int = 4  # width of the feed-forward hidden layer, in multiples of n_embd
    bias: bool = True
    tie_weights: bool = True  # LM head shares the token-embedding matrix
    lm_head: bool = True  # False for a bare encoder such as MiniLM (sentence embeddings)
    n_token_types: int = 0  # BERT's segment embeddings (sentence A / sentence B)
    embed_norm: bool = False  # BERT normalises the summed embeddings
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.arch not in ("encoder", "decoder", "encoder-decoder"):
            raise ValueError(f"unknown arch {self.arch!r}")
        if self.pos not in ("learned", "sinusoidal", "none"):
            raise ValueError(f"unknown positional encoding {self.pos!r}")
        if self.norm not in ("pre", "post", "none"):
            raise ValueError(f"unknown norm placement {self.norm!r}")

    @property
    def head_size(self) -> int:
        """d_k in the lecture's notation."""
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(**d)

    def replace(self, **changes) -> ModelConfig:
        return replace(self, **changes)
