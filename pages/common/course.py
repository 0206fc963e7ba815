"""The course map: the pages in the lecture's order, with what each one teaches.

The navigation, the home page's roadmap and the preview of a page that is not written yet
all read this one list, so adding a page means writing its file under `pages/`: it then
replaces its preview in the navigation by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

APP_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Lesson:
    """One page of the course and the lines that describe it."""

    number: int
    title: str
    url_path: str
    summary: str  # one line for the roadmap
    you_will: tuple[str, ...]  # what the page lets a student do

    @property
    def file(self) -> str:
        """The page's script, relative to app.py (st.Page and AppTest both take this form)."""
        return f"pages/{self.url_path}.py"

    @property
    def label(self) -> str:
        return f"{self.number}. {self.title}"

    def is_built(self) -> bool:
        return (APP_DIR / self.file).is_file()


HOME_FILE = "pages/home.py"

LESSONS: tuple[Lesson, ...] = (
    Lesson(1, "Tokenization", "tokenization",
           "Text becomes token IDs; subwords keep the vocabulary small.",
           ("train word, character, BPE and WordPiece tokenizers on a corpus of your choice",
            "replay BPE merges one at a time and watch a sentence re-tokenize",
            "see which words fall out of the vocabulary and become [UNK]")),
    Lesson(2, "Embeddings", "embeddings",
           "Each token ID looks up a trained vector; similar words end up close.",
           ("look up the rows of the embedding table for your sentence",
            "project embeddings to 2D or 3D with PCA or t-SNE and find nearest neighbours",
            "compare a tiny model before and after training, and the real MiniLM")),
    Lesson(3, "Attention", "attention",
           "softmax(QKᵀ / √d_k) V: every token gathers context from every other.",
           ("step through X, W_q, W_k, W_v, Q, K, V, scores and weights for a short sentence",
            "switch off the sqrt(d_k) scaling and watch the softmax saturate",
            "see every head of every layer of a tiny model and of MiniLM")),
    Lesson(4, "The Transformer", "transformer",
           "Embeddings and positions flow through blocks of attention, MLP, shortcuts and norms.",
           ("follow the tensor shapes through an encoder and a decoder",
            "see the sinusoidal positional encoding",
            "train with and without residual shortcuts and count the parameters of GPT-1, 2 and 3")),
    Lesson(5, "Masking: encoder vs decoder", "masking",
           "Encoders see the whole sentence, decoders only the past; padding is never seen.",
           ("compare bidirectional, causal, padding and cross-attention masks on one sentence",
            "edit a later word and see which earlier outputs change")),
    Lesson(6, "Encoder-only models", "encoder",
           "BERT-style models learn by filling in masked words, then feed a classifier.",
           ("mask words and read the tiny encoder's guesses with their probabilities",
            "try next-sentence prediction and train a classifier head")),
    Lesson(7, "Decoder-only models", "decoder",
           "GPT-style models predict the next token and generate one token at a time.",
           ("see the next-token distribution for your prompt",
            "generate with greedy, temperature, top-k and top-p sampling, step by step")),
    Lesson(8, "Encoder-decoder models", "encoder_decoder",
           "One stack reads, the other writes while attending to it (T5, BART).",
           ("see a tiny sequence-to-sequence model's cross-attention alignment",
            "apply BART's corruptions to your text and watch a model learn to undo one")),
    Lesson(9, "Pre-training and N-shot learning", "few_shot",
           "A pre-trained model can do a new task from zero, one or a few examples in the prompt.",
           ("build zero-, one- and few-shot prompts for a tiny decoder",
            "watch accuracy rise with the number of examples")),
    Lesson(10, "Fine-tuning", "fine_tuning",
           "Adapting a pre-trained model with labelled data, instructions or preferences.",
           ("fine-tune vs train from scratch vs a frozen backbone, as live curves",
            "instruction-tune a tiny decoder and tune it on preference pairs")),
    Lesson(11, "Discriminative vs generative", "generative",
           "P(Y|X) vs P(X, Y), and why a next-token predictor can still generate.",
           ("fit a discriminative and a generative classifier to 2D toy data",
            "turn next-token probabilities into the probability of a whole sentence")),
)


PAGES_KEY = "_navigation_pages"  # the session's own st.Page objects, made on its first run
MENU_KEY = "_menu_pages"  # the same, as the sidebar links them


def navigation_pages() -> list[st.Page]:
    """Home, then every lesson: its page when the file exists, else a preview of it.

    Made once per session and kept in its state: an `st.Page` reads the disk when it is made
    (the file's real path, whether it exists), and on a busy server those reads, a dozen
    pages on every run of every student, cost more than the navigation itself. A session
    keeps its own objects because `st.navigation` marks the one it returns as runnable, and
    two sessions must not share that mark.
    """
    if PAGES_KEY not in st.session_state:
        st.session_state[PAGES_KEY] = [home_page(), *(lesson_page(lesson) for lesson in LESSONS)]
    return st.session_state[PAGES_KEY]


def menu_pages() -> list[st.Page]:
    """The pages as the sidebar links them: the navigation's, with Home's link written as the app's root.

    Streamlit writes a link to the default page as an empty address, which a browser reads as the
    page it is on: "copy link" on Home copied the page open at the time.
    """
    if MENU_KEY not in st.session_state:
        st.session_state[MENU_KEY] = [home_page(_RootLink), *navigation_pages()[1:]]
    return st.session_state[MENU_KEY]


class _RootLink(st.Page):
    """The home page as the target of a link: the same page (Streamlit names a page by its file's URL
    name, which this keeps), at the address "." (the app's root, from any page)."""

    @property
    def url_path(self) -> str:
        return "."


def page_of(lesson: Lesson) -> st.Page:
    """This session's navigation entry for a lesson, for `st.page_link`."""
    return navigation_pages()[LESSONS.index(lesson) + 1]


def home_page(kind: type[st.Page] = st.Page) -> st.Page:
    return kind(HOME_FILE, title="Home", icon=":material/home:", default=True)


def lesson_page(lesson: Lesson) -> st.Page:
    if lesson.is_built():
        return st.Page(lesson.file, title=lesson.label, url_path=lesson.url_path)

    def coming_next() -> None:
        show_coming_next(lesson)

    return st.Page(coming_next, title=lesson.label, url_path=lesson.url_path)


def show_coming_next(lesson: Lesson) -> None:
    """What a page will teach, shown in its place until it is written."""
    st.title(lesson.label)
    st.markdown(f"**{lesson.summary}**")
    st.info("This page is coming next. On it you will:", icon=":material/construction:")
    st.markdown("\n".join(f"- {item}" for item in lesson.you_will))
