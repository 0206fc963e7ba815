"""Speed of the shared Transformer against references timed in the same run.

    python bench/bench_model.py

Prints ratios, since absolute times on a shared machine say little:
  1. a training step of our decoder vs `transformers` GPT2LMHeadModel, same shape and batch;
  2. model FLOP/s during that training vs a 1024x1024 fp32 matmul (what this CPU can do);
  3. MiniLM sentences/s through llm_core vs sentence-transformers, and cold load times.

1 and 2 are measured for both GELUs, each on both decoders: the exact one, our default and what
every model of the app trains with, and GPT-2's tanh approximation (whose kernel in this CPU build
of torch is about six times slower than the exact one); with one torch thread, as each training of
the app runs on this machine (`pages/common/training.py`), and with every thread. The batch is
12 full blocks of 64 tokens.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from llm_core.config import ModelConfig  # noqa: E402
from llm_core.device import configure_threads  # noqa: E402
from llm_core.model import Transformer  # noqa: E402
from llm_core.params import parameter_count  # noqa: E402
from llm_core.train import adamw  # noqa: E402

SHAPE = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, vocab_size=65)
BATCH = 12


def median_time(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_step_fn(model: torch.nn.Module, forward):
    opt = adamw(model.parameters(), lr=1e-3)  # llm_core's optimizer, for both models
    # A full block of inputs per row, and one more token for the shifted targets.
    idx = torch.randint(0, SHAPE["vocab_size"], (BATCH, SHAPE["block_size"] + 1))

    def step():
        loss = forward(model, idx)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def interleaved(fns: dict, rounds: int = 5, repeats: int = 10) -> dict[str, float]:
    """Alternate the contenders so that a noisy neighbour slows both alike."""
    results = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            results[name].append(median_time(fn, repeats, warmup=1))
    return {name: statistics.median(ts) for name, ts in results.items()}


GELUS = {"gelu": "gelu", "gelu_tanh": "gelu_new"}  # our activation -> GPT-2's name for the same function


def bench_training(threads: int, activation: str) -> None:
    """One line: both decoders with the same activation, on `threads` torch threads."""
    import transformers

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ours = Transformer(ModelConfig(**SHAPE, activation=activation)).train()
    gpt2 = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=SHAPE["vocab_size"], n_positions=SHAPE["block_size"], n_embd=SHAPE["n_embd"],
        n_layer=SHAPE["n_layer"], n_head=SHAPE["n_head"], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        activation_function=GELUS[activation],
    )).train()
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    t = interleaved({
        "ours": train_step_fn(ours, lambda m, idx: m(idx[:, :-1], idx[:, 1:])[1]),
        "gpt2": train_step_fn(gpt2, lambda m, idx: m(idx[:, :-1], labels=idx[:, :-1]).loss),
        "matmul": lambda: a @ b,  # what this CPU can do, timed between the steps: a busy neighbour slows all three
    }, rounds=7)
    tokens = BATCH * SHAPE["block_size"]
    # Training FLOPs ~ 6 * N * tokens (forward 2N, backward 4N) + attention's 12 * L * T * C per token.
    config = ours.config
    flops = 6 * parameter_count(config) * tokens + 12 * config.n_layer * SHAPE["block_size"] * config.n_embd * tokens
    peak = 2 * 1024**3 / t["matmul"]
    achieved = flops / t["ours"]
    print(f"{threads:>7} {activation:>10} {t['ours'] * 1e3:9.1f} {t['gpt2'] * 1e3:9.1f} {t['ours'] / t['gpt2']:10.2f} "
          f"{tokens / t['ours']:9.0f} {achieved / 1e9:9.1f} {peak / 1e9:8.1f} {achieved / peak:10.2f}")


def bench_minilm() -> None:
    import sentence_transformers

    from llm_core.pretrained import load_minilm, minilm_dir

    start = time.perf_counter()
    ours = load_minilm()
    load_ours = time.perf_counter() - start
    start = time.perf_counter()
    reference = sentence_transformers.SentenceTransformer(str(minilm_dir()), device="cpu")
    load_ref = time.perf_counter() - start
    words = ["the", "cat", "dog", "sat", "on", "a", "mat", "while", "markets", "fell", "and", "rain",
             "came", "down", "over", "quiet", "hills"]
    sentences = [" ".join(words[(i * 7 + j) % len(words)] for j in range(8 + i % 17)) for i in range(256)]
    t = interleaved({
        "ours": lambda: ours.sentence_embedding(sentences),
        "ref": lambda: reference.encode(sentences, batch_size=64),
    }, rounds=7, repeats=2)
    print(f"MiniLM       ours {256 / t['ours']:7.0f} sent/s  sentence-transformers {256 / t['ref']:7.0f} sent/s  "
          f"ratio = {t['ref'] / t['ours']:.2f}  (goal >= 1.0)")
    print(f"cold load    ours {load_ours:.2f} s  sentence-transformers {load_ref:.2f} s")


if __name__ == "__main__":
    threads = configure_threads()
    print("train step, ours vs GPT-2 (goal: ours/gpt2 <= 1.0); model FLOP/s vs a 1024^2 matmul (goal >= 0.5)")
    print(" threads activation   ours ms   gpt2 ms ours/gpt2  tokens/s   GFLOP/s   matmul FLOP ratio")
    for n in dict.fromkeys((1, threads)):
        for activation in GELUS:
            bench_training(n, activation)
    torch.set_num_threads(threads)
    print(f"MiniLM on {threads} torch thread(s)")
    bench_minilm()
