"""Speed of tokenizer training and of the hand-written BPE replay, against HF's Rust code.

    python bench/bench_tokenizers.py

Prints ratios, since absolute times on a shared machine say little:
  1. HF BPE training (2,000 tokens) on 1 MB of text vs our pure-Python replay of the same
     merges on one page (~3,000 characters): the replay is for teaching, not for corpora;
  2. the replay vs HF encoding the same page;
  3. training a 2,000-token BPE on the prose corpus (the page's default; goal: under 2 s),
     and counting how often each merge's pair occurred (goal: under 2 s).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llm_core.data import prose_corpus, synthetic_corpus  # noqa: E402
from llm_core.tokenizers import bpe_merges, merge_counts, replay_bpe, train_tokenizer  # noqa: E402


def median_time(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    prose = prose_corpus()
    megabyte = (prose + "\n\n" + synthetic_corpus(1_000_000 - len(prose), seed=0))[:1_000_000]
    page = prose[:3000]

    train_1mb = median_time(lambda: train_tokenizer("bpe", megabyte, 2000, count_frequencies=False), 3)
    tok = train_tokenizer("bpe", megabyte, 2000, count_frequencies=False)
    merges = bpe_merges(tok)
    replay_page = median_time(lambda: replay_bpe(tok, page, merges=merges))
    hf_page = median_time(lambda: tok.encode(page), 20)
    assert replay_bpe(tok, page, merges=merges) == tok.encode(page)

    train_prose = median_time(lambda: train_tokenizer("bpe", prose, 2000, count_frequencies=False))
    train_prose_freq = median_time(lambda: train_tokenizer("bpe", prose, 2000))
    prose_tok = train_tokenizer("bpe", prose, 2000)
    counts = median_time(lambda: merge_counts(prose_tok, prose), 3)

    print(f"corpus: {len(megabyte):,} chars (prose + synthetic); page: {len(page):,} chars; {len(merges):,} merges")
    print(f"HF BPE training on 1 MB           {train_1mb * 1e3:9.1f} ms")
    print(f"Python replay of the merges, page {replay_page * 1e3:9.1f} ms")
    print(f"HF encode, same page              {hf_page * 1e3:9.3f} ms")
    print(f"  ratio replay(page) / HF training(1 MB): {replay_page / train_1mb:.3f}")
    print(f"  ratio replay(page) / HF encode(page):   {replay_page / hf_page:.0f}x slower")
    print(f"  chars/s: HF training {len(megabyte) / train_1mb:,.0f}, Python replay {len(page) / replay_page:,.0f}"
          f" (ratio {len(megabyte) / train_1mb / (len(page) / replay_page):.1f})")  # fmt: skip
    print(f"BPE 2,000 on prose ({len(prose):,} chars)   {train_prose * 1e3:9.1f} ms"
          f"  (with frequencies {train_prose_freq * 1e3:.1f} ms; goal < 2,000 ms)")  # fmt: skip
    print(f"merge pair counts, 2,000 merges   {counts * 1e3:9.1f} ms  (goal < 2,000 ms)")


if __name__ == "__main__":
    main()
