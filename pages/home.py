"""Home: what makes a large language model, how large they have grown, and the course map."""

import streamlit as st

from pages.common import course, figures, models, ui, url_state
from pages.common.home_cached import GPT, GPT_TRAINING_GB, MINILM, TINY, model_sizes

COLORS = {TINY: figures.OKABE_ITO[2], MINILM: figures.OKABE_ITO[0], GPT: figures.OKABE_ITO[1]}


ui.page_header(
    "What makes a Large Language Model",
    "How large language models have grown, from the app's tiny Transformers to GPT-4, and a map of the "
    "pages ahead: each one turns one idea of the lecture into something you can change and watch.",
)

st.header("The scale of language models")
sizes = model_sizes()
names, params, families = zip(*sizes, strict=True)
with ui.figures_row():
    ui.plot(
        figures.log_dot_chart(
            names, params, families, "Parameters (log scale)", x_title="parameters",
            uncertain=[name == "GPT-4" for name in names], group_colors=COLORS,
        ),
        key="home_parameters",
    )
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
# Two columns, the second holding two sections, each wide enough for the longest page name: on a narrow page
# the second goes below the first.
columns = ui.row(350, 350, gap="large")  # side by side from a 1280 px projector with the sidebar open
for column, names in zip(columns, (list(sections)[:1], list(sections)[1:]), strict=True):
    with column:
        for name in names:
            st.subheader(name)
            for lesson in sections[name]:
                st.page_link(course.page_of(lesson), label=f"**{lesson.label}**",
                             query_params=url_state.link_to(lesson.url_path))
                st.markdown(lesson.summary)

st.header("Where the models run")
st.markdown(f"This server runs every model on **{models.device_in_use()}**.")

ui.takeaway(
    "An LLM is a Transformer pre-trained to predict text on a huge corpus, then fine-tuned for what we "
    "want from it. The tiny models in this course have the same parts; what sets GPT-3 apart is scale, "
    "many orders of magnitude more parameters and training text."
)
