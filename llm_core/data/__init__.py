"""What the app trains on: a synthetic world, real prose, and text the user gives, all offline."""

from .prose import prose_corpus, prose_paragraphs
from .sequences import (
    SEQUENCE_TASKS,
    FewShotEpisode,
    few_shot_corpus,
    few_shot_episodes,
    few_shot_prompt,
    sequence_pairs,
    solve,
)
from .synthetic import VOCABULARY, WORD_CLASSES, synthetic_corpus, synthetic_sentences, word_class
from .tasks import (
    SENTIMENT_LABELS,
    InstructionPair,
    LabelledText,
    PreferencePair,
    SentencePair,
    instruction_pairs,
    instruction_split,
    nsp_pairs,
    preference_pairs,
    sentiment_examples,
    sentiment_rule,
    train_test_split,
)
from .user_text import UserTextError, clean_text, read_user_text

__all__ = [
    "SENTIMENT_LABELS", "SEQUENCE_TASKS", "VOCABULARY", "WORD_CLASSES", "FewShotEpisode",
    "InstructionPair", "LabelledText", "PreferencePair", "SentencePair", "UserTextError",
    "clean_text", "few_shot_corpus", "few_shot_episodes", "few_shot_prompt", "instruction_pairs",
    "instruction_split", "nsp_pairs", "preference_pairs", "prose_corpus", "prose_paragraphs",
    "read_user_text", "sentiment_examples", "sentiment_rule", "sequence_pairs", "solve",
    "synthetic_corpus", "synthetic_sentences", "train_test_split", "word_class",
]  # fmt: skip
