"""Generation speed with the KV cache against full recomputation, timed in the same run.

    python bench/bench_generate.py

Without a cache, step t runs the whole sequence of t tokens through the model again; with one,
it runs only the new token and reuses the stored keys and values, so the work per step stays
flat instead of growing. The ratio printed is tokens/s with the cache over tokens/s without
(goal: at least 2x at 256 new tokens). Greedy decoding, so both paths must produce the same tokens.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from llm_core.config import ModelConfig  # noqa: E402
from llm_core.device import configure_threads, describe_device, pick_device  # noqa: E402
from llm_core.generate import generate  # noqa: E402
from llm_core.model import Transformer  # noqa: E402

CONFIG = ModelConfig(vocab_size=256, block_size=320, n_layer=4, n_head=4, n_embd=128)
PROMPT = [1, 17, 42, 99, 7, 3, 250, 12]
NEW_TOKENS = 256
ROUNDS = 3


def main() -> None:
    configure_threads()
    device = pick_device()
    torch.manual_seed(0)
    model = Transformer(CONFIG).to(device).eval()
    with torch.no_grad():  # larger weights than the initialisation, so greedy decoding does not loop on one token
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.2)

    def run(use_cache: bool) -> tuple[float, list[int]]:
        start = time.perf_counter()
        out = generate(model, PROMPT, NEW_TOKENS, greedy=True, use_cache=use_cache, record=False)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return len(out.tokens) / (time.perf_counter() - start), out.tokens

    run(True), run(False)  # warm-up
    speeds: dict[bool, list[float]] = {True: [], False: []}
    tokens: dict[bool, list[int]] = {}
    for _ in range(ROUNDS):  # interleaved, so a noisy neighbour slows both alike
        for use_cache in (True, False):
            speed, tokens[use_cache] = run(use_cache)
            speeds[use_cache].append(speed)
    cached, full = statistics.median(speeds[True]), statistics.median(speeds[False])
    print(f"device: {describe_device(device)}")
    print(f"decoder: {CONFIG.n_layer} layers, n_embd {CONFIG.n_embd}, block_size {CONFIG.block_size}; "
          f"{NEW_TOKENS} new tokens after a {len(PROMPT)}-token prompt, greedy")
    print(f"with KV cache:       {cached:8.1f} tokens/s")
    print(f"without (recompute): {full:8.1f} tokens/s")
    print(f"ratio: {cached / full:.2f}x (goal >= 2x); same tokens: {tokens[True] == tokens[False]}")


if __name__ == "__main__":
    main()
