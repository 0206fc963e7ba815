"""Sessions share one server process but nothing mutable: what one student gives or trains, no other sees.

Two AppTests in one process are two browser tabs on one server: they share every
`st.cache_resource` (models, tokenizers) and the server's training slots, and nothing else.
Checked here:
- a corpus pasted or uploaded on the Tokenization page, and the tokenizers trained on it, stay in
  that session; another one opening the same link sees the built-in corpus and vocabulary;
- every page that trains (through the live-training helper) trains copies: the shipped models
  hash the same after a run, and another session sees no run and may train at once;
- the live-training helper (`pages/common/training.py`) runs one training per session however
  often Train is clicked, stops a training whose tab has gone and frees its slot, ends a run
  whose loss becomes NaN or which runs out of memory with a message, and leaves other sessions'
  trainings running; when every slot is taken it says "busy" and starts nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from llm_core import device, zoo
from pages.common import limits, models, training
from tests.model_digest import weights_hash
from tests.page_catalog import training_pages

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180
WAIT_S = 60
# Words no built-in corpus has: if another session's page shows one, it leaked.
SECRET_WORDS = ["zorblax", "quindle", "frobnik", "glimmerwort", "snarfle", "vextrin"]
SECRET_CORPUS = " ".join(SECRET_WORDS * 40) + "\n"


def open_page(url_path: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT_S)
    at.query_params.update(query)
    at._page_hash = calc_hash(url_path)
    return at.run()


def shown_text(at: AppTest) -> str:
    """Everything the page shows as text or tables (dataframe cells included)."""
    kinds = ("markdown", "caption", "info", "error", "warning", "text", "code")
    parts = [e.value for kind in kinds for e in at.get(kind)]
    parts += [m.value for m in at.metric]
    parts += [df.value.to_string() for df in at.dataframe]
    return "\n".join(str(p) for p in parts)


def wait_until(condition: Callable[[], bool], at: AppTest | None = None, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
        if at is not None:
            at.run()


def live_run(at: AppTest, key: str) -> training.LiveRun | None:
    """The session's latest training under `key`, as `training.session_run` reads it inside the page."""
    mine = at.session_state.get(training.TRAININGS, None)
    return None if mine is None else mine.runs.get(key)


def free_slots() -> int:
    """How many training slots the server has free now (taken and given back at once)."""
    with ExitStack() as stack:
        for n in range(limits.CONCURRENT_TRAININGS + 1):
            try:
                stack.enter_context(limits.training_slot())
            except limits.Busy:
                return n
    return limits.CONCURRENT_TRAININGS + 1




@pytest.fixture(autouse=True)
def _no_training_left_running() -> Iterator[None]:
    yield
    wait_until(lambda: not [t for t in threading.enumerate() if t.name.startswith("training-")])
    assert free_slots() == limits.CONCURRENT_TRAININGS


# --- a student's own corpus -----------------------------------------------------------------------


@pytest.mark.parametrize("how", ["paste", "upload"])
def test_a_corpus_given_in_one_session_stays_in_it(how: str) -> None:
    a = open_page("tokenization", corpus="own", tokenizer="word")
    if how == "paste":
        a.text_area(key="corpus_paste").set_value(SECRET_CORPUS)
    else:
        a.file_uploader(key="corpus_upload").set_value(("mine.txt", SECRET_CORPUS.encode(), "text/plain"))
    a.text_area(key="text").set_value("zorblax quindle the cat")
    a.run()
    assert not a.exception
    shown_a = shown_text(a)
    assert "zorblax" in shown_a and "your " in shown_a  # A's page works on A's corpus (the check below can fail)
    vocabulary_size = next(m.value for m in a.metric if m.label == "Vocabulary size")
    assert vocabulary_size == str(7 + len(SECRET_WORDS))  # special tokens + A's words: trained on A's corpus

    b = open_page("tokenization", corpus="own", tokenizer="word")  # the same link, another tab
    assert not b.exception
    shown_b = shown_text(b)
    assert not [w for w in SECRET_WORDS if w in shown_b], "B sees words of A's corpus"
    assert any("Upload a file or paste" in i.value for i in b.info)
    assert "_tok_own" not in b.session_state
    assert b.text_area(key="corpus_paste").value == ""

    b_default = open_page("tokenization", tokenizer="word")
    assert "Real English prose" in shown_text(b_default)
    assert not [w for w in SECRET_WORDS if w in shown_text(b_default)]


def test_a_page_a_session_opens_later_does_not_inherit_state() -> None:
    """Widget state is per session: A's sentence, choices and seed do not reach B."""
    a = open_page("tokenization")
    a.text_area(key="text").set_value("zorblax frobnik").run()
    a.radio(key="tokenizer").set_value("char").run()
    a.number_input(key="seed").set_value(1234).run()
    b = open_page("tokenization")
    assert b.text_area(key="text").value != "zorblax frobnik"
    assert b.radio(key="tokenizer").value == "bpe"
    assert b.number_input(key="seed").value == 0
    assert a.text_area(key="text").value == "zorblax frobnik"  # and A still has its own


# --- a page that trains works on copies ---------------------------------------------------------




@pytest.mark.parametrize("url_path", training_pages())
def test_a_training_trains_a_copy_and_other_sessions_see_nothing(url_path: str) -> None:
    shipped = {name: models.tiny(name)[0] for name in zoo.NAMES if models.zoo_ready(name)}
    before = {name: weights_hash(model) for name, model in shipped.items()}

    a = open_page(url_path)
    train_key = next(b.key for b in a.button if b.key and b.key.endswith("_train") and not b.disabled)
    name = train_key.removesuffix("_train")
    a.button(key=train_key).click().run()
    run = live_run(a, name)
    wait_until(lambda: run.step >= 1 or not run.running, a)
    if run.running:
        a.button(key=f"{name}_stop").click().run()
    wait_until(lambda: not run.running, a)
    a.run()
    assert not a.exception
    # It took optimizer steps: a page training a shared model in place would change its hash below.
    assert run.step >= 1 and run.error is None and run.result is not None

    after = {name: weights_hash(model) for name, model in shipped.items()}
    assert after == before, "a training changed a shared, cached model"
    assert not any(model.training for model in shipped.values())

    b = open_page(url_path)
    assert live_run(b, name) is None  # A's run is A's
    assert not b.button(key=train_key).disabled  # and holds nothing of B's


# --- the live-training helper ------------------------------------------------------------------


def trainer_app() -> None:
    """A page that trains a small real model through pages/common/training.py; ?mode= picks a failure."""
    import os
    import threading
    import time

    import streamlit as st
    import torch

    from llm_core.train import train
    from pages.common import training

    mode = st.query_params.get("mode", "slow")

    def start(stop):
        if mode == "second_click":  # another rerun request (a double click's second half) arrives meanwhile
            from streamlit.runtime.scriptrunner import get_script_run_ctx
            from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

            get_script_run_ctx().script_requests.request_rerun(RerunData(query_string="mode=second_click"))
        model = torch.nn.Linear(4, 1)
        if mode == "nan":
            with torch.no_grad():
                model.weight.fill_(float("nan"))
        batches = []

        def batch_fn(rng):
            batches.append(1)
            time.sleep(0.05)  # slow steps: the run lasts while the test acts on it
            if mode == "oom" and len(batches) == 3:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            return {"x": torch.randn(8, 4, generator=rng)}

        threads_seen = set()  # (torch threads, OS niceness) of the thread that computes the loss

        def loss_fn(m, batch):
            threads_seen.add((torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
            return m(batch["x"]).pow(2).mean()

        metrics = train(model, batch_fn, loss_fn, steps=100_000, stop=stop)
        return (("run", m) for m in metrics), threads_seen

    key = st.query_params.get("key", "demo")  # another key: another section of the page
    training.live_training(key, start, lambda run: st.write(f"step {run.step}"), steps=100_000, max_seconds=60)


def trainer(mode: str = "slow") -> AppTest:
    at = AppTest.from_function(trainer_app, default_timeout=TIMEOUT_S)
    at.query_params["mode"] = mode
    return at.run()


def demo_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "training-demo" and t.is_alive()]


def click(at: AppTest, key: str, *, even_if_disabled: bool = False) -> None:
    button = at.button(key=key)
    if even_if_disabled:  # a double click whose second half arrives before the button is redrawn
        button.proto.disabled = False
    button.click()
    at.run()


def test_a_click_cut_short_by_a_newer_rerun_keeps_the_run_it_started() -> None:
    """Streamlit may end a callback at any access to session state when another rerun is asked for.

    Had that happened after the thread started and before the run was recorded, the run would
    train unseen and unstoppable, holding a slot, and the next click would start a second one.
    """
    at = trainer("second_click")
    click(at, "demo_train")
    run = live_run(at, "demo")
    assert run is not None and run.running and len(demo_threads()) == 1
    assert at.button(key="demo_train").disabled and not at.button(key="demo_stop").disabled
    click(at, "demo_train", even_if_disabled=True)
    assert live_run(at, "demo") is run and len(demo_threads()) == 1
    assert free_slots() == limits.CONCURRENT_TRAININGS - 1
    click(at, "demo_stop")
    wait_until(lambda: not run.running, at)
    assert run.reason == "stopped" and free_slots() == limits.CONCURRENT_TRAININGS


def test_a_second_click_does_not_start_a_second_run() -> None:
    at = trainer()
    click(at, "demo_train")
    first = live_run(at, "demo")
    assert first.running and at.button(key="demo_train").disabled
    click(at, "demo_train", even_if_disabled=True)
    click(at, "demo_train", even_if_disabled=True)
    assert live_run(at, "demo") is first
    assert len(demo_threads()) == 1
    assert free_slots() == limits.CONCURRENT_TRAININGS - 1  # one slot for this session, whatever the clicks
    click(at, "demo_stop")
    wait_until(lambda: not first.running, at)
    assert first.reason == "stopped" and free_slots() == limits.CONCURRENT_TRAININGS


class EndsAfterOneLook:
    """A training thread that ends the moment after the page first looks at it."""

    def __init__(self) -> None:
        self.looks = 0

    def is_alive(self) -> bool:
        self.looks += 1
        return self.looks == 1


def test_a_run_that_ends_while_the_page_draws_leaves_the_buttons_consistent() -> None:
    at = trainer()
    click(at, "demo_train")
    run = live_run(at, "demo")
    click(at, "demo_stop")
    wait_until(lambda: not run.running, at)
    run.thread = EndsAfterOneLook()
    at.run()  # the page sees the run alive, and it ends while the page is drawn
    assert run.thread.looks > 1  # the page did look again, after the run had ended
    # the watcher that drew the running run saw it end and redrew the page: Train is back
    assert not at.button(key="demo_train").disabled and at.button(key="demo_stop").disabled
    assert not at.exception


def test_another_section_waits_for_the_running_training_and_offers_its_button_when_it_ends() -> None:
    at = trainer()
    click(at, "demo_train")
    run = live_run(at, "demo")
    at.query_params["key"] = "second"
    at.run()
    assert at.button(key="second_train").disabled  # one training per session
    assert any("Another training of yours is running" in i.value for i in at.info)
    run.stop_event.set()  # stopped where it was started
    wait_until(lambda: not run.running)
    run.thread = EndsAfterOneLook()
    at.run()  # this section sees the other run alive; it ends while the section waits
    assert run.thread.looks > 1
    assert not at.button(key="second_train").disabled and not at.info
    assert not at.exception


def test_a_student_waiting_in_another_section_keeps_the_training_alive_and_can_stop_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(training, "HEARTBEAT_S", 1.0)
    at = trainer()
    click(at, "demo_train")
    run = live_run(at, "demo")
    at.query_params["key"] = "second"  # the student moves on to another section of the page, and waits there
    at.run()
    deadline = time.monotonic() + 3 * training.HEARTBEAT_S
    while time.monotonic() < deadline:
        time.sleep(0.2)
        at.run()  # the section looks once a second, as its fragment does in a browser
    assert run.running and run.reason is None  # not taken for a tab that was closed
    assert not at.button(key="second_stop").disabled  # the message says "stop it here": it can
    click(at, "second_stop")
    wait_until(lambda: not run.running, at)
    assert run.reason == "stopped"
    assert not at.exception


def test_each_training_takes_its_share_of_the_cores_at_a_lower_priority_and_pages_keep_theirs() -> None:
    before, niceness = torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    at = trainer()
    click(at, "demo_train")
    run = live_run(at, "demo")
    wait_until(lambda: run.step >= 2, at)
    click(at, "demo_stop")
    wait_until(lambda: not run.running, at)
    assert run.result == {(training.training_threads(), min(19, niceness + training.NICENESS))}
    assert training.training_threads() == max(1, device.configure_threads() // limits.CONCURRENT_TRAININGS)
    assert torch.get_num_threads() == before  # the page's own settings are untouched
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == niceness


def test_closing_the_tab_stops_the_training_and_frees_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(training, "HEARTBEAT_S", 1.0)  # a closed tab sends no more redraws
    at = trainer()
    click(at, "demo_train")
    run = live_run(at, "demo")
    assert run.running and free_slots() == limits.CONCURRENT_TRAININGS - 1
    del at  # the tab is gone: nothing redraws the training any more
    wait_until(lambda: not run.running, timeout_s=20)
    assert run.reason == "abandoned"
    assert free_slots() == limits.CONCURRENT_TRAININGS
    assert run.step >= 1  # it did train, and keeps what it trained


@pytest.mark.parametrize(("mode", "message"), [("nan", "loss became nan"), ("oom", "out of memory")])
def test_a_failing_run_ends_with_a_message_and_other_sessions_train_on(mode: str, message: str) -> None:
    other = trainer()
    click(other, "demo_train")
    other_run = live_run(other, "demo")

    failing = trainer(mode)
    click(failing, "demo_train")
    run = live_run(failing, "demo")
    wait_until(lambda: not run.running, failing)
    failing.run()
    assert not failing.exception
    assert any(message in e.value.lower() for e in failing.error), [e.value for e in failing.error]
    assert run.reason in ("nan", "error")
    assert not failing.button(key="demo_train").disabled  # the student can change something and train again

    assert other_run.running, "a failure in one session stopped another's training"
    steps = other_run.step
    wait_until(lambda: other_run.step > steps, other)
    click(other, "demo_stop")
    wait_until(lambda: not other_run.running, other)
    assert other_run.reason == "stopped" and other_run.error is None


def test_a_full_server_says_busy_and_starts_nothing() -> None:
    at = trainer()
    with ExitStack() as stack:
        for _ in range(limits.CONCURRENT_TRAININGS):
            stack.enter_context(limits.training_slot())  # other sessions' trainings
        click(at, "demo_train")
        assert live_run(at, "demo") is None and not demo_threads()
        assert any("try again in a moment" in w.value for w in at.warning)
    click(at, "demo_train")  # once a slot is free, the same click trains
    assert live_run(at, "demo").running
    click(at, "demo_stop")
    wait_until(lambda: not live_run(at, "demo").running, at)
