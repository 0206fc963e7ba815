"""The tiny pre-trained models shipped in `assets/`, loaded by name.

    decoder   GPT-style LM on the synthetic world (word-level vocabulary of the whole world)
    encoder   BERT-style masked LM on the same text and vocabulary
    seq2seq   encoder-decoder on digit-sequence tasks (reverse, sort, spell)
    icl       decoder trained on few-shot episodes of sequence tasks: in-context learning

`python -m llm_core.pretrain` makes them; each JSON sidecar says how, and what they reached.
`untrained(name)` rebuilds the same network from the same initialisation seed with no training,
the "before" of every before/after comparison.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from . import checkpoints
from .config import ModelConfig
from .model import Transformer
from .tokenizers import Tokenizer

ASSETS = Path(__file__).resolve().parent.parent / "assets"
NAMES: tuple[str, ...] = ("decoder", "encoder", "seq2seq", "icl")


def initial_model(config: ModelConfig, seed: int) -> Transformer:
    """The network as it is before training: a seeded initialisation, without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Transformer(config)


def checkpoint_path(name: str, assets: Path = ASSETS) -> Path:
    if name not in NAMES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(NAMES)}")
    return assets / name


def meta(name: str, assets: Path = ASSETS) -> dict:
    """Config, recipe and metrics of a shipped model, without loading its weights."""
    return checkpoints.read_meta(checkpoint_path(name, assets))


def load(
    name: str, device: torch.device | str | None = None, assets: Path = ASSETS
) -> tuple[Transformer, Tokenizer, dict]:
    """(model in eval mode, its tokenizer, the JSON record) of a shipped model."""
    ckpt = checkpoints.load(checkpoint_path(name, assets), device)
    return ckpt.model, ckpt.tokenizer, ckpt.meta


def untrained(
    name: str, device: torch.device | str | None = None, assets: Path = ASSETS
) -> tuple[Transformer, Tokenizer, dict]:
    """The same config and initialisation seed as the shipped model, with no training at all."""
    record = meta(name, assets)
    model = initial_model(ModelConfig.from_dict(record["config"]), record["recipe"]["seed"])
    if device is not None:
        model.to(device)
    tokenizer = Tokenizer.from_json(json.dumps(record["tokenizer"]))
    return model.eval(), tokenizer, record
