"""2. Embeddings: the lookup table from token ID to vector, and how training puts similar words close together."""

from __future__ import annotations

import time

import streamlit as st

from llm_core.device import pick_device
from llm_core.embeddings import (
    MINILM_REPRESENTATIONS,
    PROJECTIONS,
    class_agreement,
    embedding_matrix,
    embedding_rows,
    embedding_training,
    nearest_neighbours,
    project,
    vocabulary_words,
)
from llm_core.tokenizers import unknown_pieces
from pages.common import embedding_figures as ef
from pages.common import limits, models, training, ui, url_state
from pages.common.embeddings_cached import (
    lookup_figure,
    parse_words,
    point_set,
    projection_view,
    similarity_view,
)

DEFAULT_TEXT = "the cat eats the fish ."
DEFAULT_WORD = "cat"
DEFAULT_WORDS = (
    "cat, dog, horse, cow, rabbit, mouse, bird, fox, bear, frog, "
    "apple, banana, bread, cheese, rice, soup, milk, cake, "
    "red, blue, green, yellow, black, white, pink, "
    "house, garden, forest, river, school, market, village, farm, "
    "runs, sleeps, eats, swims, sings, walks, "
    "one, two, three, four, five, six"
)
SIMILARITY_WORDS = ("cat", "dog", "horse", "apple", "bread", "red", "blue", "house", "garden")
MAX_COMPARED = 20  # words in the similarity matrix, each row and column labelled
TRAIN_DIMS = (2, 4, 8, 16, 32, 64)
TRAIN_STEPS, TRAIN_SECONDS = 300, 20


# --- the page ---------------------------------------------------------------------------------------

ui.page_header(
    "2. Embeddings",
    "Each token ID picks one row of a trained table of numbers. See the rows your sentence looks up, then watch "
    "the whole vocabulary as points: before training they are scattered at random, after training similar words "
    "sit together.",
)

choices = models.available()
model_label = url_state.bind("model", default=choices[0], options=choices)
text = url_state.bind("text", default=DEFAULT_TEXT, max_chars=limits.TEXT_CHARS.maximum)
left, right = ui.row(220, "stretch")
with left:
    st.selectbox("Model", choices, key="model", help="; ".join(f"{k}: {v}" for k, v in models.DESCRIPTIONS.items()))
with right:
    st.text_input("Sentence", key="text",
                  help=f"Read in lower case. At most {limits.SENTENCE_TOKENS.maximum} tokens, special tokens included.")
tm = models.text_model(model_label)
V, C = tm.config.vocab_size, tm.config.n_embd
is_minilm = model_label == models.MINILM
st.caption(f"**{model_label}**: {models.DESCRIPTIONS[model_label]}. Its embedding table has {V:,} rows "
           f"(one per token ID) of {C} numbers.")

# --- 1. the lookup table ------------------------------------------------------------------------------

st.header("1 · The lookup table")
st.markdown(
    f"The embedding layer is a matrix of **{V:,} × {C}**: row *i* is the vector of token ID *i*. Looking a "
    f"sentence up is nothing more than picking its rows. The numbers were learned during training, together "
    f"with the rest of the model."
)
try:
    cleaned = tm.read(limits.check_text(text))  # the tiny models know only lower case
    encoding = tm.encode(cleaned)
    limits.SENTENCE_TOKENS.check(len(encoding.ids))
except limits.LimitError as why:
    ui.show_error(f"{why} The lookup table needs a sentence; the projections below do not.")
else:
    unknown = unknown_pieces(tm.tokenizer, cleaned)
    if unknown:
        st.info(f"Not in {model_label}'s vocabulary, so looked up as the row of [UNK]: {ui.quoted(unknown)}.",
                icon=":material/help:")
    lookup, table = lookup_figure(model_label, cleaned)
    line = ui.figures_row()  # the figure beside the table where it has room, else below it
    with line.container(width=240):
        ui.table(table, key="lookup_table", width="stretch")
    with line:
        ui.plot(lookup, key="lookup_rows")
    st.caption("Red is positive, blue negative. The same token always gets the same row, wherever it stands; the "
               "position is added afterwards by the positional encoding.")

# --- 2. similar words lie close ------------------------------------------------------------------------

st.header("2 · Similar words lie close")
method = url_state.bind("method", default=PROJECTIONS[0], options=PROJECTIONS)
dims = url_state.bind("dims", default=2, options=(2, 3))
query = url_state.bind("word", default=DEFAULT_WORD, max_chars=limits.WORD_CHARS.maximum)
p1, p2, p3 = ui.row("content", "content", "stretch", gap="large")
with p1:
    st.segmented_control("Projection", PROJECTIONS, key="method", required=True,
                         help="PCA keeps the directions of largest spread; t-SNE keeps who is near whom.")
with p2:
    st.segmented_control("Dimensions", (2, 3), key="dims", required=True, format_func=lambda d: f"{d}D")
with p3:
    st.text_input("Nearest neighbours of", key="word")
query_word = query.strip().lower()
if word_too_long := limits.WORD_CHARS.over(len(query.strip())):  # counted as typed
    ui.show_error(f"Nearest neighbours of: {word_too_long} Type one word.")
    query_word = ""

if is_minilm:
    words_raw = url_state.bind("words", default=DEFAULT_WORDS, max_chars=limits.TEXT_CHARS.maximum)
    representation = url_state.bind("rep", default="sentence embedding", options=MINILM_REPRESENTATIONS)
    w1, w2 = ui.row("stretch", "content")
    with w1:
        st.text_area("Words to place (commas or spaces between them)", key="words", height=100)
    with w2:
        st.radio("Vector of a word", MINILM_REPRESENTATIONS, key="rep",
                 help="input embedding: the rows of MiniLM's lookup table (averaged over a word's pieces); "
                      "sentence embedding: the word alone run through all 6 layers and averaged.")
    if too_long := limits.TEXT_CHARS.over(len(words_raw)):
        listed, problem = [], f"Words to place: {too_long} Shorten the list above."
    else:
        listed = parse_words(words_raw)
        count = limits.WORD_LIST.message(len(listed))
        problem = count and f"{count} Edit the list above: the projection needs 3 to {limits.WORD_LIST.maximum} words."
    unk = tm.tokenizer.unk_id  # each word is read alone, as the plot reads it
    unplaced = [w for w, e in zip(listed, tm.tokenizer.encode_batch(listed), strict=True) if unk in e.ids]
    if unplaced and not problem:
        st.info(f"MiniLM reads {ui.quoted(unplaced)} at least in part as [UNK]: its vocabulary has no token for "
                f"{'it' if len(unplaced) == 1 else 'them'}. Two words made only of [UNK] get one and the same vector "
                "(cosine 1).", icon=":material/help:")
    if representation == "sentence embedding":
        st.markdown("Each word is run **alone** through MiniLM and its token vectors averaged: the sentence "
                    "embedding MiniLM was trained to compare by cosine similarity. Switch to *input embedding* "
                    "to see the raw rows of its lookup table: they cluster too, before any attention.")
    else:
        st.markdown("Each point is a row of MiniLM's **lookup table** (averaged over the word's WordPiece pieces "
                    "when it has several): the vector the model starts from, before any attention layer.")
    plots = [(True, f"MiniLM, {representation}")]
else:
    words_raw, representation = "", ""
    st.markdown(
        "Every word of the tiny model's vocabulary, coloured by its class in the synthetic corpus. **Before "
        "training**: the same network with its random initial table. **After training**: trained on the corpus. "
        "Nothing told the model which words are animals or colours; words used in the same places got similar rows."
    )
    plots = [(False, "Before training"), (True, "After training")]  # with ": t-SNE", within half a 1280 screen
    problem = None

vocabulary: list[str] = []
if problem:
    ui.show_error(problem)
    plots = []
else:
    vocabulary = point_set(model_label, True, words_raw, representation)[0]

if vocabulary and query_word and query_word not in vocabulary:
    where = "the word list" if is_minilm else f"the {model_label}'s vocabulary of the synthetic world"
    classes = point_set(model_label, True, words_raw, representation)[1]
    examples = [next(w for w, c in zip(vocabulary, classes, strict=True) if c == main)
                for main in ef.MAIN_CLASSES if main in classes][:6] or vocabulary[:6]  # fmt: skip
    typed = query_word.split()
    if len(typed) > 1:  # "cat dog": the search starts from one word's point
        st.warning(f"“{ui.markdown_literal(query_word)}” is {len(typed)} words; the search starts from the point "
                   f"of one word. Try {ui.quoted(typed[:1] if typed[0] in vocabulary else examples, limit=6)}.")
    else:
        st.warning(f"“{ui.markdown_literal(query_word)}” is not in {where}, so it has no point to search from. "
                   f"Try one of: {ui.markdown_literal(', '.join(examples))}"
                   + (", or add it to the list above." if is_minilm else "."))
    query_word = ""
elif vocabulary and not query_word and not word_too_long:
    st.info("Type a word into “Nearest neighbours of” to mark it in the plot and list its closest words.")

# The projections share a line where both have room and stack on a narrow screen; below them, each one's
# numbers, named by the projection they belong to when there are two.
views = [(trained, projection_view(model_label, trained, words_raw, representation, method, dims, query_word, title))
         for trained, title in plots]
if views:
    with ui.figures_row():
        for trained, (fig, _, _) in views:
            ui.plot(fig, key=f"projection_{'after' if trained else 'before'}")
    which = {trained: f", {'after' if trained else 'before'} training" if len(views) > 1 else ""
             for trained, _ in views}  # which projection a table belongs to, once they may stack
    agreement = {trained: share for trained, (_, _, share) in views}
    help_text = "For each word, the share of its 5 nearest neighbours (by cosine) that have its class."
    if len(views) > 1:  # one number for the pair: what training changed
        gain = round(100 * agreement[True]) - round(100 * agreement[False])
        st.metric("Neighbour class agreement after training", f"{agreement[True]:.0%}", help=help_text,
                  **ui.change(gain, f"points from {agreement[False]:.0%} before training"))
    else:
        st.metric("Neighbour class agreement", f"{agreement[True]:.0%}", help=help_text)
    tables = [(trained, table) for trained, (_, table, _) in views if table is not None]
    # Side by side while each has its 300 px, one below the other on a 1024 px projector with the sidebar open.
    for cell, (trained, table) in zip(ui.row(*[300] * len(tables)), tables, strict=True):
        with cell:
            st.markdown(f"**Nearest neighbours of “{ui.markdown_literal(query_word)}”{which[trained]}** by cosine "
                        "similarity")
            ui.table(table, key=f"neighbours_{'after' if trained else 'before'}", width="stretch",
                     column_config={"cosine": st.column_config.NumberColumn(format="%.3f")})
st.caption(
    "Cosine similarity compares directions: 1 means the same direction, 0 unrelated, −1 opposite. A random table's "
    "agreement is about the chance that two words picked at random share a class; a trained one scores far higher. "
    + ("t-SNE keeps neighbours together but its distances between clusters mean nothing."
       if method == "t-SNE" else "PCA keeps the directions of largest spread; words far apart in many "
       "dimensions can still land on top of each other in two.")
)

st.subheader("Cosine similarity of chosen words")
if not vocabulary:  # a word list being edited: the words chosen from it wait until it can be used again
    st.info("The words to compare come from the word list above, once it can be used.", icon=":material/edit:")
else:
    default_pick = [w for w in SIMILARITY_WORDS if w in vocabulary] or vocabulary[:6]
    if any(w not in vocabulary for w in st.session_state.get("pick", [])):  # the word list or the model changed
        # the chosen words still placed, or when none is, the new list's default choice
        st.session_state["pick"] = [w for w in st.session_state["pick"] if w in vocabulary] or default_pick
    picked = url_state.bind("pick", default=default_pick, options=vocabulary)
    if len(picked) > MAX_COMPARED:  # from a link
        st.warning(f"The link chooses {len(picked)} words to compare; the limit is {MAX_COMPARED}, so the first "
                   f"{MAX_COMPARED} are compared.")
        st.session_state["pick"] = picked = list(picked[:MAX_COMPARED])
        url_state.bind("pick", default=default_pick, options=vocabulary)  # the link shows the words compared
    st.multiselect(f"Words to compare (up to {MAX_COMPARED})", vocabulary, key="pick", max_selections=MAX_COMPARED)
    if len(picked) < 2:
        st.info("Choose at least two words to compare.", icon=":material/touch_app:")
    else:
        ui.plot(similarity_view(model_label, words_raw, representation, tuple(picked), plots[-1][1]),
                key="similarity")

# --- 3. train your own ----------------------------------------------------------------------------------

st.header("3 · Train a tiny model yourself")
st.markdown(
    f"Train a one-layer decoder on the synthetic corpus with an embedding of the size you choose, and watch its "
    f"vocabulary organise itself (PCA, updated as it trains). It stops after {TRAIN_STEPS} steps or "
    f"{TRAIN_SECONDS} seconds. With 2 dimensions the table is drawn as it is; try it, then 32."
)
dim = url_state.bind("dim", default=16, options=TRAIN_DIMS)
st.segmented_control("Embedding size", TRAIN_DIMS, key="dim", required=True)


def start(stop):
    tokenizer, corpus = models.synthetic_words()
    seed = int(st.session_state.get("seed", 0))
    model, run = embedding_training(tokenizer, corpus, dim, steps=TRAIN_STEPS, max_seconds=TRAIN_SECONDS,
                                    seed=seed, stop=stop)  # fmt: skip
    model.to(pick_device())
    words, ids, classes = vocabulary_words(tokenizer)
    return (("model", m) for m in run), {"model": model, "dim": dim, "words": words, "ids": ids, "classes": classes}


REDRAW_S = 1.5  # the live projection is rebuilt at most this often: drawing competes with training for the CPU


def draw(run: training.LiveRun) -> None:
    """The live projection, loss curve and class agreement; rebuilt only every REDRAW_S while training."""
    info = run.result
    if run.running and time.monotonic() - info.get("drawn_at", 0.0) < REDRAW_S and "figures" in info:
        projection_fig, loss_fig, agreement = info["figures"]
    else:
        vectors = embedding_matrix(info["model"])[info["ids"]]  # a snapshot of the table as it trains
        axis = ("dimension 1", "dimension 2", "") if info["dim"] == 2 else ("component 1", "component 2", "")
        # Figures, not dicts: this session's own objects, drawn again without re-validation between rebuilds.
        projection_fig = ef.projection(project(vectors, "PCA", 2), info["words"], info["classes"],
                                       f"{info['dim']}-dimensional embedding, step {run.step}",
                                       axis_names=axis, height=560)  # fmt: skip
        loss_fig = training.curve_figure(run, "loss", "Training loss", y_title="cross-entropy", val=False)
        agreement = class_agreement(vectors, info["classes"])
        info["figures"], info["drawn_at"] = (projection_fig, loss_fig, agreement), time.monotonic()
    with ui.figures_row():
        ui.plot(projection_fig, key="live_projection")
        ui.plot(loss_fig, key="live_loss")
    st.metric("Neighbour class agreement", f"{agreement:.0%}")


training.live_training("embedding", start, draw, steps=TRAIN_STEPS, max_seconds=TRAIN_SECONDS,
                       button_label=f"Train with {dim} dimensions")

ui.takeaway(
    "An embedding layer is a lookup table: token ID in, one trained row out. Nobody tells the model which words "
    "are alike; training moves words that are used in the same contexts to nearby rows, so cosine similarity and "
    "a 2D projection reveal the word classes. Too few dimensions leave no room for them to separate."
)
ui.show_code(embedding_rows, nearest_neighbours, class_agreement, project)
