"""Checkpoints as two plain files: weights in safetensors, everything else in readable JSON.

`NAME.safetensors` holds only tensors (no pickle, so loading a file cannot run code);
`NAME.json` holds the config to rebuild the Transformer, the tokenizer, how the model was
trained (the recipe) and what it reached (the metrics). A tied LM head is the token-embedding
matrix itself, so it is stored once and re-tied on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .model import Transformer

FORMAT = "llm_core-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode), its tokenizer and the JSON record."""

    model: Transformer
    tokenizer: Any  # llm_core.tokenizers.Tokenizer, or None when none was saved
    recipe: dict  # objective, steps, lr, seed, data, seconds ...
    metrics: dict  # what the model reached: val loss, accuracies ...
    meta: dict  # the whole JSON sidecar

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def _paths(path: str | Path) -> tuple[Path, Path]:
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def _dedupe(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Keep one name per shared tensor; return the others as {alias: kept name}."""
    kept: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, t in state.items():
        key = (t.device, t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()))
        if key in seen:
            aliases[name] = seen[key]
        else:
            seen[key] = name
            kept[name] = t.detach().cpu().contiguous()
    return kept, aliases


def save(
    model: Transformer,
    path: str | Path,
    *,
    tokenizer: Any = None,
    recipe: dict | None = None,
    metrics: dict | None = None,
) -> Path:
    """Write PATH.safetensors and PATH.json; returns the JSON path."""
    weights_path, json_path = _paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors, aliases = _dedupe(model.state_dict())
    save_file(tensors, str(weights_path), metadata={"format": "pt"})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "config": model.config.to_dict(),
        "tied": aliases,
        "tokenizer": None if tokenizer is None else json.loads(tokenizer.to_json()),
        "recipe": recipe or {},
        "metrics": metrics or {},
    }
    json_path.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return json_path


def read_meta(path: str | Path) -> dict:
    """The JSON sidecar alone: config, recipe and metrics without loading any weights."""
    meta = json.loads(_paths(path)[1].read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not an llm_core checkpoint")
    return meta


def load(path: str | Path, device: torch.device | str | None = None) -> Checkpoint:
    """Rebuild the Transformer from the JSON config and fill it from safetensors; never unpickles."""
    weights_path, _ = _paths(path)
    meta = read_meta(path)
    model = Transformer(ModelConfig.from_dict(meta["config"]))
    state = load_file(str(weights_path))
    for alias, source in meta["tied"].items():
        state[alias] = state[source]
    model.load_state_dict(state, strict=True)
    if device is not None:
        model.to(device)
    tokenizer = None
    if meta["tokenizer"] is not None:
        from .tokenizers import Tokenizer

        tokenizer = Tokenizer.from_json(json.dumps(meta["tokenizer"]))
    return Checkpoint(model.eval(), tokenizer, meta["recipe"], meta["metrics"], meta)
