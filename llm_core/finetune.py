"""Fine-tuning a pre-trained model three ways: on a labelled task, on instructions, on preferences.

Pre-training gives a model general knowledge of its language; fine-tuning adapts a copy of it
with much less data. The three experiments here all run on the one training loop of
`train.py` with the objectives of `objectives.py`; this module adds what each needs around it:

- downstream: a sentiment classifier trained three ways on the same few labels (from scratch,
  a linear probe on a frozen pre-trained backbone, and a full fine-tune), interleaved step by
  step so their curves grow side by side;
- instruction tuning: question -> answer pairs, the loss counted on the answer tokens only,
  measured by the exact-match rate on held-out questions;
- preference tuning: preferred vs rejected answers, a DPO objective against a frozen copy of
  the starting model, measured by the reward margin on held-out pairs.

Every function that trains takes a model it may change: pass a copy (`trainable_copy`) of a
shared model, never the shared model itself. Everything returns plain data (lists, floats,
dataclasses), so a page only has to draw it.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from . import objectives as O
from .data import (
    SENTIMENT_LABELS,
    InstructionPair,
    LabelledText,
    PreferencePair,
    clean_text,
    preference_pairs,
    sentiment_examples,
    train_test_split,
)
from .data.synthetic import PLACES, Noun, animal_np, food_np, name_np, positive_or_negative
from .generate import generate
from .model import Transformer
from .tokenizers import Tokenizer
from .train import TrainMetrics, evaluate, model_device, to_device, train

StopFlag = threading.Event | Callable[[], bool] | None
# What each experiment does unless told otherwise (the page's defaults): on two CPU cores each
# ends well within its 30-second budget. bench/bench_fine_tuning.py measures it.
DEFAULTS: dict[str, dict[str, float]] = {
    "task": {"steps": 120, "lr": 1e-3, "batch_size": 16, "max_seconds": 30},
    "instruct": {"steps": 150, "lr": 1e-3, "batch_size": 32, "max_seconds": 30},
    "preference": {"steps": 80, "lr": 1e-3, "batch_size": 16, "max_seconds": 30, "beta": 0.1, "sft_weight": 1.0},
}
_INIT_LOCK = threading.Lock()  # fresh weights come from the global RNG: one initialisation at a time

# --- model copies and frozen parts --------------------------------------------------------


def trainable_copy(model: nn.Module) -> nn.Module:
    """A deep copy that may be trained: the shared, cached model is never touched."""
    clone = copy.deepcopy(model)
    clone.requires_grad_(True)
    return clone


def fresh_like(model: Transformer, seed: int) -> Transformer:
    """The same architecture with new random weights: what 'training from scratch' starts from."""
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Transformer(model.config).to(model.device)


def backbone_parts(model: Transformer) -> list[str]:
    """Names of the pieces a student may freeze, bottom to top: the embeddings, then each block."""
    return ["embeddings", *(f"block {i + 1}" for i in range(model.config.n_layer))]


def freeze(model: Transformer, parts: Sequence[str]) -> int:
    """Stop the named parts (see `backbone_parts`) from training; returns the parameters frozen.

    A decoder's output layer is tied to its embedding table, so freezing the embeddings freezes
    the output layer too.
    """
    known = backbone_parts(model)
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    modules: list[nn.Module] = []
    stacks = [s for s in (model.encoder, model.decoder) if s is not None]
    for part in parts:
        if part == "embeddings":
            names = ("tok_emb", "pos_emb", "type_emb", "emb_norm")
            modules += [m for name in names if (m := getattr(model, name, None)) is not None]
        else:
            modules += [stack.blocks[int(part.split()[1]) - 1] for stack in stacks]
    frozen = {id(p): p for m in modules for p in m.parameters()}
    for p in frozen.values():
        p.requires_grad_(False)
    return sum(p.numel() for p in frozen.values())


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(parameters that train, all parameters), counting a tied matrix once."""
    params = {id(p): p for p in model.parameters()}.values()
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def interleave(runs: Mapping[str, Iterator[TrainMetrics]]) -> Iterator[tuple[str, TrainMetrics]]:
    """Step several trainings in turn, one step each, so their curves grow side by side.

    Yields (run name, metrics) until every run has ended; a run that ends drops out.
    """
    active = dict(runs)
    while active:
        for name, run in list(active.items()):
            metrics = next(run, None)
            if metrics is None:
                del active[name]
                continue
            yield name, metrics
            if metrics.done:
                del active[name]


def _sample(n: int, batch_size: int, rng: torch.Generator) -> list[int]:
    """Indices of one batch: the whole set when it is small, else a random subset without repeats."""
    if n <= batch_size:
        return list(range(n))
    return torch.randperm(n, generator=rng)[:batch_size].tolist()


def _chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- 1. downstream task: sentiment classification -----------------------------------------

DOWNSTREAM_METHODS: dict[str, str] = {
    "scratch": "From scratch",
    "probe": "Linear probe (frozen backbone)",
    "full": "Full fine-tune",
}
VALIDATION_SEED = 10_007  # the held-out sentences never change, so every run is scored on the same set
MAX_CLASSES = 4
QUOTED_CHARS = 40  # of a line quoted in a message; the rest is cut, with "…"


def labelled_task(
    task: str, n_labels: int, n_val: int = 200, seed: int = 0
) -> tuple[list[LabelledText], list[LabelledText], tuple[str, ...]]:
    """`n_labels` training sentences of a built-in task ("sentiment" or "topic"), a fixed validation
    set that shares none of them, and the label names.

    The validation set depends on nothing the student sets, so accuracies from different runs
    (more labels, another learning rate) are comparable. Training labels are balanced.
    """
    make, names = {"sentiment": (sentiment_examples, SENTIMENT_LABELS), "topic": (topic_examples, TOPIC_LABELS)}[task]
    val = make(n_val, seed=VALIDATION_SEED)
    seen = {e.text for e in val}
    pool = [e for e in make(2 * n_labels + 30, seed=seed) if e.text not in seen]
    by_label = [[e for e in pool if e.label == k] for k in range(len(names))]
    train = [e for k in range(len(names)) for e in by_label[k][: (n_labels + k) // len(names)]]
    random.Random(seed).shuffle(train)
    return train, val, names


def sentiment_task(n_labels: int, n_val: int = 200, seed: int = 0) -> tuple[list[LabelledText], list[LabelledText]]:
    """The sentiment task of `labelled_task`: training sentences and the fixed validation set."""
    train, val, _ = labelled_task("sentiment", n_labels, n_val, seed)
    return train, val


TOPIC_LABELS: tuple[str, ...] = ("animal", "food", "place")


def _topic_sentence(rng: random.Random, kind: str) -> str:
    if kind == "animal":
        thing = animal_np(rng)
    elif kind == "food":
        thing = food_np(rng)
    else:
        thing = Noun(f"the {rng.choice(PLACES)}", "", False, "it", "it")
    feeling = positive_or_negative(rng, kind, rng.random() < 0.5)
    template = rng.randrange(3)
    if template == 0:
        return f"{thing.text} {thing.was} {feeling} ."
    name = name_np(rng).text
    if template == 1:
        return f"{name} thinks that {thing.text} {thing.be} {feeling} ."
    return f"{name} likes {thing.text} ."


def topic_examples(n: int = 1000, seed: int = 0) -> list[LabelledText]:
    """Sentences labelled by what they are about: an animal (0), a food (1) or a place (2).

    The second built-in task, and the one pre-training helps most with: the pre-trained
    embeddings already group animals with animals and foods with foods, so a few labels
    reach words the labels never mentioned. Balanced labels, seeded.
    """
    rng = random.Random(seed)
    labels = [i % len(TOPIC_LABELS) for i in range(n)]
    rng.shuffle(labels)
    return [LabelledText(_topic_sentence(rng, TOPIC_LABELS[label]), label) for label in labels]


def parse_labelled_lines(text: str, max_examples: int = 200) -> tuple[list[LabelledText], tuple[str, ...]]:
    """The student's own examples, one per line as `label: sentence`, as examples and label names.

    Labels are numbered in order of first appearance (for "positive"/"negative" the lecture's
    order is used, so they match the synthetic task). Raises ValueError with a sentence for the
    student: no examples, a line without a label, one class only, too many classes, a sentence
    under two labels, or a label with a single different sentence (one is needed to train, one to
    check).
    """
    lines = [(n, line.strip()) for n, line in enumerate(clean_text(text).split("\n"), start=1) if line.strip()]
    if not lines:
        raise ValueError("there are no examples yet: write one per line, like “positive: the cake was lovely”")
    if len(lines) > max_examples:
        raise ValueError(f"there are {len(lines):,} examples; the limit is {max_examples:,}")
    pairs = []
    for n, line in lines:  # numbered as the student sees them, blank lines included
        label, sep, sentence = line.partition(":")
        label, sentence = label.strip().lower(), sentence.strip().lower()
        if not sep or not label or not sentence:
            raise ValueError(f"line {n} (“{_excerpt(line)}”) needs a label, a colon and a sentence, like "
                             "“negative: the soup was cold”")
        pairs.append((label, sentence))
    names = list(dict.fromkeys(label for label, _ in pairs))
    if set(names) <= set(SENTIMENT_LABELS):
        names = [n for n in SENTIMENT_LABELS if n in names]
    if len(names) < 2:
        raise ValueError(
            f"every example has the label “{names[0]}”; a classifier needs at least two different labels to tell apart"
        )
    if len(names) > MAX_CLASSES:
        raise ValueError(f"there are {len(names)} different labels; the limit is {MAX_CLASSES}")
    labels_of: dict[str, set[str]] = {}
    for label, sentence in pairs:
        labels_of.setdefault(sentence, set()).add(label)
    for sentence, labels in labels_of.items():
        if len(labels) > 1:
            both = " and ".join(f"“{name}”" for name in names if name in labels)
            raise ValueError(f"“{_excerpt(sentence)}” has two labels, {both}; give each sentence one")
    for name in names:
        if sum(name in labels for labels in labels_of.values()) < 2:
            raise ValueError(f"the label “{name}” has only one example (a line written again, or again in other "
                             "capitals, counts once); give every label at least two different ones")
    return [LabelledText(sentence, names.index(label)) for label, sentence in pairs], tuple(names)


def _excerpt(text: str) -> str:
    """The start of a line quoted in a message, cut with "…" after QUOTED_CHARS characters."""
    return text if len(text) <= QUOTED_CHARS else text[:QUOTED_CHARS] + "…"


def split_own_examples(examples: Sequence[LabelledText]) -> tuple[list[LabelledText], list[LabelledText]]:
    """Hold out about a quarter of each label's different sentences (at least one) to check the classifier on.

    A sentence written more than once is held out or trained on, never both, and held out once:
    the held-out accuracy is measured on sentences the models have not seen.
    """
    train, val = [], []
    for label in sorted({e.label for e in examples}):
        group = [e for e in examples if e.label == label]
        sentences = list(dict.fromkeys(e.text for e in group))
        held = sentences[len(sentences) - max(1, round(len(sentences) / 4)) :]
        train += [e for e in group if e.text not in held]
        val += [LabelledText(text, label) for text in held]
    return train, val


def encode_for_classifier(tokenizer: Tokenizer, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    """[CLS] sentence [SEP] token ids, lower-cased as the synthetic corpus is, cut to max_tokens."""
    return [e.ids[:max_tokens] for e in tokenizer.encode_batch([t.lower() for t in texts], add_special_tokens=True)]


def make_classifier(
    pretrained: Transformer, method: str, n_classes: int, *, seed: int = 0, frozen_parts: Sequence[str] = ()
) -> O.SequenceClassifier:
    """A classifier for one of DOWNSTREAM_METHODS, built on a copy of (or fresh weights like) `pretrained`.

    `frozen_parts` applies to the full fine-tune; the probe freezes the whole backbone and the
    scratch model trains everything.
    """
    if method not in DOWNSTREAM_METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(DOWNSTREAM_METHODS)}")
    backbone = fresh_like(pretrained, seed) if method == "scratch" else trainable_copy(pretrained)
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        clf = O.SequenceClassifier(backbone, n_classes, pooling="mean", freeze_backbone=method == "probe")
    if method == "full" and frozen_parts:
        freeze(backbone, frozen_parts)
    return clf.to(pretrained.device).eval()


def _classification_eval(rows: list[list[int]], labels: list[int], pad_id: int) -> Callable[[nn.Module], dict]:
    batches = [
        O.classification_batch(r, l, pad_id=pad_id)
        for r, l in zip(_chunks(rows, 256), _chunks(labels, 256), strict=True)
    ]
    return lambda model: evaluate(model, batches, O.classification_loss)


def train_downstream(
    classifiers: Mapping[str, O.SequenceClassifier],
    tokenizer: Tokenizer,
    train_set: Sequence[LabelledText],
    val_set: Sequence[LabelledText],
    *,
    steps: int = 150,
    lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    max_seconds: float | None = None,
    eval_every: int = 10,
    stop: StopFlag = None,
    device: torch.device | str | None = None,
) -> Iterator[tuple[str, TrainMetrics]]:
    """Train every classifier on the same batches, one step each in turn; yields (method, metrics).

    The same seed draws the same batches for every method, so the curves differ only by where
    each model started and what it was allowed to change.
    """
    if not train_set:
        raise ValueError("there are no training examples")
    block = next(iter(classifiers.values())).backbone.config.block_size
    rows = encode_for_classifier(tokenizer, [e.text for e in train_set], block)
    labels = [e.label for e in train_set]
    val_rows = encode_for_classifier(tokenizer, [e.text for e in val_set], block)
    eval_fn = _classification_eval(val_rows, [e.label for e in val_set], tokenizer.pad_id)

    def batch_fn(rng: torch.Generator) -> O.Batch:
        pick = _sample(len(rows), batch_size, rng)
        return O.classification_batch([rows[i] for i in pick], [labels[i] for i in pick], pad_id=tokenizer.pad_id)

    runs = {
        name: train(
            clf, batch_fn, O.classification_loss, steps=steps, lr=lr, seed=seed, max_seconds=max_seconds,
            eval_fn=eval_fn, eval_every=eval_every, stop=stop, device=device,
        )
        for name, clf in classifiers.items()
    }  # fmt: skip
    return interleave(runs)


@torch.no_grad()
def classify(model: O.SequenceClassifier, tokenizer: Tokenizer, texts: Sequence[str]) -> list[list[float]]:
    """Class probabilities for each text, one row per text."""
    if not texts:
        return []
    rows = encode_for_classifier(tokenizer, texts, model.backbone.config.block_size)
    batch = to_device(O.classification_batch(rows, [0] * len(rows), pad_id=tokenizer.pad_id), model_device(model))
    was_training = model.training
    model.eval()
    logits, _ = model(batch["idx"], attention_mask=batch["attention_mask"])  # (N, n_classes)
    model.train(was_training)
    return logits.softmax(-1).cpu().tolist()


# --- 2. instruction tuning ----------------------------------------------------------------


def prompt_ids(tokenizer: Tokenizer, prompt: str) -> list[int]:
    """[BOS] + the prompt's tokens: how a decoder is asked a question."""
    return [tokenizer.bos_id, *tokenizer.encode(prompt.lower()).ids]


def answer_ids(tokenizer: Tokenizer, answer: str) -> list[int]:
    """The answer's tokens + [EOS], so the model also learns where to stop."""
    return [*tokenizer.encode(answer.lower()).ids, tokenizer.eos_id]


def instruction_examples(tokenizer: Tokenizer, pairs: Sequence[InstructionPair]) -> list[tuple[list[int], list[int]]]:
    return [(prompt_ids(tokenizer, p.instruction), answer_ids(tokenizer, p.answer)) for p in pairs]


@dataclass
class MaskedExample:
    """One instruction example as the loss sees it: what the model reads, what it must predict, what counts."""

    inputs: list[str]  # token read at each position
    targets: list[str]  # the next token, which the model is asked to predict there
    counted: list[bool]  # True where the prediction is graded (answer tokens and [EOS])


def masked_example(tokenizer: Tokenizer, pair: InstructionPair) -> MaskedExample:
    """The answer-only loss mask of `objectives.instruction_batch` over one example, as tokens."""
    batch = O.instruction_batch(instruction_examples(tokenizer, [pair]), pad_id=tokenizer.pad_id)
    ids, mask = batch["idx"][0].tolist(), batch["answer_mask"][0].tolist()
    full = [*ids, *[t for t in batch["targets"][0].tolist()[-1:] if t != O.IGNORE]]
    tokens = [tokenizer.id_to_token(i) for i in full]
    return MaskedExample(tokens[: len(ids)], tokens[1 : len(ids) + 1], mask)


def _answer_only_eval(examples: list[tuple[list[int], list[int]]], pad_id: int) -> Callable[[nn.Module], dict]:
    batches = [O.instruction_batch(chunk, pad_id=pad_id) for chunk in _chunks(examples, 128)]

    def eval_fn(model: nn.Module) -> dict[str, float]:
        out = evaluate(model, batches, O.language_model_loss)
        out["exact_match"] = _exact_match_rate(model, batches)
        return out

    return eval_fn


@torch.no_grad()
def _exact_match_rate(model: Transformer, batches: Sequence[O.Batch]) -> float:
    """Fraction of examples whose every answer token (and the [EOS]) is the model's top choice.

    Greedy decoding picks the top token at each step; when every one of them is the answer's
    next token, it writes exactly the answer and stops. So this one forward pass per batch
    gives the exact-match rate of greedy generation without generating.
    """
    right, total = 0, 0
    device = model_device(model)
    for batch in batches:
        batch = to_device(batch, device)
        logits, _ = model(batch["idx"])  # (B, T, V)
        counted = batch["targets"] != O.IGNORE
        wrong = (logits.argmax(-1) != batch["targets"]) & counted  # (B, T)
        right += int((~wrong.any(dim=1)).sum())
        total += batch["idx"].size(0)
    return right / max(1, total)


def exact_match_rate(model: Transformer, tokenizer: Tokenizer, pairs: Sequence[InstructionPair]) -> float:
    """Share of questions the model answers exactly right by greedy decoding (one pass per 128 questions)."""
    examples = instruction_examples(tokenizer, pairs)
    return _exact_match_rate(model, [O.instruction_batch(c, pad_id=tokenizer.pad_id) for c in _chunks(examples, 128)])


ANSWER_TOKENS = 12  # the most tokens `answer` writes


def answer(
    model: Transformer, tokenizer: Tokenizer, prompt: str, *, max_new_tokens: int = ANSWER_TOKENS,
    greedy: bool = True, temperature: float = 1.0, seed: int = 0,
) -> str:
    """What the model writes after `prompt`, up to [EOS]: greedy, or sampled with a seed."""
    ids = prompt_ids(tokenizer, prompt)
    room = model.config.block_size - len(ids)
    if room <= 0:
        raise ValueError(f"the prompt is {len(ids)} tokens; this model reads at most {model.config.block_size}")
    out = generate(
        model, ids, min(max_new_tokens, room), greedy=greedy, temperature=temperature, seed=seed,
        stop_ids=[tokenizer.eos_id], record=False,
    )  # fmt: skip
    return tokenizer.decode(out.tokens)


def train_instructions(
    model: Transformer,
    tokenizer: Tokenizer,
    train_pairs: Sequence[InstructionPair],
    val_pairs: Sequence[InstructionPair],
    *,
    steps: int = 150,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
    max_seconds: float | None = None,
    eval_every: int = 10,
    stop: StopFlag = None,
    device: torch.device | str | None = None,
) -> Iterator[TrainMetrics]:
    """Instruction tuning: next-token loss on the answer tokens only, validated on held-out questions.

    Validation reports the answer loss, the token accuracy and `exact_match`, the share of
    held-out questions answered exactly.
    """
    examples = instruction_examples(tokenizer, train_pairs)
    eval_fn = _answer_only_eval(instruction_examples(tokenizer, val_pairs), tokenizer.pad_id)

    def batch_fn(rng: torch.Generator) -> O.Batch:
        picked = [examples[i] for i in _sample(len(examples), batch_size, rng)]
        batch = O.instruction_batch(picked, pad_id=tokenizer.pad_id)
        del batch["answer_mask"]  # for display only; the targets already carry the mask
        return batch

    return train(
        model, batch_fn, O.language_model_loss, steps=steps, lr=lr, seed=seed, max_seconds=max_seconds,
        eval_fn=eval_fn, eval_every=eval_every, stop=stop, device=device,
    )  # fmt: skip


# --- 3. preference tuning (DPO) -----------------------------------------------------------


def preference_split(test_fraction: float = 0.25, seed: int = 0) -> tuple[list[PreferencePair], list[PreferencePair]]:
    """Train and held-out preference pairs, split within each kind (polite, safe) so both are tested."""
    pairs = preference_pairs(seed)
    train, test = [], []
    for kind in sorted({p.kind for p in pairs}):
        a, b = train_test_split([p for p in pairs if p.kind == kind], test_fraction, seed)
        train += a
        test += b
    return train, test


def answering_both_ways(
    model: Transformer,
    tokenizer: Tokenizer,
    pairs: Sequence[PreferencePair],
    *,
    steps: int = 150,
    lr: float = 3e-3,
    batch_size: int = 32,
    seed: int = 0,
) -> Transformer:
    """A copy of `model` taught to answer the preference prompts, the good way and the bad way alike.

    Preference tuning corrects a model that already answers but sometimes answers badly, as one
    trained on raw web text does. The shipped decoder only continues sentences, so this gives it
    that starting point: supervised tuning on both answers of every training pair. The result
    is frozen; it is the reference, and preference tuning trains a copy of it.
    """
    both = [InstructionPair(p.prompt, a, p.kind) for p in pairs for a in (p.chosen, p.rejected)]
    start = trainable_copy(model)
    for _ in train_instructions(start, tokenizer, both, both[:8], steps=steps, lr=lr, batch_size=batch_size,
                                seed=seed, eval_every=steps):  # fmt: skip
        pass
    return O.frozen_copy(start)


def preference_examples(
    tokenizer: Tokenizer, pairs: Sequence[PreferencePair]
) -> list[tuple[list[int], list[int], list[int]]]:
    return [
        (prompt_ids(tokenizer, p.prompt), answer_ids(tokenizer, p.chosen), answer_ids(tokenizer, p.rejected))
        for p in pairs
    ]


def _preference_eval(batches: list[O.Batch], loss_fn: Callable) -> Callable[[nn.Module], dict]:
    return lambda model: evaluate(model, batches, loss_fn)


def make_preference_loss(
    reference: Transformer, beta: float = 0.1, sft_weight: float = 0.0
) -> Callable[[Transformer, O.Batch], O.LossOutput]:
    """DPO against `reference`, plus `sft_weight` times the next-token loss of the preferred answers.

    DPO alone only asks that the preferred answer gain on the rejected one. A small model meets
    that most cheaply by making the rejected answer unlikely and letting its words drift to
    anything else, so sampled text degrades. Also imitating the preferred answers (as many
    real recipes do) keeps the model writing them. `sft_weight=0` is plain DPO.
    """
    dpo = O.make_dpo_loss(reference, beta)

    def loss_fn(model: Transformer, batch: O.Batch) -> O.LossOutput:
        loss, extras = dpo(model, batch)
        extras["dpo_loss"] = loss.item()
        if sft_weight:
            _, imitation = model(batch["chosen_idx"], batch["chosen_targets"])
            loss = loss + sft_weight * imitation
            extras["imitation_loss"] = imitation.item()
        return loss, extras

    return loss_fn


def train_preferences(
    model: Transformer,
    reference: Transformer,
    tokenizer: Tokenizer,
    train_pairs: Sequence[PreferencePair],
    val_pairs: Sequence[PreferencePair],
    *,
    beta: float = 0.1,
    sft_weight: float = 0.0,
    steps: int = 150,
    lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 0,
    max_seconds: float | None = None,
    eval_every: int = 10,
    stop: StopFlag = None,
    device: torch.device | str | None = None,
) -> Iterator[TrainMetrics]:
    """DPO: make the preferred answer more likely than the rejected one, relative to a frozen `reference`.

    Training and validation report the loss, `dpo_loss` and `reward_margin`, the mean of
    beta * [(log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))].
    `sft_weight` adds imitation of the preferred answers (see `make_preference_loss`).
    """
    if device is not None:
        reference.to(device)
    examples = preference_examples(tokenizer, train_pairs)
    loss_fn = make_preference_loss(reference, beta, sft_weight)
    val_examples = preference_examples(tokenizer, val_pairs)
    val_batches = [O.preference_batch(c, pad_id=tokenizer.pad_id) for c in _chunks(val_examples, 64)]

    def batch_fn(rng: torch.Generator) -> O.Batch:
        picked = [examples[i] for i in _sample(len(examples), batch_size, rng)]
        return O.preference_batch(picked, pad_id=tokenizer.pad_id)

    return train(
        model, batch_fn, loss_fn, steps=steps, lr=lr, seed=seed, max_seconds=max_seconds,
        eval_fn=_preference_eval(val_batches, loss_fn), eval_every=eval_every, stop=stop, device=device,
    )  # fmt: skip


@dataclass
class PreferenceScore:
    """How likely a model finds each answer of a pair: log P(answer | prompt), summed over its tokens."""

    prompt: str
    chosen: str
    rejected: str
    chosen_logprob: float
    rejected_logprob: float

    @property
    def preference(self) -> float:
        """P(chosen) / (P(chosen) + P(rejected)): above 0.5 when the preferred answer is the likelier one."""
        return float(torch.sigmoid(torch.tensor(self.chosen_logprob - self.rejected_logprob)))


@torch.no_grad()
def preference_scores(
    model: Transformer, tokenizer: Tokenizer, pairs: Sequence[PreferencePair]
) -> list[PreferenceScore]:
    """log P(chosen | prompt) and log P(rejected | prompt) for every pair, in one pass per 64 pairs."""
    scores = []
    model_was_training = model.training
    model.eval()
    device = model_device(model)
    for chunk in _chunks(list(pairs), 64):
        batch = to_device(O.preference_batch(preference_examples(tokenizer, chunk), pad_id=tokenizer.pad_id), device)
        chosen = O.sequence_logprob(model, batch["chosen_idx"], batch["chosen_targets"]).tolist()
        rejected = O.sequence_logprob(model, batch["rejected_idx"], batch["rejected_targets"]).tolist()
        for p, c, r in zip(chunk, chosen, rejected, strict=True):
            scores.append(PreferenceScore(p.prompt, p.chosen, p.rejected, c, r))
    model.train(model_was_training)
    return scores


def reward_margins(
    policy_scores: Sequence[PreferenceScore], reference_scores: Sequence[PreferenceScore], beta: float
) -> list[float]:
    """DPO's implicit reward margin per pair: beta * (policy's log-ratio chosen/rejected - reference's)."""
    return [
        beta * ((p.chosen_logprob - r.chosen_logprob) - (p.rejected_logprob - r.rejected_logprob))
        for p, r in zip(policy_scores, reference_scores, strict=True)
    ]
