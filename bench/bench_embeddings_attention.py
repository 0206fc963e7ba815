"""How fast the Embeddings and Attention pages answer a student, with warm caches.

    python bench/bench_embeddings_attention.py

Prints, through AppTest (app.py + the page; scripts compiled once, as a server does):
  1. Attention page, MiniLM: a layer/head change to a head not seen before (one forward pass is
     cached per sentence; the head's figures are built), the same changes again (everything
     cached), and a new sentence (forward pass, 72-head grid and every figure). Goals: median
     under 300 ms for a layer/head change, under 1 s for a new sentence.
  2. Attention page, tiny decoder: a layer/head change.
  3. Embeddings page: a new neighbour search (tiny decoder, both plots), the first switch to t-SNE
     (two t-SNE runs: before and after training) and later switches.
  4. t-SNE of the tiny decoder's vocabulary (2D and 3D) and PCA, called directly. Goal: t-SNE < 3 s.
Wall time is median and 90th percentile; CPU is the process's median CPU time per rerun, which
other work on a shared machine disturbs less.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.apptest_server import run_through_app_every_time, share_script_cache  # noqa: E402
from llm_core import zoo  # noqa: E402
from llm_core.embeddings import embedding_matrix, project, vocabulary_words  # noqa: E402

SENTENCES = [
    "the dog sees a bird in the garden .",
    "anna and ben go to the park , and ben gives an apple to anna .",
    "the red fox chases the small rabbit near the river .",
    "my phone battery died while i was reading about attention heads",
    "two cats sleep in the house because they are tired .",
    "the students asked why the softmax saturates for long vectors",
]


def open_page(url_path: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params.update(query)
    at._page_hash = calc_hash(url_path)
    at.run()
    assert not at.exception, at.exception
    return at


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
    return (f"median {statistics.median(walls) * 1e3:6.0f} ms   p90 {p90 * 1e3:6.0f} ms   "
            f"CPU {cpu * 1e3:6.0f} ms   (n={len(samples)})")


def set_head(layer: int, head: int):
    def change(at: AppTest) -> None:
        at.slider(key="layer").set_value(layer)
        at.slider(key="head").set_value(head)

    return change


def attention(model: str, n_layer: int, n_head: int) -> None:
    at = open_page("attention", model=model)
    heads = [(i % n_layer, (5 * i + 1) % n_head) for i in range(12)]
    heads = list(dict.fromkeys(h for h in heads if h != (0, 0)))
    first = [timed(at, set_head(*h)) for h in heads]
    again = [timed(at, set_head(*h)) for h in heads]
    print(f"  {model:13s} layer/head change, new head     {summary(first)}")
    print(f"  {model:13s} layer/head change, seen before  {summary(again)}")
    if model == "MiniLM":
        new = [timed(at, lambda a, s=s: a.text_input(key="text").input(s)) for s in SENTENCES]
        print(f"  {model:13s} new sentence                    {summary(new)}")


def embeddings() -> None:
    at = open_page("embeddings")
    words = ["dog", "apple", "red", "house", "runs", "three", "anna", "happy"]
    search = [timed(at, lambda a, w=w: a.text_input(key="word").input(w)) for w in words]
    print(f"  tiny decoder  new neighbour search            {summary(search)}")
    again = [timed(at, lambda a, w=w: a.text_input(key="word").input(w)) for w in words]
    print(f"  tiny decoder  neighbour search, seen before   {summary(again)}")
    cold = timed(at, lambda a: a.segmented_control(key="method").set_value("t-SNE"))
    print(f"  tiny decoder  first switch to t-SNE (2 plots) {cold[0] * 1e3:6.0f} ms wall, {cold[1] * 1e3:6.0f} ms CPU")
    methods = [timed(at, lambda a, m=m: a.segmented_control(key="method").set_value(m))
               for m in ("PCA", "t-SNE", "PCA", "t-SNE")]  # fmt: skip
    print(f"  tiny decoder  PCA <-> t-SNE, seen before      {summary(methods)}")


def projections() -> None:
    model, tokenizer, _ = zoo.load("decoder")
    _, ids, _ = vocabulary_words(tokenizer)
    vectors = embedding_matrix(model)[ids]
    for method, dims in (("PCA", 2), ("t-SNE", 2), ("t-SNE", 3)):
        walls, cpus = [], []
        for seed in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            project(vectors, method, dims, seed=seed)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        print(f"  {method:5s} {dims}D of {len(ids)} words x {vectors.shape[1]} dims: "
              f"median {statistics.median(walls):5.2f} s wall, {statistics.median(cpus):5.2f} s CPU   "
              "(goal for t-SNE < 3 s)")


def main() -> None:
    run_through_app_every_time()
    share_script_cache()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("1-2. Attention page rerun latency (warm caches: models loaded, page opened once)")
    attention("MiniLM", 6, 12)
    decoder = zoo.meta("decoder")["config"]
    attention("tiny decoder", decoder["n_layer"], decoder["n_head"])
    print("3. Embeddings page rerun latency")
    embeddings()
    print("4. Projections of the tiny decoder's vocabulary")
    projections()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
