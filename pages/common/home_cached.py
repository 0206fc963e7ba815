"""What the home page computes once for every session: the sizes of the app's own models, beside the
published sizes of the GPT family. Here rather than in the page script: see `pages/common`.
"""

from pathlib import Path

import streamlit as st

from llm_core.checkpoints import read_meta
from llm_core.config import ModelConfig
from llm_core.params import parameter_count
from llm_core.pretrained import minilm_config

ASSETS = Path(__file__).resolve().parents[2] / "assets"

# Published sizes of the GPT family, as given in the lecture. GPT-4's parameter count is a
# rumour and its training data was never disclosed (it also includes images).
GPT_PARAMETERS = {"GPT-1": 117e6, "GPT-2": 1.5e9, "GPT-3": 175e9, "GPT-4": 1.78e12}
GPT_TRAINING_GB = {"GPT-1": 4.5, "GPT-2": 40, "GPT-3": 570, "GPT-4": None}
TINY, MINILM, GPT = "tiny models in this app", "MiniLM (real, in this app)", "GPT family"


@st.cache_data(max_entries=1)
def model_sizes() -> list[tuple[str, float, str]]:
    """(name, parameters, family) for the app's own models, smallest first, then the GPTs."""
    tiny = []
    for path in sorted(ASSETS.glob("*.json")):
        config = ModelConfig.from_dict(read_meta(path)["config"])
        tiny.append((f"tiny {path.stem.replace('_', ' ')}", float(parameter_count(config)), TINY))
    ours = sorted(tiny, key=lambda row: row[1])
    ours.append(("all-MiniLM-L6-v2", float(parameter_count(minilm_config())), MINILM))
    return ours + [(name, n, GPT) for name, n in GPT_PARAMETERS.items()]
