"""5. Masking: what each token may look at, in an encoder, a decoder, a padded batch and cross-attention.

One sentence goes through three tiny trained models (encoder, decoder, encoder-decoder). The
page draws each attention mask next to the scores and weights it produces, proves the causal
mask by editing one word and measuring which outputs move, and shows the training objective
that each mask makes possible.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import streamlit as st

from llm_core import masking
from llm_core.data import SEQUENCE_TASKS, WORD_CLASSES, solve, word_class
from llm_core.masks import bidirectional_mask, causal_mask, padding_mask
from llm_core.model import Attention, Transformer
from llm_core.pretrain import seq2seq_source
from llm_core.tokenizers import Tokenizer, unknown_pieces
from pages.common import chips, figures, limits, models, ui, url_state
from pages.common import masking_cached as cached
from pages.common.attention_figures import escape, label_tokens
from pages.common.masking_cached import Sentence, attention_view, fill_ins, perturbation, predictions

DEFAULT_TEXT = "the cat eats the fish in the house ."
DEFAULT_SHORT = "the dog sleeps ."
MAX_CELL_TEXT = 16  # columns a half-width heatmap can print a value in; beyond, the texts run into each other
PREFIX_CHARS = 23  # characters the prediction table's prefix column shows at 1280 px
MAX_SYMBOL_TEXT = 8  # ... and "−∞" in (at 1280 px, a cell of 11 columns is narrower than the symbol)
DEFAULT_DIGITS = "3 1 4 1 5"
DEFAULT_TASK = "reverse"
DIGITS = limits.SEQ2SEQ_DIGITS
MIN_WORDS = 2  # with one token there is nothing a mask could hide
GUESS_CHART_PX = 340  # an encoder's guesses for one hidden word: two to a line at 1280 px, three at 1920
TOKEN_BOUND = limits.SENTENCE_TOKENS  # special tokens included
MAX_BLANKS = 3  # [MASK]ed positions at once
STAGES = {"mask": "1 Mask", "scores": "2 Scores", "masked": "3 Masked scores", "weights": "4 Weights"}
STAGE_NOTES = {
    "mask": "Which keys each query may look at: **1** allowed, **0** blocked (dark). This boolean matrix is what "
            "attention does differently in the four set-ups; their scores differ too, since each comes from "
            "its own trained model.",
    "scores": "The scaled scores q·k / √d_k, computed for *all* pairs, allowed or not. Red: the query and key "
              "match well, blue: they do not.",
    "masked": "The same scores with every blocked pair set to **−∞** (dark cells). Nothing else changes.",
    "weights": "softmax of each row: e^(−∞) = 0, so a blocked key gets weight exactly 0 (dark cells) and the "
               "allowed keys share the whole weight (each row sums to 1).",
}
ALLOWED_COLOR = figures.OKABE_ITO[4]  # sky blue; blocked cells take the dark masked colour
MASK_SCALE = [[0.0, figures.MASKED_COLOR], [0.5, figures.MASKED_COLOR], [0.5, ALLOWED_COLOR], [1.0, ALLOWED_COLOR]]
EDIT_COLOR = figures.OKABE_ITO[1]
CONTENT_CLASSES = ("animal", "food", "place", "color", "name", "action")


# --- models and the sentence as each one reads it --------------------------------------------------


# once per run of the page (it re-runs whole); each model is loaded once per server (models.tiny)
model_of, tokenizer = cache(cached.model_of), cache(cached.tokenizer)


def encoder_ids(ids: list[int]) -> list[int]:
    tok = tokenizer()
    return [tok.cls_id, *ids, tok.sep_id]  # [CLS] sentence [SEP], as the encoder was trained


def decoder_ids(ids: list[int]) -> list[int]:
    return [tokenizer().bos_id, *ids]  # [BOS] sentence: position t predicts token t + 1


def seq2seq_pair(task: str, digits: list[str]) -> tuple[list[int], list[int]]:
    """(encoder input, decoder input) of the encoder-decoder: the task and digits in, [BOS] + the answer out.

    The decoder input is the correct answer (teacher forcing, as in training), so the cross-attention
    shows where the model looks in the source while writing each output token.
    """
    tok = digits_tokenizer()
    source = " ".join(digits)
    src = tok.encode(seq2seq_source(task, source)).ids  # "reverse 3 1 4", as in training
    tgt = tok.encode(solve(task, source)).ids
    return src, [tok.bos_id, *tgt]


def names(ids: list[int], tok: Tokenizer | None = None) -> list[str]:
    tok = tok or tokenizer()
    return [tok.id_to_token(i) or "?" for i in ids]


def labels(ids: list[int], marks: dict[int, str] | None = None) -> list[str]:
    """Axis labels "position token", escaped for Plotly, with optional replacements (an edit)."""
    marks = marks or {}
    return [f"{t} {escape(marks.get(t, tok))}" for t, tok in enumerate(names(ids))]


def token_labels(ids: list[int], tok: Tokenizer | None = None) -> list[str]:
    """Shorter labels for the attention grid: the token, with its position only when the word repeats."""
    return label_tokens(names(ids, tok))


@cache
def digits_tokenizer() -> Tokenizer:
    """The encoder-decoder's own small vocabulary: digits, number words and task names."""
    return models.tiny("seq2seq")[1]


def read_digits(raw: str) -> list[str] | None:
    """The digits of the encoder-decoder's input, or None after saying what to change."""
    text = raw.strip()
    if not text:
        ui.show_error("The digit sequence is empty: type a few digits such as 3 1 4 1 5.")
        return None
    if re.search(r"[^0-9\s]", text):
        ui.show_error("That is not a digit sequence: type only digits 0 to 9, separated by spaces, since "
                      "digits are all the tiny encoder-decoder was trained on.")
        return None
    digits = list(text.replace(" ", "").replace("\t", "").replace("\n", ""))
    if (problem := DIGITS.message(len(digits))) is not None:
        ui.show_error(problem)
        return None
    return digits


def read_sentence(raw: str, what: str) -> Sentence | None:
    """Check, lower-case and tokenize a sentence; on a problem, say what to change and return None."""
    try:
        text = limits.check_text(raw)
    except limits.LimitError as problem:
        ui.show_error(f"{what}: {problem}")
        return None
    lowered = text.lower()
    encoding = tokenizer().encode(lowered)
    n_tokens = len(encoding.ids) + 2  # + [CLS] and [SEP] (the longest framing of the three models)
    if (n := len(encoding.ids)) < MIN_WORDS:
        ui.show_error(
            f"{what} has {n} token{'' if n == 1 else 's'}; type at least {MIN_WORDS} words, since with one token "
            "there is nothing a mask could hide from it."
        )
        return None
    if (problem := TOKEN_BOUND.message(n_tokens)) is not None:
        ui.show_error(f"{what}: {problem} Shorten it to at most {TOKEN_BOUND.maximum - 2} words and punctuation marks.")
        return None
    unknown = unknown_pieces(tokenizer(), lowered)  # words, and symbols or emoji the vocabulary has no token for
    return Sentence(lowered, list(encoding.tokens), list(encoding.ids), unknown)


def warn_unknown(sentence: Sentence, what: str) -> None:
    if not sentence.unknown:
        return
    unknown = ui.quoted(sentence.unknown)
    vocabulary = tokenizer().vocab
    classes = "; ".join(
        f"**{name}**: {', '.join(w for w in words[:8] if w in vocabulary)}"
        for name, words in WORD_CLASSES.items()
        if name not in ("dialogue", "punctuation")
    )
    n_words = tokenizer().vocab_size - len(tokenizer().special_tokens)
    st.warning(
        f"{what}: {unknown} {'is' if len(set(sentence.unknown)) == 1 else 'are'} not in the tiny models' "
        f"vocabulary of {n_words:,} words, so the word-level tokenizer turned "
        f"{'it' if len(set(sentence.unknown)) == 1 else 'them'} into **[UNK]**: the models see only "
        f"“unknown word”. The page still runs; for meaningful predictions pick words from the "
        f"synthetic world, for example {classes}.",
        icon=":material/help:",
    )


# --- defaults that adapt to the sentence -----------------------------------------------------------


def default_edit(tokens: list[str]) -> int:
    """Word position (1-based, = model position after [CLS]/[BOS]) to edit: a content word near the middle."""
    middle = (len(tokens) + 1) // 2
    order = sorted(range(len(tokens)), key=lambda i: (abs(i + 1 - middle), i))
    for i in order:
        if word_class(tokens[i]) in CONTENT_CLASSES and i > 0:
            return i + 1
    return max(2, middle) if len(tokens) > 1 else 1


def default_blank(tokens: list[str]) -> int:
    """Word position to hide behind [MASK]: the last content word, which the words before it predict."""
    for i in reversed(range(len(tokens))):
        if word_class(tokens[i]) in ("food", "place", "animal", "color"):
            return i + 1
    return (len(tokens) + 1) // 2


def swap_for(word: str, vocabulary: list[str]) -> str:
    """A sensible replacement: the next word of the same class ("cat" -> "dog"), else any other word."""
    cls = word_class(word)
    same = [w for w in WORD_CLASSES.get(cls, []) if w in vocabulary] if cls else []
    if word in same and len(same) > 1:
        return same[(same.index(word) + 1) % len(same)]
    return next(w for w in vocabulary if w != word)


def replacement_words() -> list[str]:
    """Every ordinary word of the vocabulary, grouped by class as in the synthetic world."""
    vocabulary = tokenizer().vocab
    ordered = [w for words in WORD_CLASSES.values() for w in words if w in vocabulary]
    listed, tok = set(ordered), tokenizer()
    rest = sorted(w for w in vocabulary if w not in listed and not tok.is_special(w))
    return ordered + rest


def prefix_end(tokens: list[str]) -> str:
    """A prefix as the prediction table's narrow column shows it: whole while it fits, else "…" and its last
    tokens, where each row adds the token it was given."""
    text = " ".join(tokens)
    if len(text) <= PREFIX_CHARS:
        return text
    kept = [tokens[-1]]
    while len(" ".join(["…", tokens[-len(kept) - 1], *kept])) <= PREFIX_CHARS:
        kept.insert(0, tokens[-len(kept) - 1])
    return " ".join(["…", *kept])


def sentence_changed() -> None:
    url_state.forget("edit", "word", "blank")


def edit_changed() -> None:
    url_state.forget("word")


# --- figures ---------------------------------------------------------------------------------------


def stage_figure(view: masking.MaskedAttention, stage: str, x: list[str], y: list[str], title: str,
                 *, x_title: str = "Key (attended to)", y_title: str = "Query (attending)") -> figures.Figure:
    """One stage of one head as a heatmap; exact values on hover, −∞ written in every blocked cell."""
    common = {"x_title": x_title, "y_title": y_title, "show_values": False, "trace": {"colorbar": {"thickness": 14}}}
    if stage == "mask":  # two colours, explained beside the figure: no colour bar
        return figures.heatmap(view.mask.astype(float), x, y, title, value_name="allowed", colorscale=MASK_SCALE,
                               zmin=0, zmax=1, decimals=0,
                               **{**common, "show_values": len(x) <= MAX_CELL_TEXT,
                                  "trace": {"showscale": False}})  # fmt: skip
    if stage == "scores":
        return figures.heatmap(view.scores, x, y, title, value_name="score", diverging=True, decimals=3, **common)
    if stage == "masked":
        finite = np.where(view.mask, view.masked_scores, 0.0)
        reach = float(np.abs(finite).max()) or 1.0
        minus_inf = {  # the layer of blocked cells: −∞ written in each of them while there is room
            "text": np.where(view.mask | (len(x) > MAX_SYMBOL_TEXT), "", figures.MINUS_INF), "texttemplate": "%{text}",
            "showlegend": False, "textfont": {"size": figures.FONT_SIZE - 4, "color": "white"},
        }  # fmt: skip
        return figures.heatmap(view.masked_scores, x, y, title, value_name="masked score", diverging=True,
                               zmin=-reach, zmax=reach, decimals=3, masked_trace=minus_inf, **common)  # fmt: skip
    blocked = [] if view.mask.all() else [blocked_layer(view.mask, x, y, x_title, y_title)]
    return figures.heatmap(view.weights, x, y, title, value_name="weight", zmin=0, zmax=1, decimals=3,
                           extra_traces=blocked, **common)  # fmt: skip


def blocked_layer(mask: np.ndarray, x: list[str], y: list[str], x_title: str, y_title: str) -> dict:
    """Blocked cells of a weight matrix, drawn in the masked colour with "0": the mask stays visible."""
    rows, cols = np.indices(mask.shape)
    custom = np.dstack([np.asarray(y, dtype=object)[rows], np.asarray(x, dtype=object)[cols]])
    return {
        "type": "heatmap", "z": np.where(mask, np.nan, 1.0), "x": list(range(len(x))), "y": list(range(len(y))),
        "colorscale": [[0, figures.MASKED_COLOR], [1, figures.MASKED_COLOR]], "showscale": False, "xgap": 1,
        "ygap": 1, "text": np.where(mask | (len(x) > MAX_CELL_TEXT), "", "0"), "texttemplate": "%{text}",
        "textfont": {"size": figures.FONT_SIZE - 4, "color": "white"}, "customdata": custom, "name": "blocked",
        "hovertemplate": f"{y_title}: %{{customdata[0]}}<br>{x_title}: %{{customdata[1]}}<br>"
                         "weight: 0 (blocked)<extra></extra>",
    }  # fmt: skip


def change_figure(result: masking.Perturbation, x: list[str], edit: int, title: str) -> figures.Figure:
    """Bars of ||Δh|| per position; an exact zero is written as "0" above its (invisible) bar, and
    the other values too while the bars leave room for them.

    The edited position itself moves far more than any other; when it would flatten the rest,
    the axis stops above the others and the edited bar runs off the top with its value written there.
    """
    values = result.final
    room = len(values) <= MAX_CELL_TEXT
    labels = ["0" if v == 0 else f"{v:.2f}" if room else "" for v in values]
    layout: dict = {"shapes": [figures.vline(edit - 0.5, color=EDIT_COLOR, dash="dash", width=2)]}
    others = np.delete(values, edit)
    top = float(others.max()) if others.size else 0.0
    if top > 0 and values[edit] > 3 * top:
        labels[edit] = ""
        layout["yaxis"] = {"range": [0, 1.3 * top]}
        layout["annotations"] = [{"x": edit, "y": 1.3 * top, "text": f"{values[edit]:.2f} ↑", "showarrow": False,
                                  "yanchor": "bottom", "font": {"size": figures.FONT_SIZE - 2, "color": EDIT_COLOR}}]
    else:
        layout["yaxis"] = {"rangemode": "tozero"}
    bars = {"text": labels, "textposition": "outside", "textfont": {"size": figures.FONT_SIZE - 2},
            "cliponaxis": False}  # fmt: skip
    return figures.bar_chart(x, values.tolist(), title, x_title="Position", y_title="‖change of output‖ (L2)",
                             highlight=edit, decimals=6, trace=bars, **layout)  # fmt: skip


def layer_figure(result: masking.Perturbation, x: list[str], title: str) -> figures.Figure:
    """Layer x position heatmap of ||Δh||; cells that did not move at all are marked with a 0."""
    zeros = {"text": np.where((result.change == 0) & (len(x) <= MAX_CELL_TEXT), "0", ""), "texttemplate": "%{text}",
             "textfont": {"size": figures.FONT_SIZE - 2, "color": "white"}}  # fmt: skip
    return figures.heatmap(result.change, x, result.layers, title, x_title="Position", y_title="After",
                           value_name="‖change‖", decimals=4, show_values=False, trace=zeros,
                           height=120 + 60 * len(result.layers))  # fmt: skip


# --- the page --------------------------------------------------------------------------------------

ui.page_header(
    "5. Masking: encoder vs decoder",
    "The difference between an encoder and a decoder is one matrix: which tokens each token may look at. "
    "Type a sentence and see four masks at work in real tiny models, then change one word and watch which "
    "outputs move: in the encoder all of them, in the decoder none before the edit.",
)

if not all(models.zoo_ready(name) for name in ("encoder", "decoder", "seq2seq")):
    st.info("The tiny trained models are not installed yet, so this page cannot run. Run `make assets`.")
    url_state.stop()

url_state.bind("text", DEFAULT_TEXT, max_chars=limits.TEXT_CHARS.maximum)
st.text_input(
    "Your sentence", key="text", on_change=sentence_changed,
    help="Lower-case words from the synthetic world (animals, foods, colours, places, actions...). "
         f"At most {TOKEN_BOUND.maximum - 2} words and punctuation marks.",
)
sentence = read_sentence(st.session_state["text"], "Your sentence")
if sentence is None:
    url_state.stop()
warn_unknown(sentence, "Your sentence")

enc_cfg, dec_cfg, s2s_cfg = (model_of(n).config for n in ("encoder", "decoder", "seq2seq"))
n_layer = min(enc_cfg.n_layer, dec_cfg.n_layer, s2s_cfg.n_layer)
n_head = min(enc_cfg.n_head, dec_cfg.n_head, s2s_cfg.n_head)
layer = url_state.bind("layer", n_layer - 1, options=list(range(n_layer)))
head = url_state.bind("head", 0, options=list(range(n_head)))
stage = url_state.bind("show", "weights", options=list(STAGES))

st.header("Four masks on one sentence")
c1, c2, c3 = ui.row(140, 140, "stretch")
with c1:
    st.selectbox("Layer", list(range(n_layer)), key="layer", help="Every layer uses the same mask.")
with c2:
    st.selectbox("Head", list(range(n_head)), key="head", help="Every head uses the same mask.")
with c3:
    st.segmented_control("Show", list(STAGES), key="show", format_func=STAGES.get, required=True,
                         help="Attention in four steps: the mask, q·k/√d_k, the masked scores, the softmax.")
st.markdown(STAGE_NOTES[stage])

enc = encoder_ids(sentence.ids)
dec = decoder_ids(sentence.ids)
# Each pair of figures shares a line where both have room and stacks on a narrow screen, their notes below.
with ui.figures_row():
    view = attention_view("encoder", tuple(enc), layer, head)
    ui.plot(stage_figure(view, stage, token_labels(enc), token_labels(enc), "Encoder: bidirectional mask"),
            key="mask_encoder")
    view = attention_view("decoder", tuple(dec), layer, head)
    ui.plot(stage_figure(view, stage, token_labels(dec), token_labels(dec), "Decoder: causal mask"),
            key="mask_decoder")
st.caption(
    "**Encoder:** every token may look at every token, before and after it. [CLS] and [SEP] frame the sentence "
    "as BERT-style encoders read it. **Decoder:** token t may look at positions 0..t only: the upper triangle, "
    "the future, is blocked. [BOS] starts the sequence so that the first word has something to be predicted from."
)

url_state.bind("short", DEFAULT_SHORT, max_chars=limits.TEXT_CHARS.maximum)
url_state.bind("task", DEFAULT_TASK, options=list(SEQUENCE_TASKS))
url_state.bind("digits", DEFAULT_DIGITS, max_chars=limits.TEXT_CHARS.maximum)
i1, i2, i3 = ui.row("stretch", 200, "stretch", vertical_alignment="bottom")
with i1:
    st.text_input(
        "A second sentence, batched with yours", key="short",
        help="A batch is a rectangle: the shorter sentence is filled up with [PAD] to the length of the longer one.",
    )
with i2:
    st.selectbox("Task", list(SEQUENCE_TASKS), key="task",
                 help="The tiny encoder-decoder was trained on these four digit tasks (spell: 3 -> three).")
with i3:
    st.text_input("Digits for the encoder-decoder", key="digits",
                  help=f"Digits 0 to 9 separated by spaces, {DIGITS.minimum} to {DIGITS.maximum} of them.")
short = read_sentence(st.session_state["short"], "The second sentence")
if short is not None:
    warn_unknown(short, "The second sentence")
digits = read_digits(st.session_state["digits"])
with ui.figures_row():
    if short is not None:
        rows = (tuple(encoder_ids(sentence.ids)), tuple(encoder_ids(short.ids)))
        row = 0 if len(rows[0]) < len(rows[1]) else 1  # the shorter one is the padded one
        width = max(map(len, rows))
        padded = list(rows[row]) + [tokenizer().pad_id] * (width - len(rows[row]))
        view = attention_view("encoder", (), layer, head, batch=rows, row=row)
        ui.plot(stage_figure(view, stage, token_labels(padded), token_labels(padded),
                             "Padding mask (encoder, batch of two)"), key="mask_padding")
    if digits is not None:
        task = st.session_state["task"]
        src, tgt = seq2seq_pair(task, digits)
        view = attention_view("seq2seq", tuple(tgt), layer, head, cross_source=tuple(src))
        ui.plot(stage_figure(view, stage, token_labels(src, digits_tokenizer()), token_labels(tgt, digits_tokenizer()),
                             "Cross-attention (encoder-decoder)", x_title="Encoder position (key)",
                             y_title="Decoder position (query)"), key="mask_cross")
if short is not None:
    n_pad = width - len(rows[row])
    if n_pad:
        st.caption(
            f"**Padding:** the shorter sentence of the batch is filled up with {n_pad} [PAD] "
            f"token{'s' * (n_pad != 1)}. No token may look at [PAD] (blocked columns), so padding changes nothing "
            "for the real tokens. The [PAD] rows still compute something, but their outputs are thrown away."
        )
    else:
        st.caption("**Padding:** both sentences have the same length, so nothing is padded: make one of them shorter.")
    cells = [names(list(r)) + ["[PAD]"] * (width - len(r)) for r in rows]
    with st.expander("The batch as the encoder receives it"):
        ui.table({"batch row": ["your sentence", "second sentence"],
                  **{str(t): [row[t] for row in cells] for t in range(width)}}, width="stretch")
        st.caption("attention_mask is 1 for a real token and 0 for [PAD]; `padding_mask` turns it into the "
                   "blocked columns above.")
if digits is not None:
    st.caption(
        "**Cross-attention:** queries come from the decoder (it is writing the answer), keys from the encoder's "
        "output (the question). Every decoder position may look at the whole input; only padding would be "
        "blocked. The causal rule applies to the decoder's own tokens, in its self-attention. In the weights, "
        "look for the alignment: to write each digit, a head reads the input digit it copies (for reverse, an "
        "anti-diagonal)."
    )

# --- the proof by perturbation ---------------------------------------------------------------------

st.header("Change one word: which outputs notice?")
st.markdown(
    "Replace the word at position *i* and run both models again. The bars show, for every position, how far "
    "its final hidden state moved (the L2 norm of the difference). A decoder position before *i* cannot see "
    "position *i*, so its output must stay **exactly** the same."
)
n_words = len(sentence.tokens)
edit_default = default_edit(sentence.tokens)
edit = url_state.bind("edit", edit_default, min_value=1)  # past the sentence: said below, with its length
if edit > n_words:
    st.warning(
        f"The position to change is {edit}, but your sentence has only {n_words} tokens (positions 1 to "
        f"{n_words}); changing position {edit_default} instead."
    )
    st.session_state["edit"] = edit = edit_default
    url_state.bind("edit", edit_default)  # the link shows the position now used
    url_state.forget("word")
vocabulary = replacement_words()
old_word = sentence.tokens[edit - 1]
word = url_state.bind("word", swap_for(old_word, vocabulary), options=vocabulary)
e1, e2 = ui.row("stretch", "stretch")
with e1:
    st.selectbox(
        "Position to change", list(range(1, n_words + 1)), key="edit", on_change=edit_changed,
        format_func=lambda p: f"{p}: {sentence.tokens[p - 1]}",
    )
with e2:
    st.selectbox("Replace it with", vocabulary, key="word",
                 format_func=lambda w: f"{w} ({word_class(w) or 'other'})")
word_id = tokenizer().token_to_id(word)
if word == old_word:
    st.info(f"“{word}” is the word already there: pick a different one to see an effect.")

edited_enc, edited_dec = list(enc), list(dec)
edited_enc[edit] = edited_dec[edit] = word_id  # word position p sits at model position p in both
marks = {edit: f"{old_word}→{word}"}
enc_change = perturbation("encoder", tuple(enc), tuple(edited_enc))
dec_change = perturbation("decoder", tuple(dec), tuple(edited_dec))
with ui.figures_row():
    ui.plot(change_figure(enc_change, labels(enc, marks), edit, "Encoder: change of each output"),
            key="change_encoder")
    ui.plot(change_figure(dec_change, labels(dec, marks), edit, "Decoder: change of each output"),
            key="change_decoder")
moved = int((enc_change.final > 0).sum())
still = int((dec_change.final[:edit] == 0).sum())
st.caption(f"**Encoder:** {moved} of {len(enc)} positions changed: every token attends to position {edit}, so the "
           f"edit reaches all of them, before and after it. **Decoder:** positions 0 to {edit - 1} changed by "
           f"exactly 0 ({still} of {edit} bit-identical); positions {edit} and later moved: they may look at "
           f"position {edit}.")

with ui.folded("Layer by layer: where the change spreads", key="layers_open") as shown:
    if shown:
        st.markdown(
            "Rows: the input embedding, the output of each layer (block) and the final output; **0** marks a "
            "hidden state that did not change at all. At the embedding only the edited position differs. Each "
            "attention layer passes the change along the arrows the mask allows: in the encoder to every position "
            "from the first layer on, in the decoder only to the positions after the edit."
        )
        with ui.figures_row():
            ui.plot(layer_figure(enc_change, labels(enc, marks), "Encoder: ‖change‖ per layer"), key="layers_encoder")
            ui.plot(layer_figure(dec_change, labels(dec, marks), "Decoder: ‖change‖ per layer"), key="layers_decoder")

# --- autoregression ----------------------------------------------------------------------------------

st.header("A decoder predicts every next token from the prefix alone")
st.markdown(
    "One forward pass gives a prediction at every position at once, and the causal mask makes each of them a "
    "prediction from the prefix only, as if the rest of the sentence did not exist yet. The column “prefix only” "
    "runs the decoder again with the rest of the sentence deleted (padding that no token may look at takes its "
    "place): the probability is the same (up to rounding in the last digits)."
)
prefix_rows = []
for p in predictions(tuple(dec)):
    prefix_rows.append({
        "t": str(p.position),
        "position t sees": prefix_end(names(p.prefix)),
        "next token": "—" if p.target is None else names([p.target])[0],
        "P, one pass": "—" if p.target_prob is None else f"{p.target_prob:.4f}",
        "P, prefix only": "—" if p.prefix_only_prob is None else f"{p.prefix_only_prob:.4f}",
        "top guesses": ", ".join(f"{names([i])[0]} {prob:.2f}" for i, prob in p.top),
    })  # fmt: skip
ui.table(
    prefix_rows, width="stretch", key="prefix_table",
    column_config={
        "t": st.column_config.TextColumn(width=40),
        "position t sees": st.column_config.TextColumn(width=170, help="Tokens 0 to t; a long prefix shows its end"),
        "next token": st.column_config.TextColumn(width=95),
        "P, one pass": st.column_config.TextColumn(width=100, help="P(next token) from one pass over the sentence"),
        "P, prefix only": st.column_config.TextColumn(width=115, help="P(next token) from a pass on the prefix alone"),
        "top guesses": st.column_config.TextColumn(width=220, help="The likeliest next tokens and their probabilities"),
    },
)

# --- training objectives -----------------------------------------------------------------------------

st.header("What each mask trains for")
st.subheader("Encoder: fill in the [MASK]")
st.markdown(
    "An encoder sees both sides of a word, so predicting the next word would be cheating: it is trained "
    "to guess hidden words instead (masked language modelling). Hide up to three words and read its guesses."
)
blanks = url_state.bind("blank", [default_blank(sentence.tokens)], options=list(range(1, TOKEN_BOUND.maximum + 1)))
valid = [b for b in blanks if 1 <= b <= n_words][:MAX_BLANKS]
if valid != list(blanks):
    valid = valid or [default_blank(sentence.tokens)]
    st.warning(f"Positions to hide must be between 1 and {n_words}, at most {MAX_BLANKS} of them; hiding "
               f"{', '.join(map(str, valid))} instead.")
    st.session_state["blank"] = valid
    url_state.bind("blank", [default_blank(sentence.tokens)])
line = ui.figures_row()  # the chips beside the choice where both have room, else below it
with line.container(width=300):
    st.multiselect(
        f"Words to hide (up to {MAX_BLANKS})", list(range(1, n_words + 1)), key="blank", max_selections=MAX_BLANKS,
        format_func=lambda p: f"{p}: {sentence.tokens[p - 1]}",
    )
chosen = sorted(st.session_state["blank"])
if not chosen:
    st.info("Pick at least one word to hide.")
else:
    masked_ids = [tokenizer().mask_id if t in chosen else i for t, i in enumerate(enc)]
    masked_tokens = names(masked_ids)
    with line:
        ui.plot(chips.token_chips(masked_tokens, masked_ids, line_columns=36,
                                  special=[tokenizer().is_special(t) for t in masked_tokens]), key="mlm_chips")
    guesses = fill_ins(tuple(enc), tuple(chosen))
    with ui.figures_row():  # one width for every guess chart, however many share a line
        for p in chosen:
            words = [names([i])[0] for i, _ in guesses[p]]
            probs = [prob for _, prob in guesses[p]]
            truth = sentence.tokens[p - 1]
            ui.plot(figures.bar_chart([escape(w) for w in words], probs, f"[MASK] at {p} (was “{escape(truth)}”)",
                                      x_title="probability", y_title="guess", horizontal=True,
                                      highlight=words.index(truth) if truth in words else None,
                                      height=80 + 50 * len(words)), key=f"mlm_{p}", width=GUESS_CHART_PX)

st.subheader("Decoder: the next token, everywhere at once")
st.markdown(
    "A decoder's targets are its inputs shifted one place to the left: position t must predict token "
    "t + 1. The causal mask hides that answer and everything after it, so one pass trains every position in parallel."
)
table = [p for p in predictions(tuple(dec)) if p.target is not None]
inputs = names([p.prefix[-1] for p in table])
targets = names([p.target for p in table])
# Each target over its input, in two rows: read across, the targets are the inputs shifted left. Beyond
# MAX_CELL_TEXT bars the two rows no longer fit side by side, and each label reads "input → target".
if len(table) <= MAX_CELL_TEXT:
    ticks = [f"<b>{escape(t)}</b><br><span style='color:#666'>{escape(i)}</span>"
             for t, i in zip(targets, inputs, strict=True)]  # fmt: skip
    x_title, axis = "top: target (token t + 1) · below: input (token t)", {"tickangle": 0}
else:
    ticks = [f"{escape(i)} → <b>{escape(t)}</b>" for t, i in zip(targets, inputs, strict=True)]
    x_title, axis = "input (token t) → target (token t + 1)", {}
fig = figures.bar_chart(ticks, [p.target_prob for p in table], "P(target) at every position, from one pass",
                        x_title=x_title, y_title="P(target)", decimals=4, max_labels=TOKEN_BOUND.maximum,
                        xaxis=axis)  # fmt: skip
ui.plot(fig, key="shifted_targets")
losses = [-np.log(p.target_prob) for p in table]
st.markdown(
    f"Each bar is one training example, read from the same single pass; the loss on this sentence is the "
    f"mean of −log P over all {len(table)} of them: **{float(np.mean(losses)):.3f}**."
)

ui.show_code(causal_mask, bidirectional_mask, padding_mask, Transformer.encode, Transformer.decode, Attention.forward,
             masking.perturbation_effect)
ui.takeaway(
    "The encoder and the decoder run the same attention; only the mask differs. Bidirectional: every token "
    "uses the whole sentence, so an encoder builds representations and learns by filling in masked words. "
    "Causal: a token never sees the future, so a decoder can predict the next token at every position at "
    "once and generate text one token at a time. Padding is blocked everywhere, and cross-attention lets the "
    "decoder read the whole encoder output."
)
