"""Embedding rows, projections, neighbours and class agreement, checked against independent code."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import sentence_transformers
import torch
import transformers
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.neighbors import NearestNeighbors

from llm_core import zoo
from llm_core.config import ModelConfig
from llm_core.data import WORD_CLASSES, synthetic_corpus, word_class
from llm_core.embeddings import (
    class_agreement,
    cosine_similarity_matrix,
    embedding_matrix,
    embedding_rows,
    embedding_training,
    minilm_word_vectors,
    nearest_neighbours,
    project,
    vocabulary_words,
)
from llm_core.hooks import capture
from llm_core.model import Transformer
from llm_core.pretrained import load_minilm, minilm_dir
from llm_core.tokenizers import train_tokenizer

# Words of the synthetic world that MiniLM also knows: five classes, plurals left out.
CLASS_WORDS = {
    "animal": ["cat", "dog", "horse", "cow", "rabbit", "mouse", "bird", "fox", "bear", "frog"],
    "food": ["apple", "banana", "bread", "cheese", "rice", "soup", "milk", "cake"],
    "color": ["red", "blue", "green", "yellow", "black", "white", "pink"],
    "place": ["house", "garden", "forest", "river", "school", "market", "village", "farm"],
    "number": ["one", "two", "three", "four", "five", "six"],
}
WORDS = [w for group in CLASS_WORDS.values() for w in group]


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_embedding_rows_are_what_the_model_looks_up():
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=40, n_embd=16, n_head=2)).eval()
    ids = [5, 1, 5, 39]
    with capture(model, "decoder.hook_embed") as acts:
        model(torch.tensor([ids]))
    rows = embedding_rows(model, ids)
    np.testing.assert_array_equal(rows, acts["decoder.hook_embed"][0].numpy())
    np.testing.assert_array_equal(rows[0], rows[2])  # same token, same row, wherever it stands
    np.testing.assert_array_equal(rows, embedding_matrix(model)[ids])


def test_cosine_and_neighbours_match_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 8))
    np.testing.assert_allclose(cosine_similarity_matrix(X), cosine_similarity(X), atol=1e-12)
    words = [f"w{i}" for i in range(30)]
    found = nearest_neighbours(X[4], X, words, k=5, exclude="w4")
    index = NearestNeighbors(n_neighbors=6, metric="cosine").fit(X)
    distances, order = index.kneighbors(X[4:5])
    assert [n.word for n in found] == [words[i] for i in order[0][1:]]
    np.testing.assert_allclose([n.cosine for n in found], 1 - distances[0][1:], atol=1e-12)


def test_class_agreement_by_hand():
    # two tight pairs far apart: each word's nearest neighbour has its class
    X = np.array([[1, 0.1], [1, -0.1], [-1, 0.1], [-1, -0.1]])
    assert class_agreement(X, ["a", "a", "b", "b"], k=1) == 1.0
    assert class_agreement(X, ["a", "b", "a", "b"], k=1) == 0.0
    # k=2: one of the two nearest (the partner, then one of the far pair... all far ones tie) shares the class
    assert class_agreement(X, ["a", "a", "b", "b"], k=2) == 0.5


def test_class_agreement_of_random_vectors_is_the_chance_that_two_words_share_a_class():
    classes = ["a"] * 150 + ["b"] * 90 + ["c"] * 60  # shares 0.5, 0.3, 0.2
    n = len(classes)
    chance = sum(c * (c - 1) for c in (150, 90, 60)) / (n * (n - 1))  # about 0.38, below the largest share 0.5
    rng = np.random.default_rng(0)
    scores = [class_agreement(rng.standard_normal((n, 64)), classes) for _ in range(20)]
    assert abs(np.mean(scores) - chance) < 0.02


@pytest.mark.parametrize("method", ["PCA", "t-SNE"])
@pytest.mark.parametrize("dims", [2, 3])
def test_projection_keeps_separate_clusters_separate(method, dims):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 20)) * 10
    X = np.concatenate([c + rng.standard_normal((15, 20)) for c in centres])
    labels = np.repeat(["a", "b", "c"], 15)
    points = project(X, method, dims)
    assert points.shape == (45, dims)
    index = NearestNeighbors(n_neighbors=4).fit(points)  # euclidean on the screen
    _, order = index.kneighbors(points)
    assert (labels[order[:, 1:]] == labels[:, None]).mean() > 0.95


def test_projection_of_few_dimensions_is_the_vectors_themselves():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 8.0]])
    np.testing.assert_allclose(project(X, "t-SNE", 2), X - X.mean(0))
    assert project(X, "PCA", 3)[:, 2].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="at least 3"):
        project(X[:2], "PCA", 2)


def test_training_moves_words_of_a_class_together():
    """The shipped tiny decoder against the same network with its initial weights."""
    model, tokenizer, _ = zoo.load("decoder")
    untrained, *_ = zoo.untrained("decoder")
    words, ids, classes = vocabulary_words(tokenizer)
    assert len(words) > 100 and {"animal", "food", "color", "place"} <= set(classes)
    assert all(word_class(w) == c for w, c in zip(words, classes, strict=True))
    before = class_agreement(embedding_matrix(untrained)[ids], classes)
    after = class_agreement(embedding_matrix(model)[ids], classes)
    assert after > before + 0.3, (before, after)
    # and the 2D picture shows it too: neighbours on the screen mostly share a class after training
    pts_before, pts_after = (project(embedding_matrix(m)[ids], "PCA", 2) for m in (untrained, model))
    assert class_agreement(pts_after, classes) > class_agreement(pts_before, classes)


def test_a_short_live_training_organises_the_table():
    corpus = synthetic_corpus(40_000, seed=1)
    tokenizer = train_tokenizer("word", corpus, count_frequencies=False)
    model, training = embedding_training(tokenizer, corpus, 16, steps=40, max_seconds=300, seed=0)
    _, ids, classes = vocabulary_words(tokenizer)
    before = class_agreement(embedding_matrix(model)[ids], classes)
    metrics = list(training)
    after = class_agreement(embedding_matrix(model)[ids], classes)
    assert metrics[-1].loss < metrics[0].loss - 1.0
    assert after > before + 0.2, (before, after)
    assert model.config.n_embd == 16 and not model.training


def test_minilm_sentence_vectors_equal_sentence_transformers(minilm):
    reference = sentence_transformers.SentenceTransformer(str(minilm_dir()), device="cpu")
    theirs = reference.encode(WORDS, normalize_embeddings=True)
    mine = minilm_word_vectors(minilm, WORDS, "sentence embedding")
    np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_minilm_input_vectors_are_bert_lookup_rows(minilm):
    bert = transformers.BertModel.from_pretrained(str(minilm_dir()))
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_dir()))
    table = bert.embeddings.word_embeddings.weight.detach().numpy()
    words = ["cat", "unhappiness", "日本"]
    mine = minilm_word_vectors(minilm, words, "input embedding")
    for row, word in zip(mine, words, strict=True):
        ids = hf_tokenizer(word, add_special_tokens=False)["input_ids"]
        np.testing.assert_allclose(row, table[ids].mean(axis=0), atol=1e-6)


@pytest.mark.parametrize("representation", ["sentence embedding", "input embedding"])
def test_minilm_finds_animals_next_to_cat(minilm, representation):
    vectors = minilm_word_vectors(minilm, WORDS, representation)
    classes = [word_class(w) for w in WORDS]
    found = nearest_neighbours(vectors[WORDS.index("cat")], vectors, WORDS, k=len(WORDS) - 1, exclude="cat")
    ranked = [word_class(n.word) for n in found]
    assert ranked[0] == "animal" and ranked[:3].count("animal") >= 2, [n.word for n in found[:5]]
    first_unrelated = next(i for i, c in enumerate(ranked) if c != "animal")
    assert first_unrelated >= 3
    # classes cluster far beyond chance (the largest class is 10 of 39 words)
    assert class_agreement(vectors, classes) > 0.6
    assert set(classes) <= set(WORD_CLASSES)
