"""One training loop for every objective, written as a generator.

`train` yields a `TrainMetrics` after every optimizer step, so whoever drives it (a page that
streams a loss curve, the pre-training script, a test) decides what to do with each step and
can stop whenever it likes. Like minGPT's trainer it knows nothing about models or pages: it
takes a `batch_fn` that makes a batch and a `loss_fn` that turns (model, batch) into a loss
(see `objectives.py`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from .objectives import Batch, LossOutput

BatchFn = Callable[[torch.Generator], Batch]
LossFn = Callable[[nn.Module, Batch], "LossOutput | torch.Tensor"]
EvalFn = Callable[[nn.Module], dict[str, float]]
TOKEN_KEYS = ("idx", "src", "chosen_idx", "rejected_idx")  # what counts towards tokens/s


@dataclass
class TrainMetrics:
    """What one step reports. Validation fields are filled only on evaluation steps."""

    step: int  # optimizer steps done so far (1 after the first)
    loss: float  # training loss of this step's batch
    lr: float
    elapsed: float  # seconds since training started, evaluations included
    tokens_per_s: float  # training throughput over the whole run so far
    extras: dict[str, float] = field(default_factory=dict)  # e.g. accuracy, reward_margin
    val: dict[str, float] | None = None  # everything eval_fn returned
    stop_reason: str | None = None  # on the last step: "steps", "time", "stopped" or "nan"
    error: str | None = None  # a message for the user when training failed

    @property
    def val_loss(self) -> float | None:
        return None if self.val is None else self.val.get("loss")

    @property
    def val_accuracy(self) -> float | None:
        return None if self.val is None else self.val.get("accuracy")

    @property
    def done(self) -> bool:
        return self.stop_reason is not None


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def to_device(batch: Batch, device: torch.device) -> Batch:
    return {k: v.to(device) for k, v in batch.items()}


def _split(out: LossOutput | torch.Tensor) -> LossOutput:
    return out if isinstance(out, tuple) else (out, {})


def _stop_requested(stop: threading.Event | Callable[[], bool] | None) -> bool:
    if stop is None:
        return False
    return stop.is_set() if isinstance(stop, threading.Event) else bool(stop())


def lr_at(step: int, *, lr: float, steps: int, warmup: int, final_lr_ratio: float) -> float:
    """Linear warm-up, then cosine decay from lr to final_lr_ratio * lr at the last step."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (final_lr_ratio + (1 - final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], loss_fn: LossFn) -> dict[str, float]:
    """Mean loss (and mean of every extra, e.g. accuracy) over fixed batches, in eval mode."""
    was_training = model.training
    model.eval()
    device, totals, n = model_device(model), {}, 0
    for batch in batches:
        loss, extras = _split(loss_fn(model, to_device(batch, device)))
        for k, v in {"loss": loss.item(), **extras}.items():
            totals[k] = totals.get(k, 0.0) + v
        n += 1
    model.train(was_training)
    return {k: v / max(1, n) for k, v in totals.items()}


def train(
    model: nn.Module,
    batch_fn: BatchFn,
    loss_fn: LossFn,
    *,
    steps: int = 200,
    max_seconds: float | None = None,
    lr: float = 3e-3,
    warmup: int = 0,
    final_lr_ratio: float = 1.0,
    weight_decay: float = 0.0,
    grad_clip: float | None = 1.0,
    eval_fn: EvalFn | None = None,
    eval_every: int = 50,
    seed: int = 0,
    stop: threading.Event | Callable[[], bool] | None = None,
    device: torch.device | str | None = None,
) -> Iterator[TrainMetrics]:
    """Train `model` in place with AdamW, yielding metrics after every step.

    batch_fn(rng) makes the next batch from a torch.Generator seeded with `seed`; with dropout the
    global RNG is seeded too, so on the CPU the same seed gives the same losses. Training ends at
    `steps`, after `max_seconds`, when `stop` is set (a threading.Event or a callable returning
    True; checked after each step), or at a non-finite loss; the last metrics say which. Only
    parameters with requires_grad train (a frozen backbone stays frozen). Evaluation runs at the
    first step, every `eval_every` steps and the last step. Whatever happens, including the caller
    abandoning the generator, the model is left in eval mode.
    """
    if device is not None:
        model.to(device)
    device = model_device(model)
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)  # batches are built on the CPU, then moved
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = adamw(params, lr=lr, weight_decay=weight_decay)
    start, tokens = time.perf_counter(), 0
    model.train()
    try:
        if _stop_requested(stop):
            return
        for step in range(steps):
            step_lr = lr_at(step, lr=lr, steps=steps, warmup=warmup, final_lr_ratio=final_lr_ratio)
            for group in optimizer.param_groups:
                group["lr"] = step_lr
            batch = to_device(batch_fn(rng), device)
            loss, extras = _split(loss_fn(model, batch))
            tokens += sum(batch[k].numel() for k in TOKEN_KEYS if k in batch)
            metrics = TrainMetrics(step + 1, loss.item(), step_lr, 0.0, 0.0, extras)
            if not math.isfinite(metrics.loss):
                metrics.stop_reason = "nan"
                metrics.error = f"the loss became {metrics.loss} at step {step + 1}; try a lower learning rate"
            else:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, grad_clip)
                optimizer.step()
                metrics.elapsed = time.perf_counter() - start
                if metrics.step >= steps:
                    metrics.stop_reason = "steps"
                elif max_seconds is not None and metrics.elapsed >= max_seconds:
                    metrics.stop_reason = "time"
                elif _stop_requested(stop):
                    metrics.stop_reason = "stopped"
                if eval_fn is not None and (step == 0 or metrics.step % eval_every == 0 or metrics.done):
                    model.eval()
                    with torch.no_grad():
                        metrics.val = eval_fn(model)
                    model.train()
            metrics.elapsed = time.perf_counter() - start
            metrics.tokens_per_s = tokens / max(metrics.elapsed, 1e-9)
            yield metrics
            if metrics.done:
                return
    finally:
        model.eval()


def adamw(params, lr: float = 3e-3, weight_decay: float = 0.0) -> torch.optim.AdamW:
    """The optimizer of every training here. Fused: one kernel updates every parameter, instead of a
    loop of small operations per tensor that costs a small model a large share of each step."""
    return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=weight_decay, fused=True)


def run(training: Iterator[TrainMetrics]) -> list[TrainMetrics]:
    """Drive a training generator to the end and return every step's metrics (the loss curve)."""
    return list(training)
