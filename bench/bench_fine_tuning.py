"""Fine-tuning page: how long each default run takes, and whether the page slows training down.

    PYTHONPATH=. .venv/bin/python bench/bench_fine_tuning.py [--threads N] [--repeats R] [--no-page]

1. Each section's default experiment (`finetune.DEFAULTS`), run headless on the shipped tiny
   models: seconds until it first reaches its stated result, and seconds for the whole default
   run. Goal: every default run ends within 30 s on 2 CPU cores.
2. Training tokens/s inside the page (a real `streamlit run app.py` server, driven by Chromium,
   drawing the live curves) vs the same experiment run headless in this process, alternated
   R times. The page trains with the server's cores split between its training slots
   (`training.training_threads()`, 1 of 2 here); headless runs with that many torch threads,
   so that the ratio measures what the page costs, and again with every thread, for reference.
   Goal: page / headless >= 0.85 (the page must not slow training down). In class the
   browser runs on the student's computer, not on the server; here it shares the two cores,
   so it runs at the lowest priority (nice 19) to take only what training leaves.

3. Two trainings at once, as the server's cap on trainings allows, each in its own thread of one
   process, with torch using 2 threads and then 1: what the server's thread setting costs when
   students train together.

This machine is shared: the load average is printed with the figures, and ratios come from
runs made back to back.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from llm_core import finetune, zoo
from llm_core import objectives as O
from llm_core.data import instruction_split
from llm_core.train import TrainMetrics
from pages.common import limits

ROOT = Path(__file__).resolve().parents[1]
# The result each section states on the page, and how to read it from a validation step.
TARGETS: dict[str, tuple[str, Callable[[dict[str, dict]], bool]]] = {
    "task": ("full fine-tune reaches 80% held-out accuracy (topic task, 16 labels)",
             lambda val: val.get("full", {}).get("accuracy", 0) >= 0.80),
    "instruct": ("40% of held-out questions answered exactly",
                 lambda val: val.get("instruction-tuned", {}).get("exact_match", 0) >= 0.40),
    "preference": ("every held-out pair prefers the preferred answer",
                   lambda val: val.get("preference-tuned", {}).get("reward_accuracy", 0) >= 1.0),
}  # fmt: skip
PAGE_URLS = {
    "task": "/fine_tuning?section=task",
    "instruct": "/fine_tuning?section=instruct",
    "preference": "/fine_tuning?section=preference",
}
BUTTONS = {"task": "Train all three", "instruct": "Instruction-tune", "preference": "Preference-tune"}


def experiment(section: str, models: dict, seed: int = 0) -> Iterator[tuple[str, TrainMetrics]]:
    """The same training the page starts with its default settings, without the page."""
    d = finetune.DEFAULTS[section]
    common = {"steps": d["steps"], "lr": d["lr"], "batch_size": d["batch_size"], "seed": seed,
              "max_seconds": d["max_seconds"]}  # fmt: skip
    if section == "task":
        encoder, tokenizer = models["encoder"]
        train, val, names = finetune.labelled_task("topic", 16, seed=seed)
        methods = finetune.DOWNSTREAM_METHODS
        classifiers = {m: finetune.make_classifier(encoder, m, len(names), seed=seed) for m in methods}
        return finetune.train_downstream(classifiers, tokenizer, train, val, **common)
    decoder, tokenizer = models["decoder"]
    if section == "instruct":
        model = finetune.trainable_copy(decoder)
        train, val = instruction_split()
        return (("instruction-tuned", m) for m in finetune.train_instructions(model, tokenizer, train, val, **common))
    start = models["start"]
    train, val = finetune.preference_split()
    policy, reference = finetune.trainable_copy(start), O.frozen_copy(start)
    run = finetune.train_preferences(policy, reference, tokenizer, train, val, beta=d["beta"],
                                     sft_weight=d["sft_weight"], **common)  # fmt: skip
    return (("preference-tuned", m) for m in run)


def headless(section: str, models: dict) -> dict:
    """Run one default experiment; when it first met its target, how long in all, tokens/s."""
    reached, last, val = None, {}, {}
    start = time.perf_counter()
    for name, m in experiment(section, models):
        last[name] = m
        if m.val is not None:
            val[name] = m.val
            if reached is None and TARGETS[section][1](val):
                reached = m.elapsed
    return {
        "seconds": time.perf_counter() - start,
        "reached": reached,
        "steps": max(m.step for m in last.values()),
        "tokens_per_s": sum(m.tokens_per_s for m in last.values()),
        "final": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in val.items()},
    }


# --- the page in a browser --------------------------------------------------------------------


def serve(threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LLM_APP_THREADS": str(threads)}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return server, url
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("the app server did not start")


def niced_chromium() -> Path:
    """A launcher that starts Chromium at the lowest CPU priority."""
    script = Path(tempfile.gettempdir()) / "bench_fine_tuning_chromium.sh"
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    script.write_text(f'#!/bin/sh\nexec nice -n 19 {chromium} "$@"\n')
    script.chmod(0o755)
    return script


def in_page(browser, url: str, section: str) -> float:
    """Train with the page's defaults in a fresh tab and read the tokens/s the page reports at the end."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(180_000)
    page.goto(url + PAGE_URLS[section])
    page.wait_for_selector("[data-test-script-state='notRunning']")
    page.get_by_role("button", name=BUTTONS[section]).click()
    # Look for the end twice a second: a locator's wait searches the page at every frame and would
    # take more of the shared cores than the page itself.
    page.wait_for_function("() => /Finished|Stopped/.test(document.body.innerText)", polling=500)
    text = page.get_by_text(re.compile(r"training tokens/s")).first.inner_text()
    page.close()
    return float(re.search(r"([\d,]+) training tokens/s", text).group(1).replace(",", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads, here and in the server")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-page", action="store_true", help="only the headless timings")
    ap.add_argument("--sections", default=",".join(TARGETS), help="comma-separated: task,instruct,preference")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip

    encoder, enc_tok, _ = zoo.load("encoder")
    decoder, dec_tok, _ = zoo.load("decoder")
    t = time.perf_counter()
    start = finetune.answering_both_ways(decoder, dec_tok, finetune.preference_split()[0])
    print(f"preference starting model (once per server): {time.perf_counter() - t:.1f} s")
    models = {"encoder": (encoder, enc_tok), "decoder": (decoder, dec_tok), "start": start}

    print("\n1. Default runs, headless")
    for section, (target, _) in TARGETS.items():
        r = headless(section, models)
        reached = "not reached" if r["reached"] is None else f"{r['reached']:.1f} s"
        ok = "ok" if r["seconds"] <= 30 else "OVER 30 s"
        print(f"  {section:10s} {r['steps']:4d} steps in {r['seconds']:5.1f} s ({ok}); "
              f"'{target}': {reached}; final validation {r['final']}")  # fmt: skip

    print("\n3. Two default instruction tunings at once (two students), per torch thread count")
    for threads in (2, 1):
        torch.set_num_threads(threads)
        results: list[dict] = []

        def one_student(out: list[dict] = results) -> None:
            out.append(headless("instruct", models))

        workers = [threading.Thread(target=one_student) for _ in range(2)]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - t
        rates = ", ".join(f"{r['tokens_per_s']:,.0f}" for r in results)
        print(f"  torch threads {threads}: both done in {wall:5.1f} s; steps {[r['steps'] for r in results]}; "
              f"tokens/s each {rates}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    torch.set_num_threads(args.threads)

    if args.no_page:
        return
    from playwright.sync_api import sync_playwright

    print(f"\n2. Training tokens/s: page (Chromium, live curves) vs headless, {args.repeats} alternations")
    per_training = max(1, args.threads // limits.CONCURRENT_TRAININGS)  # as training.training_threads()
    server, url = serve(args.threads)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(niced_chromium()), args=["--no-sandbox", "--disable-gpu"])
            for section in args.sections.split(","):
                in_page(browser, url, section)  # warm-up: models loaded, starting model built
                ratios, ratios_all = [], []
                for _ in range(args.repeats):
                    torch.set_num_threads(per_training)
                    alone = headless(section, models)["tokens_per_s"]
                    torch.set_num_threads(args.threads)
                    alone_all = headless(section, models)["tokens_per_s"]
                    shown = in_page(browser, url, section)
                    ratios.append(shown / alone)
                    ratios_all.append(shown / alone_all)
                    print(f"  {section:10s} page {shown:8,.0f} tok/s   headless {alone:8,.0f} tok/s "
                          f"({per_training} thread(s)), {alone_all:8,.0f} tok/s ({args.threads})   "
                          f"ratios {shown / alone:.2f}, {shown / alone_all:.2f}")  # fmt: skip
                print(f"  {section:10s} median ratio {statistics.median(ratios):.2f} (goal >= 0.85); "
                      f"vs headless on every thread {statistics.median(ratios_all):.2f}")  # fmt: skip
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
