"""How fast the Tokenization page answers a student, and how fast it trains its default BPE.

    python bench/bench_tokenization_page.py

Prints:
  1. page rerun latency with warm caches, through AppTest (app.py + the page), for a text
     edit, a merge-slider step and a tokenizer switch: median and 90th percentile of wall time,
     and the median CPU time of the process (less sensitive to other work on a shared machine).
     Goal: median under 300 ms for a text edit. AppTest recompiles both scripts on every run,
     which a server does once; the second set of figures shares one compiled-script cache across
     runs, as `streamlit run` does;
  2. training the page's 2,000-token BPE on the real-prose corpus (frequencies included, as the
     page does), and the page's whole cold start for the merge explorer (training, merges, pair
     counts). Goal: training under 2 s;
  3. a step of the vocabulary-size slider to a size no student has chosen yet: every tokenizer of the page
     trained at that size, the merge history and the growth curves' BPE.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.apptest_server import run_through_app_every_time, share_script_cache  # noqa: E402
from llm_core.data import prose_corpus  # noqa: E402
from llm_core.tokenizers import bpe_merges, merge_counts, train_tokenizer  # noqa: E402

EDITS = 20
TEXTS = [
    "Tokenizers split rare words into frequent pieces, like reading and readers.",
    "The students were reading about tokenization and embeddings.",
    "Models are learning to split words like tokenization into pieces.",
    "Byte-pair encoding merges the most frequent pair of symbols, again and again.",
]


def timed(at: AppTest, change) -> tuple[float, float]:
    change(at)
    wall, cpu = time.perf_counter(), time.process_time()
    at.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert not at.exception, at.exception
    return wall, cpu


def summary(samples: list[tuple[float, float]]) -> str:
    walls = sorted(w for w, _ in samples)
    p90 = walls[int(0.9 * (len(walls) - 1))]
    cpu = statistics.median(c for _, c in samples)
    return f"median {statistics.median(walls) * 1e3:6.0f} ms   p90 {p90 * 1e3:6.0f} ms   CPU {cpu * 1e3:6.0f} ms"


def rerun_latency(label: str) -> float:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at._page_hash = calc_hash("tokenization")
    start = time.perf_counter()
    at.run()
    first = time.perf_counter() - start
    for text in TEXTS:  # warm every cache a text edit touches
        at.text_area(key="text").set_value(text).run()

    edits = [timed(at, lambda a, i=i: a.text_area(key="text").set_value(TEXTS[i % len(TEXTS)])) for i in range(EDITS)]
    n_merges = int(at.slider(key="merge").max)
    for k in range(n_merges - 10, n_merges):  # warm the merge chart for these steps
        at.slider(key="merge").set_value(k).run()
    steps = [timed(at, lambda a, k=k: a.slider(key="merge").set_value(k)) for k in range(n_merges - 10, n_merges)]
    kinds = ["word", "char", "bpe", "wordpiece", "minilm"] * 2
    switches = [timed(at, lambda a, kind=kind: a.radio(key="tokenizer").set_value(kind)) for kind in kinds]

    print(f"{label} (first run {first:.1f} s, caches may already be warm)")
    print(f"  text edit          {summary(edits)}   (goal: median < 300 ms)")
    print(f"  merge slider step  {summary(steps)}")
    print(f"  tokenizer switch   {summary(switches)}")
    return statistics.median(w for w, _ in edits)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bpe_training() -> None:
    prose = prose_corpus()
    train = median_time(lambda: train_tokenizer("bpe", prose, 2000), 5)

    def cold_explorer():
        tokenizer = train_tokenizer("bpe", prose, 2000)
        merge_counts(tokenizer, prose, bpe_merges(tokenizer))

    explorer = median_time(cold_explorer, 3)
    print(f"BPE of 2,000 tokens on the prose ({len(prose):,} characters)")
    print(f"  training, with token frequencies  {train * 1e3:7.0f} ms   (goal < 2,000 ms)")
    print(f"  + merges and pair counts          {explorer * 1e3:7.0f} ms   (the merge explorer's cold start)")


def vocabulary_steps() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at._page_hash = calc_hash("tokenization")
    at.run()
    sizes = [v for v in at.select_slider(key="vocab").options if int(v) != at.select_slider(key="vocab").value]
    steps = [timed(at, lambda a, v=v: a.select_slider(key="vocab").set_value(int(v))) for v in sizes]
    print(f"  vocabulary size step to a new size ({len(steps)} sizes)   {summary(steps)}")


def main() -> None:
    run_through_app_every_time()
    bpe_training()
    vocabulary_steps()
    rerun_latency("Page reruns through AppTest, as it runs them (scripts recompiled every run)")
    share_script_cache()
    rerun_latency("Page reruns through AppTest, scripts compiled once (as `streamlit run`)")


if __name__ == "__main__":
    main()
