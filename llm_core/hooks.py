"""Named hook points and `capture`, the one way to read activations out of a model.

Every interesting tensor passes through an identity `HookPoint`; its name comes from the
module tree (``decoder.blocks.0.attn.hook_pattern``). `capture` attaches forward hooks for
the duration of a ``with`` block and removes them on exit, so nothing is ever stored on a
module between calls. A capture records only the forward passes of the thread that opened it, so
two sessions running one shared cached model at the same moment never see each other's data.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class HookPoint(nn.Identity):
    """Returns its input unchanged; exists so that `capture` has a named place to look."""


def hook_names(model: nn.Module) -> list[str]:
    """All hook-point names of a model, in module order."""
    return [name for name, module in model.named_modules() if isinstance(module, HookPoint)]


@contextmanager
def capture(model: nn.Module, patterns: str | Iterable[str] = "*") -> Iterator[dict[str, torch.Tensor]]:
    """Record the output of every hook point whose name matches a glob pattern.

    >>> with capture(model, "decoder.blocks.*.attn.hook_pattern") as acts:
    ...     model(idx)
    >>> acts["decoder.blocks.0.attn.hook_pattern"].shape  # (B, H, T, T)

    The tensors are detached; a name seen twice (e.g. during generation) keeps the last call.
    """
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    acts: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, HookPoint) and any(fnmatch.fnmatchcase(name, p) for p in patterns):
            handles.append(module.register_forward_hook(_recorder(acts, name, threading.get_ident())))
    try:
        yield acts
    finally:
        for handle in handles:
            handle.remove()


def _recorder(acts: dict[str, torch.Tensor], name: str, owner: int):
    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if threading.get_ident() == owner:  # another session's pass through the same model is not ours
            acts[name] = output.detach()

    return hook
