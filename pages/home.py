"""Home: what makes a large language model, how large they have grown, and the course map."""

from pathlib import Path

import streamlit as st

from llm_core.checkpoints import read_meta
from llm_core.config import ModelConfig
from llm_core.device import describe_device, pick_device
from llm_core.params import parameter_count
from llm_core.pretrained import minilm_config
from pages.common import course, figures, ui

ASSETS = Path(__file__).resolve().parents[1] / "assets"

# Published sizes of the GPT family, as given in the lecture. GPT-4's parameter count is a
# rumour and its training data was never disclosed (it also includes images).
GPT_PARAMETERS = {"GPT-1": 117e6, "GPT-2": 1.5e9, "GPT-3": 175e9, "GPT-4": 1.78e12}
GPT_TRAINING_GB = {"GPT-1": 4.5, "GPT-2": 40, "GPT-3": 570, "GPT-4": None}
TINY, MINILM, GPT = "tiny models in this app", "MiniLM (real, in this app)", "GPT family"
COLORS = {TINY: figures.OKABE_ITO[2], MINILM: figures.OKABE_ITO[0], GPT: figures.OKABE_ITO[1]}


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


ui.page_header(
    "What makes a Large Language Model",
    "How large language models have grown, from the app's tiny Transformers to GPT-4, and a map of the "
    "pages ahead: each one turns one idea of the lecture into something you can change and watch.",
)

st.header("The scale of language models")
sizes = model_sizes()
names, params, families = zip(*sizes, strict=True)
left, right = st.columns([3, 2])
with left:
    ui.plot(
        figures.log_dot_chart(
            names, params, families, "Parameters (log scale)", x_title="parameters",
            uncertain=[name == "GPT-4" for name in names], group_colors=COLORS,
        ),
        key="home_parameters",
    )
with right:
    data_names = list(GPT_TRAINING_GB)
    ui.plot(
        figures.log_dot_chart(
            data_names, list(GPT_TRAINING_GB.values()), [GPT] * len(data_names),
            "Training data (log scale)", x_title="training text (GB)",
            value_text=[f"~{gb:g} GB" if gb else "" for gb in GPT_TRAINING_GB.values()],
            group_colors=COLORS,
        ),
        key="home_training_data",
    )
st.markdown(
    "Each grid line is ten times the one before. GPT-3 has about **1,500 times** the parameters of GPT-1 "
    "and was trained on over **100 times** the text. The models in this app are small enough to train "
    "during class, yet they are built from the same parts. The GPT-4 size is a rumour (hollow dot) and "
    "its training data was never published."
)

st.header("Four ingredients")
st.markdown(
    "- **Architecture**: the Transformer, built on attention alone (no recurrence), so it trains in parallel.\n"
    "- **Data**: self-supervised pre-training on raw text, from a few GB (GPT-1) to hundreds of GB (GPT-3).\n"
    "- **Adaptation**: fine-tuning afterwards, on labelled examples, instructions or human feedback.\n"
    "- **Size**: from about a hundred million parameters to, reportedly, well over a trillion."
)

st.header("The course map")
st.markdown("The pages follow the order of the lecture; each builds on the ones before it.")
sections = {
    "Basic concepts": course.LESSONS[0:5],
    "Families of models": course.LESSONS[5:8],
    "Training and using them": course.LESSONS[8:11],
}
for column, (section, lessons) in zip(st.columns(len(sections)), sections.items(), strict=True):
    with column:
        st.subheader(section)
        for lesson in lessons:
            st.page_link(course.lesson_page(lesson), label=f"**{lesson.label}**")
            st.markdown(lesson.summary)

st.header("Where the models run")
st.markdown(f"This server runs every model on **{describe_device(pick_device())}**.")

ui.takeaway(
    "An LLM is a Transformer pre-trained to predict text on a huge corpus, then fine-tuned for what we "
    "want from it. The tiny models in this course have the same parts; what sets GPT-3 apart is scale, "
    "many orders of magnitude more parameters and training text."
)
