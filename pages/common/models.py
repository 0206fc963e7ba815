"""The one place where pages load models: cached once per server process, eval mode, never mutated.

Every page that shows a model asks here, so the MiniLM weights (90 MB) and the tiny shipped
checkpoints are read from disk once and shared by every session. A page that trains works on
a copy in `st.session_state`, never on these objects.

`TextModel` puts a model, its tokenizer and its way of wrapping a sentence in special tokens
([CLS] ... [SEP] for an encoder, [BOS] ... for a decoder) behind one `encode`, so a page can
treat the tiny models and MiniLM alike.
"""

from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass

import streamlit as st

from llm_core.device import configure_threads, describe_device, pick_device
from llm_core.model import Transformer
from llm_core.pretrained import MiniLM, load_minilm
from llm_core.tokenizers import Encoding, Tokenizer, minilm_tokenizer

MINILM = "MiniLM"
TINY_DECODER = "tiny decoder"
TINY_ENCODER = "tiny encoder"
# Tokens that frame a sentence rather than stand for a part of it: the ones a page may hide.
STRUCTURAL_TOKENS = frozenset({"[CLS]", "[SEP]", "[BOS]", "[EOS]", "[PAD]"})
# Page label -> name of the shipped checkpoint in llm_core.zoo.
TINY_MODELS = {TINY_DECODER: "decoder", TINY_ENCODER: "encoder"}
_frozen_modules = 0  # modules imported when the heap was last frozen (see settle)
_freezing = threading.Lock()

DESCRIPTIONS = {
    TINY_DECODER: "a small GPT-style decoder trained in this app on the synthetic corpus (causal mask)",
    TINY_ENCODER: "a small BERT-style encoder trained in this app on the synthetic corpus (masked LM)",
    MINILM: "all-MiniLM-L6-v2, a real pretrained sentence encoder: 6 layers x 12 heads, 384 dimensions",
}


@dataclass(frozen=True)
class TextModel:
    """A Transformer with the tokenizer it was trained with and the special tokens it expects."""

    label: str
    model: Transformer
    tokenizer: Tokenizer
    wrap: str  # "bert": [CLS] text [SEP]; "bos": [BOS] text; "none": the tokens alone

    def read(self, text: str) -> str:
        """The text as this model reads it: lower-cased for the tiny models, whose vocabulary comes from a
        lower-case corpus. MiniLM's tokenizer lower-cases by itself, and keeps a typed [MASK] special."""
        return text if self.label == MINILM else text.lower()

    def encode(self, text: str) -> Encoding:
        """The sentence as this model reads it, special tokens included."""
        if self.wrap == "bert":
            return self.tokenizer.encode(text, add_special_tokens=True)
        encoding = self.tokenizer.encode(text)
        bos = self.tokenizer.bos_id
        if self.wrap != "bos" or bos is None:
            return encoding
        return Encoding(
            ["[BOS]", *encoding.tokens], [bos, *encoding.ids], [(0, 0), *encoding.offsets],
            [True, *encoding.special], [0, *encoding.type_ids],
        )  # fmt: skip

    @property
    def config(self):
        return self.model.config


@st.cache_resource(show_spinner=False)
def device_in_use() -> str:
    """Once per server process: size torch's thread pool, pick the device, and say which it is."""
    configure_threads()
    return describe_device(pick_device())


def settle() -> None:
    """After a run that imported modules: hide everything the server holds so far from the garbage collector.

    Modules, functions and models live as long as the server: some 400,000 objects once every page
    has run and trained. A full collection walks all of them, 150-450 ms in which no student's page
    runs. `gc.freeze` leaves them out of every later collection. They arrive with a page's first run
    or a first training, when modules are imported, so a run that imported none changes nothing.
    The price: what the sessions open at that moment hold is frozen too, and what of it later
    becomes cyclic garbage stays. That happens once per feature that imports modules on first use
    (a page, a training, t-SNE, MiniLM), so a bounded number of times, early in a server's life.
    """
    global _frozen_modules
    if len(sys.modules) == _frozen_modules:
        return
    with _freezing:
        if len(sys.modules) != _frozen_modules:
            _frozen_modules = len(sys.modules)
            gc.collect()  # garbage first, so that nothing already garbage is kept for good
            gc.freeze()


@st.cache_resource(show_spinner="Loading MiniLM (once per server)…")
def minilm() -> MiniLM:
    """The real all-MiniLM-L6-v2, shared by every session."""
    return load_minilm(pick_device())


def zoo_ready(name: str = "decoder") -> bool:
    """True once a shipped tiny checkpoint is in assets/ (they are made by `make assets`)."""
    from llm_core import zoo

    return (zoo.checkpoint_path(name).with_suffix(".json")).is_file()


@st.cache_resource(show_spinner="Loading a tiny model…")
def tiny(name: str) -> tuple[Transformer, Tokenizer, dict]:
    """A shipped tiny model by zoo name: (model in eval mode, its tokenizer, its JSON record)."""
    from llm_core import zoo

    return zoo.load(name, pick_device())


@st.cache_resource(show_spinner=False)
def untrained_tiny(name: str) -> Transformer:
    """The same network as a shipped tiny model with its initial weights: what training started from."""
    from llm_core import zoo

    return zoo.untrained(name, pick_device())[0]


def available() -> list[str]:
    """The model labels a page can offer: the tiny models once they ship, and MiniLM."""
    return [*(label for label, name in TINY_MODELS.items() if zoo_ready(name)), MINILM]


def text_model(label: str) -> TextModel:
    """The cached model behind a page label, with its tokenizer and special-token convention."""
    if label == MINILM:
        return TextModel(MINILM, minilm().model, minilm_tokenizer(), "bert")
    model, tokenizer, _ = tiny(TINY_MODELS[label])
    wrap = "bert" if model.config.arch == "encoder" else "bos"
    return TextModel(label, model, tokenizer, wrap)


@st.cache_resource(show_spinner="Preparing the synthetic corpus…")
def synthetic_words() -> tuple[Tokenizer, str]:
    """A word-level tokenizer of the synthetic world and the corpus it was trained on, for quick live trainings."""
    from llm_core.data import synthetic_corpus
    from llm_core.tokenizers import train_tokenizer

    corpus = synthetic_corpus(200_000, seed=0)
    return train_tokenizer("word", corpus, count_frequencies=False), corpus
