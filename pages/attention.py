"""3. Attention: softmax(QK^T / sqrt(d_k)) V, one matrix at a time, then every head of every layer."""

from __future__ import annotations

import numpy as np
import streamlit as st

from llm_core.attention_steps import attention_steps, record
from llm_core.model import Attention
from llm_core.tokenizers import unknown_pieces
from pages.common import attention_figures as af
from pages.common import limits, models, ui, url_state
from pages.common.attention_cached import (
    D_K_CHOICES,
    N_KEYS,
    example_figure,
    grid_figure,
    head_figure,
    heads_for,
    lines_figure,
    mark_d_k,
    scaling_curves,
    shapes_figure,
    shown_patterns,
    step_figures,
    steps_for,
)

DEFAULT_TEXT = "the cat is hungry , so it eats the fish ."
STEPS = ("X", "W_q, W_k, W_v", "Q, K, V", "QK^T", "÷ √d_k", "softmax", "weights × V")
STEP_FIGURE_PX = 720  # a 12 × 12 matrix of two-decimal numbers, each inside its cell
STEP_TRIO_PX = 248  # W_q, W_k, W_v (or Q, K, V) alike in size, three to a line from a 1280 px projector on


def select_head_from_grid() -> None:
    """A box dragged over one tile of the small multiples makes that head the enlarged one."""
    selection = st.session_state.get("head_grid", {}).get("selection", {})
    boxes = selection.get("box", [])
    if not boxes or "_grid_tokens" not in st.session_state:
        return
    box = boxes[-1]
    xs = box.get("x") or [box.get("x0", 0), box.get("x1", 0)]
    ys = box.get("y") or [box.get("y0", 0), box.get("y1", 0)]
    layer, head = af.grid_cell_to_head(sum(xs) / 2, sum(ys) / 2, st.session_state["_grid_tokens"])
    config = models.text_model(st.session_state["model"]).config
    if 0 <= layer < config.n_layer and 0 <= head < config.n_head:
        st.session_state["layer"], st.session_state["head"] = layer, head


# --- the page ---------------------------------------------------------------------------------------

ui.page_header(
    "3. Attention",
    "How each token builds its context vector from all tokens: the attention formula computed one matrix at a "
    "time on a real trained layer, why the scores are divided by √d_k, and every head of every layer at once.",
)
st.latex(r"\begin{gathered}\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^T}{\sqrt{d_k}}\right)V"
         r"\\ Q = XW_q,\; K = XW_k,\; V = XW_v\end{gathered}")  # two lines: one is wider than a 1280 screen's page

choices = models.available()
model_label = url_state.bind("model", default=choices[0], options=choices)
text = url_state.bind("text", default=DEFAULT_TEXT, max_chars=limits.TEXT_CHARS.maximum)
left, right = ui.row(220, "stretch")
with left:
    st.selectbox("Model", choices, key="model", help="; ".join(f"{k}: {v}" for k, v in models.DESCRIPTIONS.items()),
                 on_change=url_state.forget, args=("token",))  # other tokens: the query starts again
with right:
    st.text_input("Sentence", key="text", on_change=url_state.forget, args=("token",),
                  help=f"Read in lower case. At most {limits.SENTENCE_TOKENS.maximum} tokens, special tokens included.")
tm = models.text_model(model_label)
config = tm.config
st.caption(f"**{model_label}**: {models.DESCRIPTIONS[model_label]}. Width C = {config.n_embd}, so each of the "
           f"{config.n_head} heads has d_k = {config.n_embd} / {config.n_head} = {config.head_size}.")

# Layer and head depend on the model: clamp a value left over from a bigger model before the widgets exist.
for key, count in (("layer", config.n_layer), ("head", config.n_head)):
    if st.session_state.get(key, 0) >= count:
        st.session_state[key] = count - 1
layer = url_state.bind("layer", default=0, min_value=0, max_value=config.n_layer - 1)
head = url_state.bind("head", default=0, min_value=0, max_value=config.n_head - 1)
hide_special = url_state.bind("hide_special", default=False)
c1, c2, c3 = ui.row("stretch", "stretch", "stretch", vertical_alignment="bottom")
with c1:
    st.slider("Layer", 0, config.n_layer - 1, key="layer", disabled=config.n_layer == 1)
with c2:
    st.slider("Head", 0, config.n_head - 1, key="head", disabled=config.n_head == 1)
with c3:
    st.toggle("Hide special tokens", key="hide_special",
              help="Leave out [CLS], [SEP], [BOS] and [EOS] in the head views, each row renormalised over the rest. "
                   "[UNK] stays: it stands for a word of your sentence.")

problem = None
try:
    cleaned = tm.read(limits.check_text(text))  # the tiny models know only lower case
    encoding = tm.encode(cleaned)
    limits.SENTENCE_TOKENS.check(len(encoding.ids))
    if len(encoding.ids) > config.block_size:
        raise limits.LimitError(f"The sentence is {len(encoding.ids)} tokens long; {model_label} reads at most "
                                f"{config.block_size}. Shorten it.")
except limits.LimitError as why:
    problem = str(why)
if problem is not None:
    ui.show_error(f"{problem} The attention views below need a sentence; the √d_k demo still works.")
else:
    tokens = encoding.tokens
    unknown = unknown_pieces(tm.tokenizer, cleaned)
    if unknown:
        st.info(f"Not in {model_label}'s vocabulary, read as [UNK]: {ui.quoted(unknown)}. "
                "The model still attends to [UNK] like any other token.", icon=":material/help:")
    labels = af.label_tokens(tokens)

# --- 1. one head, step by step ------------------------------------------------------------------------

st.header("1 · One head, step by step")
st.markdown(
    "Walk through the formula for the layer and head chosen above, one matrix at a time. Rows are the tokens of "
    "your sentence; hover any cell for its exact value. Red is positive, blue negative; the colours of the "
    "larger matrices stop at the 99th percentile, so a few extreme numbers do not wash out the rest."
)
step = url_state.bind("step", default=STEPS[0], options=STEPS)


move = ui.stepper("step", STEPS, wrap=True)
b1, b2, b3 = ui.row("content", "content", "content", gap="small", vertical_alignment="center")
with b1:
    st.segmented_control("Step", STEPS, key="step", required=True, label_visibility="collapsed")
with b2:
    st.button("◀", key="step_back", on_click=move, args=(-1,), help="Previous step")
with b3:
    st.button("▶", key="step_next", on_click=move, args=(1,), help="Next step")

if problem is None:
    s = steps_for(model_label, cleaned, layer, head)
    T, C, d_k = s.X.shape[0], s.X.shape[1], s.d_k
    shapes = {
        "X": f"X {T}×{C}", "W_q, W_k, W_v": f"W_q, W_k, W_v {C}×{d_k}", "Q, K, V": f"Q, K, V {T}×{d_k}",
        "QK^T": f"QK^T {T}×{T}", "÷ √d_k": f"÷ √{d_k}", "softmax": f"softmax {T}×{T}",
        "weights × V": f"output {T}×{d_k}",
    }  # fmt: skip
    st.markdown("Shapes: " + " → ".join(f"**:orange[{v}]**" if k == step else v for k, v in shapes.items()))
    explain = {
        "X": f"Each row is one token's vector as it enters layer {layer}: its embedding plus its position"
             + (" and segment embedding, the sum normalised" if config.embed_norm and not layer else "")
             + (", reworked by the layers before" if layer else "")
             + (", then normalised by the layer norm" if config.norm == "pre" else "")
             + f". **{T} × {C}**: {T} tokens, {C} numbers each.",
        "W_q, W_k, W_v": f"Three **trained** matrices of head {head}, the same for every token. Each turns a "
                         f"{C}-number token vector into {d_k} numbers: a query (what the token looks for), a key "
                         f"(what it offers) and a value (what it passes on). A bias is added after the product.",
        "Q, K, V": f"Every token's query, key and value: **{T} × {C}** times **{C} × {d_k}** gives **{T} × {d_k}**.",
        "QK^T": f"Cell (i, j) is token i's query dotted with token j's key, large when they point the same way. "
                f"**{T} × {d_k}** times **{d_k} × {T}** gives **{T} × {T}**: a score for every pair of tokens.",
        "÷ √d_k": f"Every score divided by √d_k = √{d_k} ≈ {np.sqrt(d_k):.2f}. For random queries and keys this "
                  "brings the spread of the scores back to about 1 (section 2 shows why); a trained head may still "
                  "make its scores larger or smaller."
                  + (" The decoder's causal mask then sets every future position to −∞ (dark cells), so after "
                     "the softmax no token sees what comes after it." if np.isneginf(s.masked).any() else ""),
        "softmax": "The softmax turns each row into weights from 0 to 1 that **sum to 1**"
                   + (" (a −∞ becomes exactly 0)" if np.isneginf(s.masked).any() else "")
                   + ": how much of its context each token takes from every token (row sums here: "
                   f"{s.weights.sum(axis=1).min():.4f} to {s.weights.sum(axis=1).max():.4f}).",
        "weights × V": f"Each token's context vector: the value rows averaged with its attention weights. "
                       f"**{T} × {T}** times **{T} × {d_k}** gives **{T} × {d_k}**.",
    }  # fmt: skip
    step_figs = step_figures(model_label, cleaned, layer, None if step == "X" else head, step)
    if len(step_figs) == 3:
        with ui.figures_row(gap="small"):  # one width for the three, on one line or on several
            for fig, name in zip(step_figs, ("a", "b", "c"), strict=True):
                ui.plot(fig, key=f"step_fig_{name}", width=STEP_TRIO_PX)
        st.markdown(explain[step])
    else:
        # The note beside the figure where both have room, else below it. The figure keeps the width that
        # its cells' numbers need (less only on a page narrower than that) rather than share a line with it.
        line = ui.figures_row()
        with line:
            ui.plot(step_figs[0], key="step_fig_a", width=STEP_FIGURE_PX)
        with line.container(width=280):
            st.markdown(explain[step])
            if step == "weights × V":
                st.success(
                    f"Computed here step by step, and equal to the output that layer {layer} produced for head "
                    f"{head} inside the model (largest difference {s.max_difference:.1e}).",
                    icon=":material/check_circle:",
                )

# --- 2. why sqrt(d_k) ---------------------------------------------------------------------------------

st.header("2 · Why divide by √d_k")
st.markdown(
    "Take random queries and keys whose numbers have variance 1. A dot product adds up d_k such products, so its "
    "spread grows like √d_k. Large scores push the softmax to give one key nearly everything (it saturates), "
    "and a saturated softmax barely changes when training nudges the scores. Dividing by √d_k keeps the spread "
    "at 1 whatever the size."
)
d_k_demo = url_state.bind("dk", default=64, options=D_K_CHOICES)
scale = url_state.bind("scale", default=True)
k1, k2 = ui.row("stretch", "content", vertical_alignment="bottom")
with k1:
    st.select_slider("d_k (length of the query and key vectors)", D_K_CHOICES, key="dk")
with k2:
    st.toggle("Divide by √d_k", key="scale")
curves, spread_fig, peak_fig = scaling_curves()
example, low, high, top = example_figure(d_k_demo, scale)
with ui.figures_row():
    ui.plot(example, key="dk_example")
    ui.plot(mark_d_k(peak_fig, curves, d_k_demo, (curves.max_weight, curves.scaled_max_weight)),
            key="dk_saturation")
st.caption(f"In the bar chart: {'scaled' if scale else 'unscaled'} scores from {low:.1f} to {high:.1f}; the largest "
           f"weight is {top:.2f}.")
ui.plot(mark_d_k(spread_fig, curves, d_k_demo, (curves.score_std, curves.scaled_score_std)), key="dk_spread")
st.caption(f"Averages over 256 random queries with {N_KEYS} keys each. Evenly spread weights would be "
           f"{1 / N_KEYS:.3f} each; a largest weight near 1 means the softmax has saturated.")

# --- 3. many heads ------------------------------------------------------------------------------------

st.header("3 · Every head of every layer")
if problem is not None:
    st.info("The heads need a sentence the model can read: change the one above as the message at the top "
            "of the page says.", icon=":material/keyboard:")
else:
    weights, keep, hidden_share = shown_patterns(model_label, cleaned, hide_special)
    if hide_special and hidden_share is None:
        framing = sum(t in models.STRUCTURAL_TOKENS for t in tokens)
        st.caption("Nothing to hide: this model reads the sentence without special tokens." if not framing else
                   f"Nothing hidden: without its {framing} special token(s) the sentence would keep fewer than two "
                   "tokens to attend between.")
    L, H = config.n_layer, config.n_head
    st.markdown(
        f"Each square is one head's weights over your sentence ({len(keep)} × {len(keep)}: query rows, key "
        f"columns). The heads of a layer read the same input side by side and learn different patterns. "
        f"**Drag a box over a square** (or use the sliders at the top) to enlarge it below."
    )
    st.session_state["_grid_tokens"] = len(keep)  # for the box-selection callback
    ui.plot(af.frame_head(grid_figure(model_label, cleaned, hide_special), len(keep), layer, head),
            key="head_grid", on_select=select_head_from_grid, selection_mode="box")
    if hidden_share is not None:
        st.caption(f"Special tokens hidden and each row renormalised over the rest. In layer {layer}, head {head} "
                   f"the hidden tokens took {hidden_share[layer, head].mean():.0%} of the weight on average.")

    # The query token by its position in the sentence, so that hiding special tokens keeps it. Start from a
    # token with something to look back at: a pronoun if there is one, else the last word shown. A new
    # sentence or model starts from its own default (their widgets forget the token).
    positions = [int(i) for i in keep]
    pronouns = [i for i in positions if tokens[i] in ("it", "they", "he", "she")]
    words = [i for i in positions if tokens[i] not in models.STRUCTURAL_TOKENS and any(c.isalnum() for c in tokens[i])]
    words = words or positions
    first_query = pronouns[0] if pronouns else words[-1]
    query = url_state.bind("token", default=first_query, options=positions)  # one of this sentence's tokens
    st.selectbox("Where does this token look?", positions, key="token", format_func=lambda i: f"{i}: {tokens[i]}",
                 width=300)
    with ui.figures_row():
        ui.plot(head_figure(model_label, cleaned, hide_special, layer, head), key="head_big")
        ui.plot(lines_figure(model_label, cleaned, hide_special, layer, head, positions.index(query)),
                key="token_lines")

    st.subheader("Heads together: concatenate, then project")
    mh = heads_for(model_label, cleaned, layer)
    T = len(tokens)
    ui.plot(shapes_figure(H, T, config.head_size, config.n_embd), key="mh_shapes")
    st.markdown(
        f"The {H} heads of layer {layer} each give a **{T} × {config.head_size}** output. Side by side they make "
        f"one **{T} × {H * config.head_size}** matrix, which the trained output projection W_o "
        f"(**{H * config.head_size} × {config.n_embd}**) mixes into the layer's output, **{T} × {config.n_embd}**: "
        f"one vector per token again, added to the token's running representation. Recomputed here from the "
        f"heads, it matches the model's own attention output "
        + (f"to within {gap:.1e}." if (gap := float(np.abs(mh.output - mh.model_output).max())) else "exactly.")
    )

ui.takeaway(
    "Attention lets every token gather a context vector from all tokens: queries meet keys in QK^T, dividing by "
    "√d_k keeps the softmax from saturating, and the weights (each row sums to 1) average the values. Multi-head "
    "attention runs several such heads in parallel, each with its own W_q, W_k, W_v, and mixes them with W_o."
)
ui.show_code(record, attention_steps, Attention.forward)
