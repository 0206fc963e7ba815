"""1. Tokenization: text -> tokens -> IDs, with vocabularies learned from a corpus the student picks."""

from __future__ import annotations

import hashlib
import unicodedata

import pyarrow.compute as pc
import streamlit as st

from llm_core.data import clean_text
from llm_core.tokenizers import (
    SPECIAL_TOKENS,
    Encoding,
    Tokenizer,
    merge_word,
    replay_bpe,
    train_tokenizer,
    unknown_pieces,
)
from pages.common import chips, limits, ui, url_state
from pages.common.tokenization_cached import (
    builtin_corpus,
    growth_figures,
    merge_count_figure,
    merge_history,
    tokenizer_for,
    vocabulary,
)

DEFAULT_TEXT = "Tokenizers split rare words into frequent pieces, like reading and readers."
TEXT_BOUND = limits.TOKENIZER_TEXT_CHARS
CORPUS_CHARS = limits.CORPUS_CHARS.maximum
MAX_LISTED = 30  # unknown pieces named in the warning; the chips show every one
COMPARE_CHIPS = 120  # chips per tokenizer in the comparison, so five of them fit on a screen or two
GROWTH_MIN_CHARS = 5_000  # below this, fractions of the corpus are too small to draw a trend

CORPORA = {
    "prose": "Real English prose",
    "synthetic": "Synthetic animal world",
    "own": "Your own text",
}
CORPUS_HELP = (
    "Real English prose: about 280,000 characters of Python's own documentation, shipped with Python. "
    "Synthetic: 100,000 characters from a small grammar about animals, foods and places (lower case, "
    "about 200 different words). Your own: a plain-text file you upload, or text you paste."
)
TOKENIZERS = {
    "word": "Word-level",
    "char": "Character",
    "bpe": "BPE",
    "wordpiece": "WordPiece",
    "minilm": "MiniLM (real)",
}
TRAINABLE = ("word", "char", "bpe", "wordpiece")
VOCAB_CHOICES = [n for n in (30, 50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 8000)
                 if limits.VOCAB_SIZE.minimum <= n <= limits.VOCAB_SIZE.maximum]
DEFAULT_VOCAB = 2000
SPECIAL_MODES = {
    "none": "None",
    "encoder": "[CLS] text [SEP] (encoder, BERT)",
    "decoder": "[BOS] text [EOS] (decoder, GPT)",
}
SPECIAL_ROLES = {
    "pad": "padding: fills up the shorter texts of a batch",
    "unk": "unknown: any piece not in the vocabulary",
    "bos": "beginning of sequence: a decoder's first input",
    "eos": "end of sequence: a decoder writes it to stop",
    "cls": "classification: starts an encoder's input",
    "sep": "separator: ends a text, or splits a pair",
    "mask": "mask: hides a word for masked-LM training",
}
KIND_NOTES = {
    "word": (
        "**Word-level**: each word and each punctuation mark is one token, looked up in a vocabulary of "
        "the corpus's most frequent words. A word that is not in the vocabulary becomes **[UNK]** "
        "(red): the model can no longer tell it apart from any other unknown word. Covering more words "
        "means a bigger vocabulary, and the chart further down shows how it keeps growing on real prose."
    ),
    "char": (
        "**Character**: every character is a token, so the vocabulary is just the alphabet of the corpus "
        "and almost nothing is unknown. The price is length: a sentence becomes many tokens, and each "
        "token carries little meaning. `▁` marks a space."
    ),
    "bpe": (
        "**Byte-pair encoding (BPE)**: training starts from single characters and merges the most "
        "frequent neighbouring pair into a new token, again and again, until the vocabulary is full. "
        "Frequent words end up as one token; a rare word is spelled with a few frequent pieces. Frequent "
        "endings such as `s` often become tokens of their own, but BPE cuts where pairs are frequent, not "
        "where grammar would (on the prose with 2,000 tokens, “reading” is `▁rea` `ding`). `▁` is a space, glued "
        "to the word after it. Step through the merges below."
    ),
    "wordpiece": (
        "**WordPiece** (BERT's method): also builds subwords from characters. Google's original chose each "
        "merge by how much it raises the likelihood of the corpus; the trainer here, like Hugging Face's, "
        "merges the most frequent pair as BPE does. What differs is how pieces are written: the first piece "
        "of a word as is, every following piece with `##` in front: `read` `##ing`."
    ),
    "minilm": (
        "**MiniLM (real)**: the tokenizer of the pretrained all-MiniLM-L6-v2 model, a WordPiece vocabulary "
        "of 30,522 entries learned from a large English corpus. It lower-cases the text and removes "
        "accents first; pieces after the first start with `##`, just as in the WordPiece you can train here."
    ),
}


# --- small helpers: glue between llm_core's Encoding and what the page shows --------------------------


def encode(tokenizer: Tokenizer, text: str, mode: str = "none") -> Encoding:
    """The text's tokens, wrapped in the special tokens an encoder or a decoder would add."""
    if mode == "encoder":
        return tokenizer.encode(text, add_special_tokens=True)
    encoding = tokenizer.encode(text)
    if mode == "decoder" and tokenizer.bos_id is not None and tokenizer.eos_id is not None:
        end = len(text)
        return Encoding(
            [SPECIAL_TOKENS["bos"], *encoding.tokens, SPECIAL_TOKENS["eos"]],
            [tokenizer.bos_id, *encoding.ids, tokenizer.eos_id],
            [(0, 0), *encoding.offsets, (end, end)],
            [True, *([False] * len(encoding)), True],
            [0] * (len(encoding) + 2),
        )
    return encoding


def chips_of(encoding: Encoding, tokenizer: Tokenizer, text: str, *, label: str = "",
             highlight: list[bool] | None = None) -> chips.Chips:
    """An encoding as chips: [UNK] marked as unknown, other special tokens as special."""
    unknown = [i == tokenizer.unk_id for i in encoding.ids]
    special = encoding.special or [tokenizer.is_special(t) for t in encoding.tokens]
    special = [s and not u for s, u in zip(special, unknown, strict=True)]
    return chips.Chips(encoding.tokens, encoding.ids, encoding.offsets, text, special, unknown, highlight, label)


def draw_chips(groups: list[chips.Chips], *, key: str, max_chips: int = chips.MAX_CHIPS) -> None:
    ui.plot(chips.chips_figure(groups, max_chips=max_chips), key=key)
    longest = max(len(g.tokens) for g in groups)
    if (note := chips.chips_note(longest, max_chips)) is not None:
        st.caption(note)


def token_table(encoding: Encoding, text: str) -> list[dict]:
    rows = []
    for position, (token, token_id, (start, end)) in enumerate(
        zip(encoding.tokens, encoding.ids, encoding.offsets, strict=True)
    ):
        rows.append({
            "#": position, "token": chips.visible(token), "ID": token_id,
            "characters": f"{start}–{end}" if end > start else "—",
            "text": chips.visible(text[start:end]) if end > start else "",
        })  # fmt: skip
    return rows


def chars_per_token(text: str, encoding: Encoding) -> float:
    """Characters of the text per token that covers some of it: [UNK] counts, added [CLS]/[BOS]... do not."""
    n = sum(1 for start, end in encoding.offsets if end > start)
    return len(text) / max(n, 1)


def corpus_key_for(text: str) -> str:
    """A short name for a user's corpus: the same text, trained once, whoever gives it."""
    return "own:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def clean_widget_text(key: str) -> bool:
    """Clean a text widget's value before the widget is drawn (control characters dropped, lone
    surrogates replaced, NFC), so the box shows exactly what is tokenized. True when something
    other than Unicode normalization changed."""
    raw = st.session_state.get(key)
    if not isinstance(raw, str):
        return False
    cleaned = clean_text(raw)
    if cleaned == raw:
        return False
    st.session_state[key] = cleaned
    return cleaned != unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))


# --- the page ------------------------------------------------------------------------------------


ui.page_header(
    "1. Tokenization",
    "Before a model sees text, a tokenizer cuts it into **tokens** and replaces each by its **ID**, its row "
    "number in a vocabulary learned from training text. Train four kinds of tokenizer on a corpus, compare "
    "them with the real one of MiniLM, and watch byte-pair encoding build its vocabulary one merge at a time.",
)

# ---- inputs ----
cleaned_away = clean_widget_text("text")  # before the URL mirrors it: a lone surrogate cannot be URL-encoded
url_state.bind("text", default=DEFAULT_TEXT, max_chars=TEXT_BOUND.maximum)
cleaned_away = clean_widget_text("text") or cleaned_away  # a link's text is cleaned too
url_state.bind("corpus", default="prose", options=list(CORPORA))
url_state.bind("tokenizer", default="bpe", options=list(TOKENIZERS))
url_state.bind("vocab", default=DEFAULT_VOCAB, options=VOCAB_CHOICES)
url_state.bind("specials", default="none", options=list(SPECIAL_MODES))

left, right = ui.row("stretch", "stretch")
with left:
    st.text_area(
        "Text to tokenize", key="text", height=110,
        help=f"Any text up to {TEXT_BOUND.maximum:,} characters: try a rare word, a typo, an emoji or Chinese.",
    )
with right:
    corpus_choice = st.radio(
        "Training corpus (the text the vocabulary is learned from)", list(CORPORA), key="corpus",
        format_func=CORPORA.get, horizontal=True, help=CORPUS_HELP,
    )
    if corpus_choice == "own":
        upload = st.file_uploader(
            f"Upload a plain-text file (UTF-8, at most {CORPUS_CHARS:,} characters and "
            f"{limits.UPLOAD_BYTES.maximum / 1e6:g} MB)",
            type=["txt", "md", "csv", "text"], key="corpus_upload",
        )
        url_state.bind("corpus_paste", default="", in_link=False)  # kept when the student leaves the page
        pasted = st.text_area("…or paste a corpus here", key="corpus_paste", height=80)

# The text: cleaned and bounded; a text that cannot be used leaves the last good one on screen.
with left:
    try:
        text = limits.check_text(st.session_state["text"], TEXT_BOUND.maximum)
        st.session_state["_tok_good_text"] = text
    except limits.LimitError as problem:
        text = st.session_state.get("_tok_good_text", DEFAULT_TEXT)
        ui.show_error(f"{problem} Until then the page shows the last text that worked.")
if cleaned_away:
    # (lone surrogates never get this far: app.py replaces them in every session's state first)
    left.info("Invisible control characters were removed from the text.", icon=":material/info:")

# The corpus: built in, or the student's own (the last good one survives a bad upload).
corpus_key, corpus, corpus_label = corpus_choice, None, CORPORA.get(corpus_choice, "")
with right:
    if corpus_choice == "own":
        own = None
        try:
            if upload is not None:
                own = (limits.check_corpus(limits.read_upload(upload.getvalue(), max_chars=CORPUS_CHARS)),
                       "your uploaded file")
                if pasted.strip():
                    st.caption("The uploaded file is used, not the pasted text: remove the file (×) to train on "
                               "the text instead.")
            elif pasted.strip():
                own = (limits.check_corpus(limits.check_text(pasted, CORPUS_CHARS)), "your pasted text")
        except limits.LimitError as problem:
            ui.show_error(f"This corpus cannot be used. {problem}")
        if own is not None:
            st.session_state["_tok_own"] = (corpus_key_for(own[0]), own[0], own[1])
        if "_tok_own" in st.session_state:
            corpus_key, corpus, corpus_label = st.session_state["_tok_own"]
            if own is None:  # a refused corpus, or a file the browser no longer holds (it cannot keep uploads)
                st.caption(f"Still using the last corpus that worked: {corpus_label}, "
                           f"{ui.counted(len(corpus), 'character')}.")
        else:
            st.info("Upload a file or paste some text to train on it; until then the tokenizers learn from the "
                    "real English prose.", icon=":material/upload_file:")
            corpus_key, corpus_label = "prose", CORPORA["prose"]
if corpus is None:
    corpus = builtin_corpus(corpus_key)

c1, c2, c3 = ui.row("stretch", "stretch", "stretch")
with c1:
    kind = st.radio("Tokenizer", list(TOKENIZERS), key="tokenizer", format_func=TOKENIZERS.get, horizontal=True)
with c2:
    vocab_size = st.select_slider(
        "Vocabulary size (at most, special tokens included)", VOCAB_CHOICES, key="vocab",
        disabled=kind == "minilm",
        help="How many tokens a trained tokenizer may learn. MiniLM's vocabulary is fixed at 30,522.",
    )
with c3:
    mode = st.radio("Special tokens", list(SPECIAL_MODES), key="specials", format_func=SPECIAL_MODES.get)

try:
    with st.spinner(f"Training tokenizers on {corpus_label} ({ui.counted(len(corpus), 'character')})…"):
        tokenizers = {k: tokenizer_for(k, vocab_size, corpus_key, corpus) for k in TOKENIZERS}
except ValueError as problem:  # a corpus the trainers cannot use
    ui.show_error(f"The tokenizers could not be trained on this corpus: {problem}.")
    url_state.stop()
tokenizer = tokenizers[kind]

# ---- the tokens of the chosen tokenizer ----
st.header(f"{TOKENIZERS[kind]}: your text as tokens")
if mode == "decoder" and tokenizer.bos_id is None:
    st.info("MiniLM is an encoder: its vocabulary has no [BOS] or [EOS]. It wraps text in [CLS] … [SEP] instead.")
    mode = "encoder"
encoding = encode(tokenizer, text, mode)
n_unknown = sum(i == tokenizer.unk_id for i in encoding.ids)
m1, m2, m3, m4, m5 = ui.row(*["content"] * 5)
m1.metric("Tokens", f"{len(encoding):,}")
m2.metric("Characters", f"{len(text):,}")
m3.metric("Characters per token", f"{chars_per_token(text, encoding):.2f}")
m4.metric("[UNK] tokens", f"{n_unknown:,}")
m5.metric("Vocabulary size", f"{tokenizer.vocab_size:,}")
draw_chips([chips_of(encoding, tokenizer, text)], key="tok_chips")
st.markdown(KIND_NOTES[kind])
size = ui.counted(len(corpus), "character")
source = "the pretrained model's data" if kind == "minilm" else f"{corpus_label} ({size})"
st.caption(f"Vocabulary learned from {source}. Hover a chip for its ID and the characters it covers; "
           "dark chips are special tokens, red ones [UNK].")
if n_unknown:
    missing = ui.quoted(unknown_pieces(tokenizer, text), limit=MAX_LISTED)
    st.warning(f"{n_unknown:,} token(s) are [UNK]: this vocabulary cannot spell {missing} from its tokens. Subword "
               "tokenizers split an unknown word into known pieces instead; a character the corpus never "
               "contained (an emoji, a rare symbol) stays unknown even for them.", icon=":material/help:")

line = ui.figures_row()  # the notes beside the table where both have room, else below it
with line:
    ui.table(token_table(encoding, text), key="tok_table", height=420,
             column_config={"#": st.column_config.NumberColumn(width="small"),
                            "ID": st.column_config.NumberColumn(format="%d")})
with line.container(width=340):
    st.markdown("**What the model receives** is only the list of IDs:")
    st.code(str(encoding.ids[:300])[1:-1] + (" …" if len(encoding) > 300 else ""), language=None,
            wrap_lines=True)
    st.markdown("**Special tokens** of this vocabulary (dark chips):\n" + "\n".join(
        f"- `{token}` {tokenizer.token_to_id(token)}, {SPECIAL_ROLES[role]}"
        for role, token in tokenizer.special_tokens.items()
    ))

# ---- all tokenizers side by side ----
st.header("All tokenizers on the same text")
st.markdown(
    "The same text through every tokenizer, special tokens left out. Fewer, longer tokens mean shorter "
    "sequences for the model; [UNK] means information thrown away. Subword tokenizers sit between words "
    "and characters."
)
encodings = {k: tokenizers[k].encode(text) for k in TOKENIZERS}
ui.table(
    [{"tokenizer": TOKENIZERS[k], "vocabulary size": tokenizers[k].vocab_size, "tokens": len(e),
      "characters per token": round(chars_per_token(text, e), 2),
      "[UNK] tokens": sum(i == tokenizers[k].unk_id for i in e.ids)}
     for k, e in encodings.items()],
    key="tok_compare",
    column_config={  # short headers, so that the table fits a 1024 px projector with the sidebar open
        "vocabulary size": st.column_config.NumberColumn("vocabulary", format="localized",
                                                         help="How many different tokens the tokenizer knows"),
        "characters per token": st.column_config.NumberColumn("chars / token", format="%.2f",
                                                              help="Characters of the text per token"),
        "[UNK] tokens": st.column_config.NumberColumn("[UNK]", help="Tokens the tokenizer could not spell"),
    },
)  # fmt: skip
draw_chips(
    [chips_of(e, tokenizers[k], text, label=f"{TOKENIZERS[k]}\n{len(e):,} tokens") for k, e in encodings.items()],
    key="tok_compare_chips", max_chips=COMPARE_CHIPS,
)

# ---- BPE merges, one at a time ----
st.header("BPE, one merge at a time")
bpe = tokenizers["bpe"]
merges, counts = merge_history(vocab_size, corpus_key, corpus)
n_merges = len(merges)
alphabet = bpe.vocab_size - n_merges - len(SPECIAL_TOKENS)
st.markdown(
    f"The BPE above was trained on {corpus_label} with a budget of {vocab_size:,} tokens: "
    f"{len(SPECIAL_TOKENS)} special tokens, an alphabet of {ui.counted(alphabet, 'character')}, and "
    f"**{n_merges:,} merges**. Replaying only the first *k* merges shows how the text is cut at each stage "
    "of training: at 0 every character is a token; with all of them it is exactly the trained tokenizer."
)
if n_merges == 0:
    st.info("This vocabulary is so small that the alphabet fills it: there are no merges to step through. "
            "Choose a larger vocabulary size" + (" (the slider moves once a trained tokenizer is picked: MiniLM's "
                                                 "vocabulary is fixed)." if kind == "minilm" else "."))
else:
    previous_max = st.session_state.get("_tok_merge_max")
    if "merge" in st.session_state and (
        st.session_state["merge"] == previous_max or st.session_state["merge"] > n_merges
    ):
        st.session_state["merge"] = n_merges  # "all merges" follows the vocabulary; too far is clamped
    st.session_state["_tok_merge_max"] = n_merges
    url_state.bind("merge", default=n_merges, min_value=0, max_value=n_merges)
    b1, b2, b3 = ui.row("content", "stretch", "content", vertical_alignment="bottom")
    step_merge = ui.stepper("merge", range(n_merges + 1))
    b1.button("◀ −1", key="merge_back", on_click=step_merge, args=(-1,), help="Undo the last merge")
    with b2:
        k = st.slider("Merges applied (k)", 0, n_merges, key="merge")
    b3.button("+1 ▶", key="merge_next", on_click=step_merge, args=(1,), help="Apply the next merge")

    replay = replay_bpe(bpe, text, k, merges)
    newest = "".join(merges[k - 1]) if k > 0 else None
    draw_chips([chips_of(replay, bpe, text, highlight=[t == newest for t in replay.tokens])], key="tok_merge_chips")
    if k == 0:
        st.code(f"k = 0: no merges yet\nyour text: {len(replay):,} tokens, one per character", language=None)
    else:
        left_piece, right_piece = (chips.visible(p) for p in merges[k - 1])
        st.code(
            f"merge {k:,}: {left_piece!r} + {right_piece!r} -> {chips.visible(newest)!r}\n"
            f"the pair occurred {ui.counted(counts[k - 1], 'time')} in the corpus when it was merged\n"
            f"your text: {len(replay):,} tokens; outlined chips hold the new token",
            language=None, wrap_lines=True,
        )
    fig = merge_count_figure(vocab_size, corpus_key, corpus, k)
    ui.plot(fig, key="tok_merge_counts")
    first = ", ".join(f"“{ui.markdown_literal(a)}” + “{ui.markdown_literal(b)}”" for a, b in merges[:3])
    st.caption(f"The first merges join the most frequent pairs of this corpus ({first}); later merges join "
               "rarer and rarer pairs, building whole words and endings. The dashed line marks k.")

# ---- vocabulary size vs corpus size ----
st.header("Vocabulary size grows with the corpus")
if len(corpus) < GROWTH_MIN_CHARS:
    st.info(f"This corpus has {ui.counted(len(corpus), 'character')}; the growth chart needs at least "
            f"{GROWTH_MIN_CHARS:,}. Choose a built-in corpus or give a longer text.")
else:
    vocab_fig, oov_fig = growth_figures(vocab_size, corpus_key, corpus)
    with ui.figures_row():
        ui.plot(vocab_fig, key="tok_growth_vocab")
        ui.plot(oov_fig, key="tok_growth_oov")
    st.markdown(
        "Each point trains the tokenizers on a longer start of the corpus; the last 10% is held out. "
        "A word-level vocabulary keeps every new word it meets, so on real prose it grows with the text (log "
        "axes: a straight line is a power law) and still misses words it has not seen; the synthetic world "
        "has only about 200 words, so there its line flattens. The character vocabulary "
        "stops at the alphabet and BPE at its budget (on a small corpus BPE can hold more entries than there "
        "are words, since it keeps every intermediate piece). The character vocabulary holds every character "
        "it has seen, so only a character the training text never contained becomes [UNK]. BPE spells words "
        "from the same characters as long as its budget has room for all of them; with a very small "
        "vocabulary (try 30) rare characters fall out and its unknown-word line rises."
    )

# ---- the vocabulary itself ----
st.header(f"The {TOKENIZERS[kind]} vocabulary")
vocab_table = vocabulary(kind, vocab_size, corpus_key, corpus)
url_state.bind("vocab_search", default="", max_chars=limits.SEARCH_CHARS.maximum)
query = st.text_input("Search the vocabulary", key="vocab_search", placeholder="e.g. ing")
shown = vocab_table
if too_long := limits.SEARCH_CHARS.over(len(query)):
    ui.show_error(f"{too_long} Search for a piece of a token.")
elif query:
    shown = vocab_table.filter(pc.match_substring(vocab_table["token"], query, ignore_case=True))
columns = ["id", "token", "special"] if kind == "minilm" else ["id", "token", "frequency", "special"]
if not len(shown):
    st.info(f"No token of the {len(vocab_table):,} contains “{ui.markdown_literal(query)}”. Try a shorter piece.",
            icon=":material/search_off:")
else:
    st.caption(f"{len(shown):,} of {len(vocab_table):,} entries" + (" (showing the first 5,000)" if len(shown) > 5000
               else "") + ("" if kind == "minilm" else "; frequency = how often the token occurs when the corpus "
                           "is tokenized."))
    ui.table(shown.slice(0, 5000), key="tok_vocab", column_order=columns, height=320,
             column_config={"id": st.column_config.NumberColumn("ID", format="%d"),
                            "frequency": st.column_config.NumberColumn(format="%d")})

ui.takeaway(
    "A model never sees letters, only token IDs from a fixed vocabulary learned from training text. Whole words "
    "make that vocabulary grow without end and still leave unknown words; characters make sequences long. "
    "Subword methods (BPE, WordPiece) keep frequent words whole and split rare ones into frequent pieces such "
    "as `s` and `ing`, which is what real models like MiniLM (30,522 WordPiece tokens) do."
)
ui.show_code(train_tokenizer, merge_word, replay_bpe, unknown_pieces)
