"""The embedding table as data: rows for a sentence, projections, neighbours, and how well classes cluster.

An embedding layer is a lookup table: token ID i selects row i of a (vocab_size, C) matrix. The
functions here read that table out of a model and measure what training did to it: after
training, words used in the same contexts (two animals, two colours) get similar rows, so their
cosine similarity is high and a 2D projection puts them close together. `class_agreement`
turns "they cluster" into one number that a test can compare before and after training.
Everything takes and returns plain numpy arrays and lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .config import ModelConfig
from .model import Transformer
from .pretrained import MiniLM

PROJECTIONS = ("PCA", "t-SNE")


def embedding_matrix(model: Transformer) -> np.ndarray:
    """The whole lookup table: (vocab_size, C), row i is the vector of token ID i."""
    return model.tok_emb.weight.detach().float().cpu().numpy()


def embedding_rows(model: Transformer, ids: Sequence[int]) -> np.ndarray:
    """The rows a sentence looks up: (T, C). Exactly `tok_emb(ids)`, before positions are added."""
    with torch.no_grad():
        rows = model.tok_emb(torch.tensor(list(ids), dtype=torch.long, device=model.device))  # (T, C)
    return rows.float().cpu().numpy()


def project(vectors: np.ndarray, method: str = "PCA", dims: int = 2, seed: int = 0) -> np.ndarray:
    """Points in `dims` dimensions (N, dims) that keep what they can of the vectors' layout.

    PCA keeps the directions of largest spread (a rotation plus dropping the rest, so distances
    shrink but never lie about large structure); t-SNE keeps who is near whom, at the cost of
    meaningless distances between clusters. Vectors already in `dims` or fewer dimensions are
    shown as they are (padded with zeros), since there is nothing to project.
    """
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}")
    if dims not in (2, 3):
        raise ValueError(f"a projection for the screen has 2 or 3 dimensions, not {dims}")
    X = np.asarray(vectors, dtype=np.float64)
    N, C = X.shape
    if N < 3:
        raise ValueError(f"a projection needs at least 3 points; got {N}")
    if dims >= C:
        return np.pad(X - X.mean(0), ((0, 0), (0, dims - C)))  # (N, dims)
    from threadpoolctl import threadpool_limits

    # One BLAS/OpenMP thread: for a few hundred points, more threads only spin against the other
    # sessions sharing the cores (measured: PCA 20 ms with one thread, up to 1 s with two on a busy CPU).
    with threadpool_limits(limits=1):
        if method == "PCA":
            from sklearn.decomposition import PCA

            return PCA(n_components=dims, random_state=seed).fit_transform(X)  # (N, dims)
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (N - 1) / 4)))  # must stay below N; ~N/4 suits small sets
        tsne = TSNE(n_components=dims, perplexity=perplexity, init="pca", learning_rate="auto", metric="cosine",
                    random_state=seed, max_iter=500 if dims == 2 else 750, n_jobs=1)  # 3D needs longer to settle
        return tsne.fit_transform(X)  # (N, dims)


def cosine_similarity_matrix(vectors: np.ndarray) -> np.ndarray:
    """cos(a, b) = a . b / (|a| |b|) for every pair: (N, N), 1 on the diagonal."""
    X = np.asarray(vectors, dtype=np.float64)
    unit = X / np.clip(np.linalg.norm(X, axis=1, keepdims=True), 1e-12, None)  # (N, C), rows of length 1
    return unit @ unit.T


@dataclass(frozen=True)
class Neighbour:
    """One neighbour of a query word: which word, and how similar (cosine)."""

    word: str
    cosine: float


def nearest_neighbours(
    query: np.ndarray, vectors: np.ndarray, words: Sequence[str], k: int = 8, exclude: str | None = None
) -> list[Neighbour]:
    """The k words whose vectors point most nearly the same way as `query`, most similar first.

    `exclude` drops one word (the query itself when it is among `words`).
    """
    q = np.asarray(query, dtype=np.float64)
    X = np.asarray(vectors, dtype=np.float64)
    cos = X @ q / np.clip(np.linalg.norm(X, axis=1) * np.linalg.norm(q), 1e-12, None)  # (N,)
    order = np.argsort(-cos, kind="stable")
    return [Neighbour(words[i], float(cos[i])) for i in order if words[i] != exclude][:k]


def class_agreement(vectors: np.ndarray, classes: Sequence[str], k: int = 5) -> float:
    """The fraction of each word's k nearest neighbours (by cosine) that share its class, averaged.

    Random vectors score about the chance that two words picked at random share a class; vectors that cluster by class
    score near 1. One number for "similar words lie close".
    """
    labels = np.asarray(classes)
    sim = cosine_similarity_matrix(vectors)  # (N, N)
    np.fill_diagonal(sim, -np.inf)  # a word is not its own neighbour
    k = min(k, len(labels) - 1)
    nearest = np.argsort(-sim, axis=1, kind="stable")[:, :k]  # (N, k)
    return float((labels[nearest] == labels[:, None]).mean())


# --- MiniLM on a list of words ------------------------------------------------------------

MINILM_REPRESENTATIONS = ("input embedding", "sentence embedding")


def minilm_word_vectors(minilm: MiniLM, words: Sequence[str], representation: str = "sentence embedding") -> np.ndarray:
    """One vector per word from the real MiniLM: (N, 384).

    "input embedding" reads the rows of MiniLM's lookup table, averaged over the WordPiece pieces
    of the word ("unhappy" -> "un", "##happy"): what the model knows before any attention.
    "sentence embedding" runs the word alone through all six layers and mean-pools, the vector
    MiniLM was trained to make comparable by cosine similarity.
    """
    if representation not in MINILM_REPRESENTATIONS:
        raise ValueError(f"unknown representation {representation!r}; choose one of {MINILM_REPRESENTATIONS}")
    words = list(words)
    if representation == "sentence embedding":
        return minilm.sentence_embedding(words).float().cpu().numpy()
    table = embedding_matrix(minilm.model)  # (30522, 384)
    rows = []
    for encoding in minilm.tokenizer.encode_batch(words, add_special_tokens=False):
        rows.append(table[encoding.ids].mean(axis=0) if encoding.ids else np.zeros(table.shape[1]))
    return np.stack(rows)  # (N, 384)


# --- the vocabulary of a tiny model, and a short training that shapes it -------------------


def vocabulary_words(tokenizer) -> tuple[list[str], list[int], list[str]]:
    """The tokens of a vocabulary that are words of the synthetic world: (words, ids, word classes).

    Special tokens and anything the synthetic grammar does not know are left out, so every
    point of a projection can be coloured by its class.
    """
    from .data import word_class

    words, ids, classes = [], [], []
    for token, i in sorted(tokenizer.vocab.items(), key=lambda kv: kv[1]):
        cls = word_class(token)
        if cls is not None and not tokenizer.is_special(token):
            words.append(token)
            ids.append(i)
            classes.append(cls)
    return words, ids, classes


def lm_windows(ids: torch.Tensor, block_size: int, batch_size: int):
    """A batch_fn for `train`: random windows of block_size + 1 tokens, as next-token prediction batches."""
    from .objectives import causal_lm_batch

    def batch_fn(rng: torch.Generator):
        starts = torch.randint(0, len(ids) - block_size - 1, (batch_size,), generator=rng)  # (B,)
        rows = torch.stack([ids[s : s + block_size + 1] for s in starts.tolist()])  # (B, T + 1)
        return causal_lm_batch(rows)

    return batch_fn


def embedding_training(
    tokenizer,
    text: str,
    n_embd: int,
    *,
    steps: int,
    max_seconds: float,
    seed: int = 0,
    stop=None,
    block_size: int = 32,
    batch_size: int = 32,
    lr: float = 1e-2,
):
    """A one-layer decoder with `n_embd`-dimensional embeddings, and the generator that trains it on `text`.

    Small on purpose, so that a student can retrain it in seconds with another embedding size and
    watch the lookup table organise itself; the returned model is trained in place as the
    generator runs. Returns (model, training generator of TrainMetrics).
    """
    from .objectives import language_model_loss
    from .train import train
    from .zoo import initial_model

    n_head = 2 if n_embd % 2 == 0 and n_embd >= 8 else 1
    config = ModelConfig(vocab_size=tokenizer.vocab_size, block_size=block_size, n_layer=1, n_head=n_head,
                         n_embd=n_embd, arch="decoder")  # fmt: skip
    model = initial_model(config, seed)
    ids = torch.tensor([i for e in tokenizer.encode_batch(text.split("\n")) for i in e.ids], dtype=torch.long)
    training = train(model, lm_windows(ids, block_size, batch_size), language_model_loss, steps=steps,
                     max_seconds=max_seconds, lr=lr, seed=seed, stop=stop)  # fmt: skip
    return model, training
