"""10. Fine-tuning: adapt a pre-trained tiny model with labels, with instructions, with preferences."""

from __future__ import annotations

from functools import partial

import streamlit as st

from llm_core import finetune
from llm_core import objectives as O
from llm_core.data import SENTIMENT_LABELS, instruction_split, sentiment_rule
from llm_core.model import Transformer
from llm_core.tokenizers import unknown_pieces
from pages.common import figures, limits, models, training, ui, url_state
from pages.common.fine_tuning_cached import (
    InstructResult,
    PreferenceResult,
    TaskResult,
    base_answers,
    base_exact_match,
    base_preference_scores,
    decoder,
    encoder,
    sampled_answers,
    starting_model,
)

SECTIONS = {
    "task": "1 · Downstream task",
    "instruct": "2 · Instruction tuning",
    "preference": "3 · Preference tuning",
}
LR_CHOICES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
BATCH_CHOICES = [4, 8, 16, 32, 64]
LABEL_CHOICES = [8, 16, 32, 64, 128, 256, 512]
SHOWN_QUESTIONS = 12  # held-out questions answered in the table, before and after tuning
BETA_CHOICES = [0.05, 0.1, 0.2, 0.5, 1.0]
IMITATE_CHOICES = [0.0, 0.25, 0.5, 1.0, 2.0]
STEPS = limits.Bound(10, min(400, limits.TRAIN_STEPS.maximum), "Training for {value:,} steps was asked for")
SECONDS = limits.Bound(5, limits.TRAIN_SECONDS.maximum, "A time budget of {value:,} seconds was asked for")
METHOD_LABELS = finetune.DOWNSTREAM_METHODS
DEFAULT_OWN = """positive: the cake was lovely .
positive: ben thinks that the dog is friendly .
positive: the soup was not bad .
negative: the bread was stale .
negative: the garden was ugly but the fox was nasty .
negative: the cat was not kind .
positive: the forest was dirty but the lake was clean .
negative: mia was sad because the fish was disgusting ."""
DEFAULT_TRY = """the honey was delicious .
the horse was not friendly .
the milk was awful but the cake was wonderful .
anna thinks that the river is very dirty ."""


def lr_label(lr: float) -> str:
    return f"{lr:g}"


def training_settings(prefix: str, experiment: str, parts: list[str]) -> dict:
    """The hyperparameters every section shares, as widgets bound to the URL (`?{prefix}_lr=0.003`).

    Their defaults are the experiment's in `finetune.DEFAULTS`.
    """
    defaults = finetune.DEFAULTS[experiment]
    steps, lr, batch, seconds = (defaults[k] for k in ("steps", "lr", "batch_size", "max_seconds"))
    url_state.bind(f"{prefix}_lr", default=lr, options=LR_CHOICES)
    url_state.bind(f"{prefix}_steps", default=steps, min_value=STEPS.minimum, max_value=STEPS.maximum)
    url_state.bind(f"{prefix}_batch", default=batch, options=BATCH_CHOICES)
    url_state.bind(f"{prefix}_seconds", default=seconds, min_value=SECONDS.minimum, max_value=SECONDS.maximum)
    url_state.bind(f"{prefix}_freeze", default=[], options=parts)
    # Fixed widths: on a 1024 px projector with the sidebar open the layer list moves below the sliders rather
    # than squeezing all three into columns that wrap "Time budget (seconds)" and cut the list's placeholder.
    a, b, c = ui.row(240, 240, 300)
    a.select_slider(
        "Learning rate", LR_CHOICES, key=f"{prefix}_lr", format_func=lr_label,
        help="How far each step moves the weights. Too small: the curves barely move; too large: they jump or blow up.",
    )  # fmt: skip
    a.slider(
        "Steps (budget)", STEPS.minimum, STEPS.maximum, step=10, key=f"{prefix}_steps",
        help="Training stops after this many optimizer steps, or at the time budget, whichever comes first.",
    )  # fmt: skip
    b.select_slider(
        "Batch size", BATCH_CHOICES, key=f"{prefix}_batch",
        help="Examples per step. Fewer labelled examples than this: every step sees all of them.",
    )  # fmt: skip
    b.slider(
        "Time budget (seconds)", SECONDS.minimum, SECONDS.maximum, key=f"{prefix}_seconds",
        help="Training stops after this many seconds even if steps are left.",
    )  # fmt: skip
    c.multiselect(
        "Freeze these layers", parts, key=f"{prefix}_freeze", placeholder="none: every layer trains",
        help="Frozen layers keep their pre-trained weights; only the others change. "
        "A decoder's output layer shares the embedding table, so it freezes with the embeddings.",
    )  # fmt: skip
    settings = {name: st.session_state[f"{prefix}_{name}"] for name in ("lr", "steps", "batch", "seconds", "freeze")}
    settings["seed"] = int(st.session_state.get("seed", 0))
    return settings


def settings_named(settings: dict, **more: object) -> dict[str, str]:
    """The settings as a note about an older run names them (see `training.live_training`); `more` first."""
    shared = {"learning rate": lr_label(settings["lr"]), "steps": f"{settings['steps']:,}",
              "batch size": str(settings["batch"]), "time budget": f"{settings['seconds']} s",
              "frozen layers": ", ".join(settings["freeze"]) or "none", "seed": str(settings["seed"])}  # fmt: skip
    return {**{name: str(value) for name, value in more.items()}, **shared}


def settings_problem(settings: dict) -> str | None:
    """Why these settings cannot train (a value outside its bound), or None."""
    checks = [
        STEPS.message(settings["steps"]),
        SECONDS.message(settings["seconds"]),
        None if settings["lr"] in LR_CHOICES else f"A learning rate of {settings['lr']:g} is not offered; pick one "
        f"from {LR_CHOICES[0]:g} to {LR_CHOICES[-1]:g}.",
        None if settings["batch"] in BATCH_CHOICES else f"A batch of {settings['batch']} is not offered.",
    ]
    return next((c for c in checks if c), None)


# --- 1. downstream task ---------------------------------------------------------------------


def start_task(stop, *, settings: dict, train_set, val_set, label_names, source: str):
    enc = encoder()
    classifiers = {
        method: finetune.make_classifier(
            enc.model, method, len(label_names), seed=settings["seed"], frozen_parts=settings["freeze"]
        )
        for method in METHOD_LABELS
    }
    training_run = finetune.train_downstream(
        classifiers, enc.tokenizer, train_set, val_set, steps=settings["steps"], lr=settings["lr"],
        batch_size=settings["batch"], seed=settings["seed"], max_seconds=settings["seconds"], stop=stop,
    )  # fmt: skip
    signature = task_signature(settings, source)
    return training_run, TaskResult(classifiers, label_names, len(train_set), source, signature)


def task_signature(settings: dict, source: str) -> tuple:
    """Runs with equal signatures differ only in the number of labels: their points share a chart."""
    return (source, settings["lr"], settings["steps"], settings["batch"], settings["seconds"],
            tuple(settings["freeze"]), settings["seed"])  # fmt: skip


def draw_task(run: training.LiveRun) -> None:
    with ui.figures_row():
        ui.plot(training.curve_figure(run, "loss", "Loss", y_title="cross-entropy", labels=METHOD_LABELS,
                                      height=560), key="task_loss")  # fmt: skip
        fig = training.curve_figure(run, "accuracy", "Held-out accuracy", y_title="accuracy", labels=METHOD_LABELS,
                                    train=False, percent=True, height=560)  # fmt: skip
        ui.plot(fig, key="task_acc")


FEW_HELD_OUT = 10  # own examples held out: below this, one sentence moves the accuracy by over 10 points
TASKS = {"topic": "Topic (generated)", "sentiment": "Sentiment (generated)", "own": "My own examples"}
TASK_TEXT = {
    "sentiment": (
        "**Sentiment:** is a sentence *positive* or *negative*? The last feeling word decides, and a *not* right "
        "before it flips it: “the soup was not bad” is positive; in “the bread was awful but the cake was lovely” "
        "the part after *but* wins. Careful: pre-training never told the models which words are pleasant, since "
        "*lovely* and *horrible* fill the same places in its sentences; that has to come from the labels."
    ),
    "topic": (
        "**Topic:** is a sentence about an *animal*, a *food* or a *place*? The noun tells (“jack likes "
        "goats”), and some feeling words too (*delicious* goes only with food, *clever* only with animals). A "
        "handful of labelled examples mentions only a few of the nouns, so a model must know that an unseen "
        "*goat* belongs with *cat*. Pre-training put such words close together."
    ),
    "own": (
        "**Your own task:** write labelled sentences, one per line, as `label: sentence`. Any two to four labels "
        "work (positive / negative, animal / food, ...); about a quarter of each label's examples is held out "
        "to measure accuracy. Words outside the animal world are unknown to the tiny models."
    ),
}


def task_section() -> None:
    enc = encoder()
    st.markdown(
        "Three models learn from **the same labelled examples, in the same batches**: one **from scratch** "
        "(random weights, nothing pre-trained), a **linear probe** (the pre-trained encoder frozen, only a new "
        "final layer learns) and a **full fine-tune** (the pre-trained encoder and the new layer all learn). "
        "The final layer reads the average of the encoder's output vectors and scores each label."
    )
    url_state.bind("ds_task", default="topic", options=list(TASKS))
    task = st.radio("Labelled task", list(TASKS), key="ds_task", horizontal=True, format_func=TASKS.get)
    st.markdown(TASK_TEXT[task])
    problem = None
    if task != "own":
        url_state.bind("ds_labels", default=16, options=LABEL_CHOICES)
        n_labels = st.select_slider(
            "Number of labelled training examples", LABEL_CHOICES, key="ds_labels",
            help="Where does pre-training help most: with few labels or with many? Train at 8, 32 and 256.",
        )  # fmt: skip
        seed = int(st.session_state.get("seed", 0))
        train_set, val_set, label_names = finetune.labelled_task(task, n_labels, seed=seed)
    else:
        url_state.bind("ds_own", default=DEFAULT_OWN, max_chars=limits.TEXT_CHARS.maximum)
        text = st.text_area(
            "Your labelled examples: one per line, the label, a colon, the sentence",
            key="ds_own", height=220,
        )  # fmt: skip
        train_set, val_set, label_names = [], [], SENTIMENT_LABELS
        try:
            if too_long := limits.TEXT_CHARS.over(len(text)):  # empty: the parser says what to write
                raise limits.LimitError(too_long)
            examples, label_names = finetune.parse_labelled_lines(text)
            train_set, val_set = finetune.split_own_examples(examples)
        except limits.LimitError as why:
            ui.show_error(f"Your examples: {why} Shorten them to train.")
            problem = "Fix your labelled examples above to train."
        except ValueError as why:
            ui.show_error(f"Your examples cannot be used yet: {ui.markdown_literal(str(why))}.")  # it quotes them
            problem = "Fix your labelled examples above to train."
        else:
            note_unknown(" ".join(e.text for e in examples))
            if len(val_set) < FEW_HELD_OUT:
                st.info(f"Only {len(val_set)} of your examples are held out to test the models, so each one moves "
                        f"the accuracy by {100 / len(val_set):.0f} points: a difference between the models may be "
                        "luck. More lines make a fairer test.", icon=":material/balance:")
    with st.expander(f"The labelled data: {len(train_set)} training and {len(val_set)} held-out examples"):
        ui.table({"sentence": [e.text for e in train_set[:200]],
                  "label": [label_names[e.label] for e in train_set[:200]]}, width="stretch")
    st.subheader("Training settings")
    parts = finetune.backbone_parts(enc.model)
    settings = training_settings("ds", "task", parts)
    st.caption("Frozen layers apply to the full fine-tune; the probe always freezes the whole encoder.")
    problem = problem or settings_problem(settings)
    start = partial(start_task, settings=settings, train_set=train_set, val_set=val_set,
                    label_names=label_names, source=task)  # fmt: skip
    st.markdown(
        "**Watch:** the solid lines are the loss on each training batch, the dashed ones the loss on "
        "held-out sentences the models never train on. A training loss near zero while the held-out loss climbs "
        "is overfitting: the model has memorised its few examples. The accuracy chart is what matters: the "
        "share of held-out sentences each model labels correctly."
    )
    run = training.live_training(
        "task", start, draw_task, steps=settings["steps"], max_seconds=settings["seconds"],
        button_label="Train all three", problem=problem,
        settings=settings_named(settings, task=f"“{TASKS[task]}”", **{"labelled examples": len(train_set)}),
    )  # fmt: skip
    if run is None or run.running or run.result is None:
        return
    task_results(run)


def task_results(run: training.LiveRun) -> None:
    result: TaskResult = run.result
    accuracies = {m: run.final_val(m, "accuracy") for m in METHOD_LABELS}
    st.subheader(f"Held-out accuracy after training on {result.n_labels} labelled examples")
    columns = ui.row(*["content"] * len(METHOD_LABELS))
    for col, (method, label) in zip(columns, METHOD_LABELS.items(), strict=True):
        acc = accuracies[method]
        col.metric(label, "n/a" if acc is None else f"{acc:.0%}")
    if result.source != "own":
        points = st.session_state.setdefault("ds_points", {}).setdefault(result.signature, {})
        if run.reason == "steps":
            points[result.n_labels] = accuracies
        else:
            st.caption(f"This run ended at step {run.step:,} of {run.steps:,}, before its step budget, so it adds no "
                       "point to the chart of accuracy vs number of labels: that chart compares models trained for "
                       "every step of the same budget.")
        if points:  # how to add a point, while the slider that does it is on the page (not for own examples)
            label_chart(points, hint=st.session_state.get("ds_task") == result.source)
    own_predictions(result)


def label_chart(points: dict[int, dict[str, float | None]], *, hint: bool) -> None:
    st.subheader("Accuracy vs number of labels")
    counts = sorted(points)
    traces = []
    for i, (method, label) in enumerate(METHOD_LABELS.items()):
        xs = [n for n in counts if points[n].get(method) is not None]
        traces.append({
            "type": "scatter", "x": xs, "y": [100 * points[n][method] for n in xs], "name": label,
            "mode": "lines+markers", "line": {"width": 3, "color": figures.OKABE_ITO[i]}, "marker": {"size": 12},
            "cliponaxis": False,  # a point at 100% is drawn whole, over the top of the plot
            "hovertemplate": f"{label}<br>%{{x}} labelled examples<br>held-out accuracy: %{{y:.1f}}%<extra></extra>",
        })  # fmt: skip
    fig = figures.figure(
        traces, title="Final held-out accuracy by number of labelled examples",
        x_title="Labelled training examples (log scale)", y_title="held-out accuracy", height=420,
        xaxis={"type": "log", "tickvals": LABEL_CHOICES, "ticktext": [str(n) for n in LABEL_CHOICES]},
        yaxis={"range": [0, 101], "ticksuffix": "%"}, legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0},
    )  # fmt: skip
    ui.plot(fig, key="task_labels")
    if len(counts) < 2:
        if hint:
            st.info(
                "One point per model so far. Move the *Number of labelled training examples* slider and train "
                "again with the same settings: each run adds its three points to this chart.",
                icon=":material/add_chart:",
            )  # fmt: skip
    else:
        st.markdown(
            "Where labels are few, the pre-trained models start from features that already separate the words "
            "that matter, so they need only a little data to put a boundary between them; the model from "
            "scratch must learn the words first. With many labels the gap closes."
        )


def note_unknown(text: str) -> None:
    """Words or symbols of the student's text that the tiny models' vocabulary lacks (they are read as [UNK])."""
    unknown = unknown_pieces(encoder().tokenizer, text.lower())  # the tiny models read lower case
    if unknown:
        st.warning(
            f"{len(set(unknown))} word(s) or symbol(s) are not in the tiny models' vocabulary and are read as [UNK]: "
            + ui.quoted(unknown, limit=20) + ". Words of the animal world work best.", icon=":material/help:",
        )  # fmt: skip


def own_predictions(result: TaskResult) -> None:
    st.subheader("Try the trained classifiers on your own sentences")
    url_state.bind("ds_try", default=DEFAULT_TRY, max_chars=limits.TEXT_CHARS.maximum)
    text = st.text_area(f"One sentence per line, up to {limits.TRY_SENTENCES.maximum}", key="ds_try", height=140)
    try:
        sentences = [line.strip() for line in limits.check_text(text).split("\n") if line.strip()]
        limits.TRY_SENTENCES.check(len(sentences))
    except limits.LimitError as why:
        ui.show_error(f"{why} Write one sentence per line, {limits.TRY_SENTENCES.maximum} at most.")
        return
    note_unknown(" ".join(sentences))
    enc = encoder()
    rule = result.label_names == SENTIMENT_LABELS
    table = {"sentence": sentences}
    # Widths that fit beside the sidebar on a 1280-pixel screen, the three models' columns in full.
    columns = {"sentence": st.column_config.TextColumn(width=300 if rule else 400)}
    for method, label in METHOD_LABELS.items():
        probs = finetune.classify(result.classifiers[method], enc.tokenizer, sentences)
        table[label] = [f"{result.label_names[max(range(len(p)), key=p.__getitem__)]} {max(p):.0%}" for p in probs]
        short = label.split(" (")[0]  # "Linear probe (frozen backbone)": the rest goes to the column's help
        columns[label] = st.column_config.TextColumn(short, width=112, help=label if short != label else None)
    if rule:
        table["the rule says"] = [_rule(s) for s in sentences]
        columns["the rule says"] = st.column_config.TextColumn(width=100)
    ui.table(table, column_config=columns)
    st.caption("Each cell is the predicted label and the model's probability for it.")


def _rule(sentence: str) -> str:
    try:
        return SENTIMENT_LABELS[sentiment_rule(sentence.lower())]
    except ValueError:
        return "no feeling word"


# --- 2. instruction tuning ------------------------------------------------------------------


def start_instruct(stop, *, settings: dict):
    d = decoder()
    model = finetune.trainable_copy(d.model)
    finetune.freeze(model, settings["freeze"])
    train_pairs, val_pairs = instruction_split()
    training_run = finetune.train_instructions(
        model, d.tokenizer, train_pairs, val_pairs, steps=settings["steps"], lr=settings["lr"],
        batch_size=settings["batch"], seed=settings["seed"], max_seconds=settings["seconds"], stop=stop,
    )  # fmt: skip
    return (("instruction-tuned", m) for m in training_run), InstructResult(model, settings)


def draw_instruct(run: training.LiveRun) -> None:
    with ui.figures_row():
        ui.plot(training.curve_figure(run, "loss", "Loss on answer tokens", y_title="cross-entropy"),
                key="instruct_loss")  # fmt: skip
        ui.plot(training.curve_figure(run, "exact_match", "Held-out questions answered exactly", y_title="exact match",
                                      train=False, percent=True), key="instruct_em")  # fmt: skip


def instruct_section() -> None:
    d = decoder()
    train_pairs, val_pairs = instruction_split()
    st.markdown(
        "The shipped decoder was pre-trained only to continue sentences of the animal world. Asked a question, "
        "it does not answer: it just keeps writing. **Instruction tuning** trains it on "
        f"{len(train_pairs)} question → answer pairs; {len(val_pairs)} other questions are held out to test it."
    )
    st.markdown(
        "**The loss counts the answer tokens only.** The model reads the whole example, but it is graded only "
        "where the next token belongs to the answer (and on the end-of-sequence token that says the answer "
        "is over). It learns to answer, not to ask."
    )
    example = finetune.masked_example(d.tokenizer, train_pairs[0])
    ui.table({"position": range(len(example.inputs)), "the model reads": example.inputs,
              "and should predict": example.targets,
              "counted in the loss": ["✔ yes" if c else "— no" for c in example.counted]},
             width="content")  # fmt: skip
    st.subheader("Training settings")
    settings = training_settings("it", "instruct", finetune.backbone_parts(d.model))
    st.markdown(
        "**Watch:** the loss on answer tokens falls, and the exact-match chart counts the held-out questions "
        "whose greedy answer is exactly right."
    )
    run = training.live_training(
        "instruct", partial(start_instruct, settings=settings), draw_instruct, steps=settings["steps"],
        max_seconds=settings["seconds"], button_label="Instruction-tune", problem=settings_problem(settings),
        settings=settings_named(settings),
    )  # fmt: skip
    before = base_exact_match()
    shown = val_pairs[:SHOWN_QUESTIONS]
    before_answers = base_answers(tuple(p.instruction for p in shown))
    trained = run is not None and not run.running and run.result is not None
    if trained:
        after = finetune.exact_match_rate(run.result.model, d.tokenizer, val_pairs)
        after_answers = [finetune.answer(run.result.model, d.tokenizer, p.instruction) for p in shown]
    a, b = ui.row("content", "content")
    a.metric("Exact match on held-out questions, before", f"{before:.0%}")
    if trained:
        gained = round(100 * after) - round(100 * before)  # the two rates as shown, in points
        b.metric("after instruction tuning", f"{after:.0%}", **ui.change(gained, "points"))
    table = {"held-out question": [p.instruction for p in shown], "expected": [p.answer for p in shown],
             "before": before_answers}  # fmt: skip
    if trained:
        table["after"] = after_answers
        table["right?"] = ["✔" if x.strip() == p.answer else "✘" for x, p in zip(after_answers, shown, strict=True)]
    if len(shown) < len(val_pairs):
        st.caption(f"The first {len(shown)} of the {len(val_pairs)} held-out questions; the exact-match rates "
                   f"above count all {len(val_pairs)}.")
    ui.table(table, width="stretch", height="content")  # every row shown, at any font size
    if not trained:
        st.caption("Train to fill in the answers after instruction tuning.")


# --- 3. preference tuning -------------------------------------------------------------------


def start_preference(stop, *, settings: dict):
    start = starting_model()
    policy = finetune.trainable_copy(start)
    finetune.freeze(policy, settings["freeze"])
    reference = O.frozen_copy(start)
    train_pairs, val_pairs = finetune.preference_split()
    training_run = finetune.train_preferences(
        policy, reference, decoder().tokenizer, train_pairs, val_pairs, beta=settings["beta"],
        sft_weight=settings["imitate"], steps=settings["steps"], lr=settings["lr"], batch_size=settings["batch"],
        seed=settings["seed"], max_seconds=settings["seconds"], stop=stop,
    )  # fmt: skip
    return (("preference-tuned", m) for m in training_run), PreferenceResult(policy, reference, settings)


def draw_preference(run: training.LiveRun) -> None:
    with ui.figures_row():
        ui.plot(training.curve_figure(run, "dpo_loss", "DPO loss", y_title="loss"), key="pref_loss")
        ui.plot(training.curve_figure(run, "reward_margin", "Reward margin (preferred − rejected)",
                                      y_title="reward margin"), key="pref_margin")  # fmt: skip


def preference_section() -> None:
    d = decoder()
    train_pairs, val_pairs = finetune.preference_split()
    st.markdown(
        "Preference data says which of two answers to the same question people liked better. Here the pairs "
        "follow two rules: polite over rude, and safe over harmful (no animal of this world may eat chocolate; "
        "a rabbit should not play with a fox). "
        "**Preference tuning** makes the preferred answers more likely than the rejected ones: this is how "
        "guardrails are trained into a model after pre-training."
    )
    ui.table({"question": [p.prompt for p in train_pairs[:8]], "preferred": [p.chosen for p in train_pairs[:8]],
              "rejected": [p.rejected for p in train_pairs[:8]]}, width="stretch")
    st.caption(f"{len(train_pairs)} pairs to train on, {len(val_pairs)} held out to test.")
    st.markdown(
        "**The starting model** answers these questions the way a model trained on raw web text might: "
        "sometimes well, sometimes rudely or dangerously. (It is the shipped decoder, briefly taught both "
        "answers of every training pair.) Its frozen copy is the **reference**. The objective, DPO, scores "
        "an answer by how much more likely the tuned model finds it than the reference does: "
        "reward = β · (log P_model(answer) − log P_reference(answer)), and pushes the preferred answer's reward "
        "above the rejected one's. The reference keeps the model close to what it knew, and β sets how closely: the "
        "larger β, the smaller the move away from the reference that already wins by a clear margin."
    )
    st.subheader("Training settings")
    url_state.bind("pt_beta", default=finetune.DEFAULTS["preference"]["beta"], options=BETA_CHOICES)
    url_state.bind("pt_imitate", default=finetune.DEFAULTS["preference"]["sft_weight"], options=IMITATE_CHOICES)
    a, b = ui.row("stretch", "stretch")
    a.select_slider(
        "β: pull of the reference", BETA_CHOICES, key="pt_beta",
        help="Larger β: a small move away from the reference already gives a large reward margin, and the loss "
        "stops pushing sooner, so the model stays nearer the reference.",
    )  # fmt: skip
    b.select_slider(
        "Also imitate the preferred answers (weight)", IMITATE_CHOICES, key="pt_imitate",
        help="0 is plain DPO: it makes rejected answers unlikely, and a small model may then write nonsense "
        "instead of the preferred answer. Adding the preferred answers' next-token loss keeps it writing them.",
    )  # fmt: skip
    parts = finetune.backbone_parts(d.model)
    settings = training_settings("pt", "preference", parts)
    settings["beta"], settings["imitate"] = st.session_state["pt_beta"], st.session_state["pt_imitate"]
    st.markdown(
        "**Watch:** the DPO loss starts at log 2 ≈ 0.69 (the model equals its reference, so both answers have "
        "reward 0) and falls as the reward margin between preferred and rejected answers grows."
    )
    start = partial(start_preference, settings=settings)
    run = training.live_training(
        "preference", start, draw_preference, steps=settings["steps"], max_seconds=settings["seconds"],
        button_label="Preference-tune", problem=settings_problem(settings),
        settings=settings_named(settings, β=settings["beta"], **{"imitation weight": settings["imitate"]}),
    )  # fmt: skip
    before = base_preference_scores()
    trained = run is not None and not run.running and run.result is not None
    after = finetune.preference_scores(run.result.model, d.tokenizer, val_pairs) if trained else None
    st.subheader("Preferred or rejected: what the model believes")
    preference_chart(before, after)
    if trained:
        margins = finetune.reward_margins(after, before, run.result.settings["beta"])
        wins_before = sum(s.preference > 0.5 for s in before)
        wins_after = sum(s.preference > 0.5 for s in after)
        a, b, c = ui.row("content", "content", "content")
        a.metric("Reward margin, before", "0.000", help="The mean reward margin over the held-out pairs")
        b.metric("after preference tuning", f"{sum(margins) / len(margins):+.3f}")
        c.metric("Held-out pairs ranked right", f"{wins_after} of {len(after)}",
                 **ui.change(wins_after - wins_before, "vs before"))  # fmt: skip
        st.caption("Before tuning the model is its own reference, so every reward, and every margin, is 0. "
                   "A pair is ranked right when the preferred answer is the likelier one.")
    sampled_comparison(run.result.model if trained else None, val_pairs)


def preference_chart(before: list[finetune.PreferenceScore], after: list[finetune.PreferenceScore] | None) -> None:
    labels = [s.prompt for s in before]
    traces = []
    if after is not None:
        traces.append({
            "type": "scatter", "x": [100 * s.preference for s in after], "y": labels, "mode": "markers",
            "name": "after preference tuning", "marker": {"size": 14, "color": figures.OKABE_ITO[0]},
            "hovertemplate": "%{y}<br>after: %{x:.1f}% for the preferred answer<extra></extra>",
        })  # fmt: skip
    traces.append({  # drawn last, so an open circle stays visible on top of a dot at the same place
        "type": "scatter", "x": [100 * s.preference for s in before], "y": labels, "mode": "markers",
        "name": "before (the reference)",
        "marker": {"size": 14, "color": "#777777", "symbol": "circle-open", "line": {"width": 3}},
        "hovertemplate": "%{y}<br>before: %{x:.1f}% for the preferred answer<extra></extra>",
    })  # fmt: skip
    fig = figures.figure(
        traces, x_title="P(preferred) / (P(preferred) + P(rejected))", y_title="held-out question",
        height=150 + 28 * len(labels), shapes=[figures.vline(50, dash="dot", color="#555555")],
        xaxis={"range": [-2, 102], "ticksuffix": "%"}, yaxis={"autorange": "reversed"},
        # At the foot, in a margin of its own: at the top the tool bar would cover it.
        legend={"orientation": "h", "xref": "container", "x": 0, "yref": "container", "yanchor": "bottom", "y": 0},
        margin={"l": 10, "r": 10, "t": 20, "b": 110},
    )  # fmt: skip
    ui.plot(fig, key="pref_pairs")
    st.caption(
        "One row per held-out pair. Right of the dotted line the model finds the preferred answer more likely "
        "than the rejected one; an answer's probability is the product of its tokens' probabilities after the question."
    )


def sampled_comparison(model: Transformer | None, val_pairs) -> None:
    st.subheader("Sampled answers, before and after")
    tokenizer = decoder().tokenizer
    prompts = tuple(dict.fromkeys(p.prompt for p in val_pairs if p.kind == "safe"))[:6]
    most = limits.QUESTION_CHARS.maximum
    url_state.bind("pt_ask", default="can the cow eat chocolate ?", max_chars=most)
    own = st.text_input("Ask your own question too", key="pt_ask")
    try:
        own = limits.check_text(own, most).lower()
        room = decoder().model.config.block_size - finetune.ANSWER_TOKENS
        if (n := len(finetune.prompt_ids(tokenizer, own))) > room:
            raise limits.LimitError(f"The question is {n} tokens long, [BOS] included; the tiny decoder reads "
                                    f"{room + finetune.ANSWER_TOKENS} and needs room for an answer, so at most {room}.")
        prompts = (*prompts, own) if own not in prompts else prompts
        note_unknown(own)
    except limits.LimitError as why:
        st.warning(f"{why} Showing the held-out questions only.")
    seed = int(st.session_state.get("seed", 0))
    table = {"question": list(prompts), "before": sampled_answers(prompts, seed)}
    if model is not None:
        table["after"] = [finetune.answer(model, tokenizer, p, greedy=False, seed=seed) for p in prompts]
    ui.table(table, width="stretch")
    st.caption("Each answer is sampled (temperature 1) with the sidebar's seed, the same seed before and after.")


# --- the page -------------------------------------------------------------------------------

ui.page_header(
    "10. Fine-tuning",
    "Pre-training taught the tiny models the animal world; here you adapt a copy of them, live, three ways. "
    "You will see loss and accuracy curves grow as they train, and how the models behave before and after.",
)
if not (models.zoo_ready("encoder") and models.zoo_ready("decoder")):
    st.info("The tiny pre-trained models are not installed yet, so there is nothing to fine-tune.")
    url_state.stop()
url_state.bind("section", default="task", options=list(SECTIONS))
section = st.segmented_control("Fine-tune", list(SECTIONS), key="section", format_func=SECTIONS.get, required=True)
if section == "task":
    task_section()
elif section == "instruct":
    instruct_section()
else:
    preference_section()

CODE = {
    "task": (O.SequenceClassifier, finetune.make_classifier, finetune.train_downstream),
    "instruct": (O.instruction_batch, finetune.train_instructions),
    "preference": (O.dpo_loss, finetune.make_preference_loss, finetune.train_preferences),
}
ui.show_code(*CODE[section])
ui.takeaway(
    "Fine-tuning starts from what pre-training learned, so a little data goes a long way: a few labels train a "
    "classifier, instruction-answer pairs (graded on the answer only) teach a model to answer, and preference "
    "pairs steer which answers it favours. Every run here trains a copy; the shared model never changes."
)
