"""Our MiniLM against `transformers` and `sentence-transformers` on the same shipped weights."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import sentence_transformers as st
import torch
import transformers

from llm_core.hooks import capture
from llm_core.pretrained import load_minilm, minilm_dir

SENTENCES = [
    "The cat sat on the mat.",
    "A kitten rests on a rug.",
    "Stock markets fell sharply today.",
    "Tokenization splits text into pieces; unbelievable!",
    "日本語のテキストも扱えます。",
]


@pytest.fixture(scope="module")
def minilm():
    return load_minilm()


def test_minilm_has_the_published_shape(minilm):
    c = minilm.model.config
    assert (c.n_layer, c.n_head, c.n_embd, c.vocab_size) == (6, 12, 384, 30522)
    assert sum(p.numel() for p in minilm.model.parameters()) == 22_565_376
    # 30522*384 words + 512*384 positions + 2*384 segments + 768 embedding norm = 11,918,592;
    # per layer 4*(384*384+384) attention + 384*1536+1536 + 1536*384+384 MLP + 2*768 norms = 1,774,464;
    # 11,918,592 + 6 * 1,774,464 = 22,565,376 (the published 22.7M also counts the unused pooler).


def test_hidden_states_and_attention_match_bert(minilm):
    bert = transformers.BertModel.from_pretrained(str(minilm_dir()), attn_implementation="eager").eval()
    ids, mask = minilm.tokenize(SENTENCES)
    with torch.no_grad(), capture(minilm.model, "encoder.blocks.*.attn.hook_pattern") as acts:
        ours = minilm.model.hidden(ids, attention_mask=mask)
        ref = bert(input_ids=ids, attention_mask=mask, output_attentions=True)
    assert (ours - ref.last_hidden_state).abs().max().item() < 1e-4
    for layer in range(6):
        diff = (acts[f"encoder.blocks.{layer}.attn.hook_pattern"] - ref.attentions[layer]).abs().max().item()
        assert diff < 1e-4


def test_sentence_embedding_matches_sentence_transformers(minilm):
    reference = st.SentenceTransformer(str(minilm_dir()), device="cpu")
    ours = minilm.sentence_embedding(SENTENCES)
    ref = torch.tensor(reference.encode(SENTENCES))
    cosine = torch.nn.functional.cosine_similarity(ours, ref)
    assert cosine.min().item() > 0.9999


def test_similar_sentences_are_closer(minilm):
    cat, kitten, stocks = minilm.sentence_embedding(SENTENCES[:3])
    assert cat @ kitten > cat @ stocks + 0.3
