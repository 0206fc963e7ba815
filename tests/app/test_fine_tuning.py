"""The Fine-tuning page: three live trainings with short step budgets, what they show, and bad input.

Expected values are computed here from the session's trained models with functions other than
the page's own (chain-rule probabilities from `generate.sequence_probability`, greedy
generation, the sentiment and topic rules), and the shared models are hashed before and after.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from pathlib import Path

import pytest
import torch
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

from llm_core import finetune
from llm_core.generate import generate, sequence_probability
from llm_core.train import TrainMetrics
from pages.common import limits, models, training
from tests.model_digest import weights_hash

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models train fastest on one thread


@pytest.fixture(scope="module")
def open_page():
    """Open /fine_tuning?QUERY through app.py, as a browser would (see tests/conftest.py)."""
    with pytest.MonkeyPatch.context() as mp:
        original = PagesManager.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            PagesManager.uses_pages_directory = False

        mp.setattr(PagesManager, "__init__", init)

        def run(**query: str) -> AppTest:
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
            at.query_params.update(query)
            at._page_hash = calc_hash("fine_tuning")
            return at.run()

        yield run




def charts(at: AppTest) -> dict[str, dict]:
    """Every Plotly figure on the page by its title, or by its key when it has none."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {}).get("text")
        out[title or chart.proto.id.rsplit("-", 1)[-1]] = spec
    return out


def trace(spec: dict, name: str, axis: str = "y") -> list[float]:
    return next(t[axis] for t in spec["data"] if t["name"] == name)


def falls(values: list[float], k: int = 3) -> bool:
    """The mean of the last k values is below the mean of the first k."""
    return sum(values[-k:]) / k < sum(values[:k]) / k


def train(at: AppTest, key: str, timeout_s: float = 180) -> None:
    """Click Train and rerun the page, as the browser's live view does, until the run has ended."""
    at.button(key=f"{key}_train").click().run()
    deadline = time.monotonic() + timeout_s
    while live_run(at, key) is not None and live_run(at, key).running:
        assert time.monotonic() < deadline, "training did not end within its budget"
        time.sleep(1.0)  # a full rerun per second: each is a heartbeat, as the browser's redraws are
        at.run()
    at.run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


# --- the three sections -------------------------------------------------------------------


def test_downstream_section_trains_three_models_and_pre_training_wins_with_few_labels(open_page):
    encoder = models.tiny("encoder")[0]
    before = weights_hash(encoder)
    at = open_page(section="task", ds_task="topic", ds_labels="8", ds_steps="60", ds_seconds="60")
    no_errors(at)
    train(at, "task")
    no_errors(at)

    figs = charts(at)
    loss, accuracy = figs["Loss"], figs["Held-out accuracy"]
    for method in ("From scratch", "Linear probe (frozen backbone)", "Full fine-tune"):
        train_loss = trace(loss, f"{method} · train")
        assert len(train_loss) == 60 and falls(train_loss)
        assert len(trace(loss, f"{method} · validation")) == 7  # steps 1, 10, ..., 60
    final = {t["name"]: t["y"][-1] for t in accuracy["data"]}
    assert final["Full fine-tune"] > final["From scratch"] + 15  # percentage points, on 200 held-out sentences
    shown = [m.value for m in at.metric]
    assert shown == [f"{final[name] / 100:.0%}" for name in ("From scratch", "Linear probe (frozen backbone)",
                                                            "Full fine-tune")]  # fmt: skip
    points = figs["Final held-out accuracy by number of labelled examples"]
    assert [t["x"] for t in points["data"]] == [[8], [8], [8]]
    slider_hint = "Move the *Number of labelled training examples* slider"
    assert any(slider_hint in i.value for i in at.info)  # one point so far: how to add the next

    predictions = at.dataframe[-1].value
    assert list(predictions["sentence"])[0] == "the honey was delicious ."
    assert predictions["Full fine-tune"][0].startswith("food")  # honey: a food, in every run we made
    assert weights_hash(encoder) == before  # the shared model never changes

    at.radio(key="ds_task").set_value("own").run()  # the slider goes; the topic run's chart stays, without the hint
    no_errors(at)
    assert "Final held-out accuracy by number of labelled examples" in charts(at)
    assert not any(slider_hint in i.value for i in at.info)


def test_a_run_stopped_early_adds_no_point_and_its_results_stay_with_its_task(open_page):
    at = open_page(section="task", ds_task="topic", ds_labels="8", ds_steps="400", ds_seconds="60")
    at.button(key="task_train").click().run()
    run = live_run(at, "task")
    while run.running and run.step < 3:
        time.sleep(0.3)
        at.run()
    at.button(key="task_stop").click().run()
    while run.running:
        time.sleep(0.3)
        at.run()
    at.run()
    no_errors(at)
    assert run.reason == "stopped" and run.step < 400
    assert any("before its step budget" in c.value for c in at.caption)
    assert "Final held-out accuracy by number of labelled examples" not in charts(at)  # no half-trained point
    assert len(at.metric) == 3  # the run's own results are still shown, under its own title

    assert not any("from your last training" in i.value for i in at.info)  # trained with the settings shown
    at.radio(key="ds_task").set_value("sentiment").run()
    no_errors(at)
    assert any("from your last training, with task “Topic (generated)” (now “Sentiment (generated)”)" in i.value
               for i in at.info)  # the topic run's results, said to be, under the sentiment task
    at.number_input(key="seed").set_value(3).run()
    assert any("task “Topic (generated)” (now “Sentiment (generated)”) and seed 0 (now 3)" in i.value
               for i in at.info)  # every setting that differs, named with its old and new value


def test_instruction_tuning_raises_the_exact_match_rate(open_page):
    decoder, tokenizer, _ = models.tiny("decoder")
    before = weights_hash(decoder)
    at = open_page(section="instruct", it_steps="60")
    no_errors(at)
    mask = at.dataframe[0].value
    counted = list(mask["counted in the loss"] == "✔ yes")
    answer_start = list(mask["the model reads"]).index("?")
    assert counted == [i >= answer_start for i in range(len(counted))]  # graded from "?" -> answer on
    assert list(mask["and should predict"])[-1] == "[EOS]"

    train(at, "instruct")
    no_errors(at)
    figs = charts(at)
    assert falls(trace(figs["Loss on answer tokens"], "instruction-tuned · train"))
    metrics = {m.label: m.value for m in at.metric}
    rate_before = int(metrics["Exact match on held-out questions, before"].rstrip("%"))
    rate_after = int(metrics["after instruction tuning"].rstrip("%"))
    assert rate_after > rate_before

    # the table's "after" column is what greedy generation writes with the session's trained model
    tuned = live_run(at, "instruct").result.model
    table = at.dataframe[-1].value
    for question, after in list(zip(table["held-out question"], table["after"], strict=True))[:4]:
        ids = [tokenizer.bos_id, *tokenizer.encode(question).ids]
        out = generate(tuned, ids, 12, greedy=True, stop_ids=[tokenizer.eos_id])
        assert tokenizer.decode(out.tokens) == after
    right = sum(a == e for a, e in zip(table["after"], table["expected"], strict=True))
    assert right == list(table["right?"]).count("✔")
    n_rows = len(table)  # the rates count every held-out question; the table says when it shows fewer
    assert any(f"The first {n_rows} of the" in c.value and "count all" in c.value for c in at.caption)
    assert weights_hash(decoder) == before


def test_preference_tuning_makes_the_held_out_margin_positive(open_page):
    decoder, tokenizer, _ = models.tiny("decoder")
    before = weights_hash(decoder)
    at = open_page(section="preference", pt_steps="40")
    no_errors(at)
    train(at, "preference")
    no_errors(at)
    figs = charts(at)
    assert falls(trace(figs["DPO loss"], "preference-tuned · train"))
    assert trace(figs["DPO loss"], "preference-tuned · train")[0] == pytest.approx(0.693, abs=0.01)  # log 2
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Reward margin, before"] == "0.000"
    margin = float(metrics["after preference tuning"])
    assert margin > 0

    # the margin again, from chain-rule probabilities of the tuned model and its frozen reference
    result = live_run(at, "preference").result
    pairs = finetune.preference_split()[1]

    def logp(model, prompt: str, answer: str) -> float:
        p = [tokenizer.bos_id, *tokenizer.encode(prompt).ids]
        whole = sequence_probability(model, p + [*tokenizer.encode(answer).ids, tokenizer.eos_id])
        return sum(torch.tensor(whole.token_probs[len(p) - 1 :]).log().tolist())

    def log_ratio(model, q) -> float:
        return logp(model, q.prompt, q.chosen) - logp(model, q.prompt, q.rejected)

    margins = [0.1 * (log_ratio(result.model, q) - log_ratio(result.reference, q)) for q in pairs]
    assert sum(margins) / len(margins) == pytest.approx(margin, abs=2e-3)
    beliefs = figs["pref_pairs"]
    after, start = trace(beliefs, "after preference tuning", "x"), trace(beliefs, "before (the reference)", "x")
    assert sum(x > 50 for x in after) > sum(x > 50 for x in start)
    assert weights_hash(decoder) == before


# --- repeatability, stopping, the server's limit ------------------------------------------


def test_the_same_seed_gives_the_same_curves(open_page):
    curves = []
    for _ in range(2):
        at = open_page(section="instruct", it_steps="10", seed="3")
        train(at, "instruct")
        curves.append(trace(charts(at)["Loss on answer tokens"], "instruction-tuned · train"))
    assert len(curves[0]) == 10 and curves[0] == curves[1]


def test_stopping_mid_run_keeps_the_curves_and_says_so(open_page):
    at = open_page(section="instruct", it_steps="400", it_seconds="60", it_lr="0.001")
    at.button(key="instruct_train").click().run()
    run = live_run(at, "instruct")
    assert run.running
    # no second run while it trains: the Train button is off (and its callback refuses a click that races it)
    assert at.button(key="instruct_train").disabled and not at.button(key="instruct_stop").disabled
    while run.running and len(run.history.get("instruction-tuned", [])) < 5:
        time.sleep(0.05)
    at.button(key="instruct_stop").click().run()
    run.thread.join(30)
    at.run()
    no_errors(at)
    assert run.reason == "stopped"
    assert any(c.value == training.REASONS["stopped"] for c in at.caption)
    kept = trace(charts(at)["Loss on answer tokens"], "instruction-tuned · train")
    assert 5 <= len(kept) < 400
    assert at.select_slider(key="it_lr").value == 0.001  # the settings are untouched
    assert at.button(key="instruct_train").disabled is False  # and another run may start
    assert "after instruction tuning" in [m.label for m in at.metric]  # results of the partial run are shown


def test_when_every_training_slot_is_taken_the_student_is_asked_to_retry(open_page):
    at = open_page(section="preference", pt_steps="10")
    with contextlib.ExitStack() as slots:
        for _ in range(limits.CONCURRENT_TRAININGS):
            slots.enter_context(limits.training_slot())
        at.button(key="preference_train").click().run()
    no_errors(at)
    assert any("try again in a moment" in w.value for w in at.warning)
    assert live_run(at, "preference") is None
    at.run()  # the message answered that click; the next rerun (the slots free by now) drops it
    assert not any("try again in a moment" in w.value for w in at.warning)
    train(at, "preference")  # the slots are free again
    assert "after preference tuning" in [m.label for m in at.metric]


# --- the live-training helper on its own -------------------------------------------------


def fake_training(losses: list[float], delay_s: float = 0.0, stop=None):
    def start(should_stop):
        def steps():
            for i, loss in enumerate(losses, start=1):
                time.sleep(delay_s)
                done = i == len(losses) or should_stop()
                reason = "nan" if loss != loss else ("stopped" if should_stop() else "steps") if done else None
                error = f"the loss became nan at step {i}" if reason == "nan" else None
                yield "run", TrainMetrics(i, loss, 0.1, 0.01 * i, 100.0, stop_reason=reason, error=error)
                if reason:
                    return

        return steps(), {"models": "kept"}

    return start


def wait(run: training.LiveRun) -> training.LiveRun:
    run.thread.join(10)
    assert not run.running
    return run


def live_run(at: AppTest, key: str) -> training.LiveRun | None:
    """The session's latest training under `key`, as `training.session_run` reads it inside the page."""
    mine = at.session_state.get(training.TRAININGS, None)
    return None if mine is None else mine.runs.get(key)


def free_slots() -> int:
    return limits._training_slots._value


def test_a_run_ends_for_the_reason_it_ended_and_always_gives_its_slot_back():
    slots = free_slots()
    done = wait(training.start_run("a", fake_training([3.0, 2.0, 1.0]), steps=3, max_seconds=30))
    assert done.reason == "steps" and [m.loss for m in done.history["run"]] == [3.0, 2.0, 1.0]
    assert done.result == {"models": "kept"} and done.tokens_per_s == 100.0

    nan = wait(training.start_run("b", fake_training([3.0, float("nan"), 1.0]), steps=3, max_seconds=30))
    assert nan.reason == "nan" and "nan" in nan.error and len(nan.history["run"]) == 2

    def broken(should_stop):
        def steps():
            yield "run", TrainMetrics(1, 1.0, 0.1, 0.0, 1.0)
            raise RuntimeError("out of memory")

        return steps(), None

    failed = wait(training.start_run("c", broken, steps=3, max_seconds=30))
    assert failed.reason == "error" and "out of memory" in failed.error and len(failed.history["run"]) == 1

    stopped = training.start_run("d", fake_training([1.0] * 1000, delay_s=0.01), steps=1000, max_seconds=30)
    time.sleep(0.1)
    stopped.stop_event.set()  # the Stop button
    assert wait(stopped).reason == "stopped" and 0 < len(stopped.history["run"]) < 1000

    left = training.start_run("e", fake_training([1.0] * 1000, delay_s=0.01), steps=1000, max_seconds=30)
    left.last_seen -= training.HEARTBEAT_S + 1  # nobody has looked for too long
    assert wait(left).reason == "abandoned"
    assert free_slots() == slots  # every run gave its slot back


def test_two_clicks_handled_at_the_same_moment_start_one_run():
    """With fast reruns, a double click runs the first click's callback (in the page run being stopped)
    and the second's (in the new run) at the same moment, in two threads, for one session."""
    mine, built = training.Trainings(), []

    def slow_start(should_stop):
        built.append(threading.get_ident())
        time.sleep(0.3)  # building the models: time for the other click's callback to check meanwhile
        return fake_training([1.0] * 1000, delay_s=0.01)(should_stop)

    clicks = [threading.Thread(target=mine.start, args=("a", slow_start), kwargs={"steps": 1000, "max_seconds": 30})
              for _ in range(2)]  # fmt: skip
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(10)
    assert len(built) == 1 and mine.active is mine.runs["a"]
    assert free_slots() == limits.CONCURRENT_TRAININGS - 1
    mine.active.stop_event.set()
    assert wait(mine.runs["a"]).reason == "stopped" and free_slots() == limits.CONCURRENT_TRAININGS


def test_trainings_beyond_the_server_cap_are_refused_at_once():
    runs = [training.start_run(f"r{i}", fake_training([1.0] * 1000, delay_s=0.01), steps=1000, max_seconds=30)
            for i in range(limits.CONCURRENT_TRAININGS)]  # fmt: skip
    with pytest.raises(limits.Busy, match="try again in a moment"):
        training.start_run("one too many", fake_training([1.0]), steps=1, max_seconds=30)
    for run in runs:
        run.stop_event.set()
        wait(run)
    wait(training.start_run("now", fake_training([1.0]), steps=1, max_seconds=30))


# --- bad input ----------------------------------------------------------------------------


def test_out_of_bound_settings_in_a_link_are_refused_with_a_message(open_page):
    at = open_page(section="task", ds_lr="5", ds_steps="99999", ds_batch="3", ds_labels="7")
    no_errors(at)
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # Markdown, as it reads on screen
    assert "`ds_lr` to “5”" in warnings and "0.0001" in warnings
    assert "`ds_steps` to “99999”" in warnings and "from 10 to 400" in warnings
    assert "`ds_batch`" in warnings and "`ds_labels`" in warnings
    assert at.select_slider(key="ds_lr").value == 0.001  # the defaults, and training may start
    assert at.slider(key="ds_steps").value == 120
    assert at.button(key="task_train").disabled is False


def test_a_link_with_frozen_layers_opens_with_them_frozen(open_page):
    at = open_page(section="task", ds_freeze="embeddings")
    no_errors(at)
    assert at.multiselect(key="ds_freeze").value == ["embeddings"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no examples yet"),
        ("positive: the cake was lovely .\npositive: the dog was kind .", "at least two different labels"),
        ("positive: the cake was lovely .\nthe soup was bad", "line 2"),
        ("\n".join(["positive: the cake was lovely .", "negative: the soup was cold ."] * 33),  # 2,045 characters
         "Text is 2,045 characters long; the limit is 2,000."),
    ],
)
def test_unusable_own_examples_say_what_to_change_and_keep_the_text(open_page, text, message):
    at = open_page(section="task", ds_task="own")
    at.text_area(key="ds_own").input(text).run()
    no_errors_but = [e.value for e in at.error]
    assert any(message in e for e in no_errors_but), no_errors_but
    assert not at.exception
    assert at.button(key="task_train").disabled is True
    assert at.text_area(key="ds_own").value == text  # nothing the student wrote is lost


def test_unknown_words_of_own_examples_are_named_as_typed(open_page):
    at = open_page(section="task", ds_task="own")
    text = "positive: the \u202ecat was lovely .\npositive: the dog was kind .\nnegative: the soup was cold .\n" \
           "negative: the fish was bad ."
    at.text_area(key="ds_own").input(text).run()
    warning = " ".join(w.value for w in at.warning)
    assert "“⟨U\\+202E⟩cat”" in warning and "\u202e" not in warning  # the override would turn the message around


def test_own_examples_train_a_classifier_with_their_labels(open_page):
    at = open_page(section="task", ds_task="own", ds_steps="30")
    train(at, "task")
    no_errors(at)
    predictions = at.dataframe[-1].value
    assert all(cell.split()[0] in ("positive", "negative") for cell in predictions["Full fine-tune"])
    at.text_area(key="ds_try").input("the cow likes 🍫 .\nthe dog is kind .").run()  # try one the models cannot read
    assert any("“🍫”" in w.value and "[UNK]" in w.value for w in at.warning)
    assert len(at.dataframe[-1].value) == 2  # and it is still classified

    # Sentences to try: up to the bound each gets a row; past it the student is told, and nothing is cut silently.
    lines = [f"the cake number {i} was lovely ." for i in range(limits.TRY_SENTENCES.maximum + 1)]
    at.text_area(key="ds_try").input("\n".join(lines[:-1])).run()
    assert len(at.dataframe[-1].value) == limits.TRY_SENTENCES.maximum and not at.error
    at.text_area(key="ds_try").input("\n".join(lines)).run()
    refusal = " ".join(e.value for e in at.error)
    assert f"There are {len(lines)} sentences; the limit is {limits.TRY_SENTENCES.maximum}." in refusal
    assert at.text_area(key="ds_try").value == "\n".join(lines)


def test_a_question_the_tiny_decoder_cannot_read_is_named_before_its_answers(open_page):
    at = open_page(section="preference", pt_ask="can the 👋 eat مرحبا ?")
    no_errors(at)
    [warning] = [w.value for w in at.warning if "[UNK]" in w.value]
    assert "“👋”" in warning and "“\u2068مرحبا\u2069”" in warning
    assert "can the 👋 eat مرحبا ?" in list(at.dataframe[-1].value["question"])  # asked all the same


def test_few_held_out_examples_of_ones_own_are_said_to_make_the_accuracy_coarse(open_page):
    own = "positive: the cake was lovely .\npositive: the dog is kind .\nnegative: the bread was stale .\n" \
          "negative: the fox is rude ."
    at = open_page(section="task", ds_task="own", ds_own=own)
    no_errors(at)
    assert any("Only 2 of your examples are held out" in i.value and "by 50 points" in i.value for i in at.info)
    foods = ("cake", "soup", "bread", "milk", "tea", "rice", "corn", "honey", "apple", "fish")
    feelings = (("positive", "lovely"), ("positive", "good"), ("negative", "awful"), ("negative", "bad"))
    many = "\n".join(f"{label}: the {food} was {feeling} ." for food in foods for label, feeling in feelings)
    at = open_page(section="task", ds_task="own", ds_own=many)
    no_errors(at)
    assert not any("held out" in i.value for i in at.info)  # 20 sentences of each label: 10 held out
