"""The Sequence models page's "Transformer language model" tab: a tiny decoder-only Transformer
trained on the RNNs page's texts as a tracked job (live loss, perplexity and samples), then
sampling with a temperature and top-k, the next-character probabilities and every attention head
for a typed text, and the dev perplexity beside the learner's own RNN character model."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.identity import User
from core.jobs import FINISHED
from core.plots.lm import char_label, heads_grid, next_char_bars, perplexity_bars
from core.plots.rnn import lm_epochs
from core.plots.training import lane_curves
from core.rnn.corpora import NEWLINE
from core.seq2seq.lm import (
    KIND,
    MAX_PROMPT_CHARS,
    UPLOAD,
    CharLMRun,
    TinyGPT,
    TransformerLMConfig,
    TransformerLMResult,
    attention_weights,
    generate,
    latest_charlm,
    load_lm,
    next_token_probs,
    perplexity_comparison,
    run_transformer_lm,
    sample_text_file,
)
from ui import corpus as corpus_ui
from ui import form, jobs, shell, tracked
from ui import ghost as ghost_ui
from ui.auth import current_user

PAGE = "seq2seq"
JOB = f"{PAGE}.lm"
LANE = "Transformer"
GHOST = dict(key=f"{JOB}.ghost", kind=KIND)


def trained() -> TransformerLMResult | None:
    """This session's trained Transformer LM (finished or stopped, with weights in its run), or None."""
    result = st.session_state.get(f"{JOB}.result")
    return result if isinstance(result, TransformerLMResult) and result.has_model else None


def render_lm() -> None:
    """The "Transformer language model" tab."""
    st.markdown(
        "A **decoder-only Transformer** (the shape of GPT) keeps only the decoder: it reads a text and, at every "
        "position, predicts the next character. Each layer lets every character look back at the ones before it "
        "with **causal self-attention** — the mask hides everything to its right, so it cannot peek at the answer "
        "— then a small feed-forward network, with residual connections and LayerNorm around both. To write, it "
        "samples a character from softmax(logits / **temperature**), keeping only the **top-k** most likely ones, "
        "appends it and repeats. It learns the same texts as the *Character language model* of the RNNs page, with "
        "the same dev text, so the two perplexities compare.  \n"
        "**Try:** watch the samples after each epoch; sample at temperature 0.3 and 1.5, with top-k 3 and off; type "
        "the start of a name and see which letters it expects; look for a head that always looks at the previous "
        "character."
    )
    corpus, text, text_name = corpus_ui.pick_text(TransformerLMConfig, corpus_key=f"{JOB}.corpus",
                                                  upload_key=f"{JOB}.upload")
    text = text or ""
    with st.form(f"{JOB}.form", border=True):
        f1, f2, f3 = st.columns(3)
        chosen = form.fields(TransformerLMConfig, (
            (f1, "num_layers"), (f1, "num_heads"), (f1, "d_model"), (f2, "context"), (f2, "positions", {"horizontal": True}),
            (f2, "dropout"), (f3, "epochs"), (f3, "lr"), (f3, "temperature")), keys=f"{JOB}.")
        go = form.submit("Train the Transformer", JOB)
    if go:
        if corpus == UPLOAD and not text:
            st.error("Upload a usable .txt file first, or pick a built-in text.", icon=":material/error:")
        else:
            cfg = form.start(JOB, run_transformer_lm, lambda: TransformerLMConfig(
                corpus=corpus, **chosen, seed=shell.global_seed(), text=text, text_name=text_name),
                name=f"Transformer LM on {text_name or corpus}")
            if cfg is not None:
                st.session_state[f"{JOB}.cfg"] = cfg
    ghost_ui.before(JOB, PAGE, **GHOST)
    jobs.panel(JOB, _live, every=1.0)
    result = trained()
    if result is not None and not jobs.is_active(JOB):
        model = tracked.network_or_none(load_lm, result.run_id, "The trained Transformer")
        if model is not None:
            temperature, top_k = _sampler(model, result)
            _probe(model, result, temperature, top_k)
        _comparison(result)


def _live(snap) -> None:
    steps, epochs = snap.metrics.get(LANE, []), snap.metrics.get(f"{LANE}/epochs", [])
    samples = snap.metrics.get("samples", [])
    result = snap.result if isinstance(snap.result, TransformerLMResult) else None
    ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    c1, c2 = st.columns(2)
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves({"loss": steps}, smoothing=0.6,
                                                     title="Cross-entropy per step (nats per character)"),
                                         ghost, "train_loss", smoothing=0.6), key=f"{JOB}.steps")
    if epochs:
        c2.plotly_chart(ghost_ui.overlay_each(lm_epochs(epochs, unigram=result.unigram if result else None,
                                                        perplexity=True), ghost, {
            "train_perplexity": ("train", "#1f77b4"), "dev_perplexity": ("dev", "#ff7f0e")}), key=f"{JOB}.ppl")
    if samples:
        st.markdown(f"**Samples after epoch {samples[-1]['epoch']}:**")
        st.code(samples[-1]["text"] or "(empty)", language=None)
    if result is None or snap.status != FINISHED or result.lane.status == "FAILED":
        return
    m = st.columns(4)
    ppl = result.final_perplexity
    m[0].metric("Dev perplexity", f"{ppl:.2f}" if ppl else "–",
                help="e^loss on the dev text: how many characters it is still choosing between, on average.")
    m[1].metric("Parameters", f"{result.sizes.get('parameters', 0):,}")
    m[2].metric("Vocabulary", f"{result.sizes['vocab_size']} characters")
    m[3].metric("Seconds per epoch", f"{result.lane.seconds_per_epoch or 0:.2f}")
    st.download_button("Download every epoch's samples (.txt)", sample_text_file(result), "transformer_lm_samples.txt",
                       "text/plain", key=f"{JOB}.samples_txt")
    st.caption(f"Tracked as run `{result.run_id}` in the *seq2seq* experiment; compare it on the Runs page.")


def _sampler(model: TinyGPT, result: TransformerLMResult) -> tuple[float, int | None]:
    """Sampling controls and the generated texts; returns the chosen (temperature, top-k)."""
    st.subheader("Sample from the trained Transformer")
    c1, c2, c3, c4 = st.columns(4)
    temperature = c1.slider("Temperature", 0.05, 2.0, 0.8, 0.05, key=f"{JOB}.sample_temperature",
                            help="Divides the logits before the softmax: small = nearly greedy, 1 = the model's "
                                 "own probabilities, above 1 = flatter.")
    k = c2.number_input("Top-k (0 = off)", 0, len(result.vocab), 0, key=f"{JOB}.sample_top_k",
                        help="Keep only the k most likely characters at each step and renormalise.")
    n = c3.slider("Samples", 1, 20, 8, key=f"{JOB}.sample_n")
    start = c4.text_input("Start with", "", max_chars=40, key=f"{JOB}.sample_start",
                          help="Characters to begin each sample with (empty: the start of a line).")
    top_k = int(k) or None
    prompt = (NEWLINE + start) if result.lines or not start else start
    try:
        texts = generate(model, result.vocab, prompt, n=n, max_len=30 if result.lines else 200,
                         temperature=temperature, top_k=top_k, seed=shell.global_seed(), stop_at_newline=result.lines)
    except ValueError as exc:
        st.warning(f"Cannot sample: {exc}.", icon=":material/keyboard:")
        return temperature, top_k
    shown = [start + t for t in texts]
    st.code(("\n" if result.lines else "\n\n").join(shown), language=None)
    st.download_button("Download these samples (.txt)", "\n".join(shown) + "\n", "transformer_samples.txt",
                       "text/plain", key=f"{JOB}.sampled_txt")
    return temperature, top_k


def _probe(model: TinyGPT, result: TransformerLMResult, temperature: float, top_k: int | None) -> None:
    st.subheader("What it expects next, and where it looks")
    example = "Mar" if result.lines else "def "
    typed = st.text_input(f"Type a text (at most {MAX_PROMPT_CHARS} characters)", example, key=f"{JOB}.probe",
                          max_chars=MAX_PROMPT_CHARS + 100)
    try:
        probs = next_token_probs(model, result.vocab, typed, temperature, top_k)
        weights = attention_weights(model, result.vocab, typed)
    except ValueError as exc:
        st.warning(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", icon=":material/edit:")
        return
    c1, c2 = st.columns([2, 3])
    c1.plotly_chart(next_char_bars(result.vocab.tokens, probs.tolist()), key=f"{JOB}.bars")
    c1.caption(f"With the temperature ({temperature:g}) and top-k ({top_k or 'off'}) chosen above; "
               "⏎ is a newline (the end of a line), ␣ a space.")
    read = typed[-model.context:]
    c2.plotly_chart(heads_grid(list(read), weights.numpy()), key=f"{JOB}.heads")
    c2.caption(f"Each small map is one head: row t is where character t ({len(read)} read) looked; it sums to 1 and "
               "is empty right of the diagonal — the causal mask. Hover to read a weight.")
    if len(read) < len(typed):
        st.caption(f"Only the last {model.context} characters are read (the context length).")
    last = char_label(read[-1])
    st.caption(f"The bottom row of every map is where “{last}”, the last character, looked to predict the next one.")


@st.cache_data(ttl=10, max_entries=16, show_spinner=False)
def _latest(corpus: str, user: User, _cfg: TransformerLMConfig | None, cfg_key: str) -> CharLMRun | None:
    return latest_charlm(corpus, user, like=_cfg)


def _comparison(result: TransformerLMResult) -> None:
    st.subheader("Against the RNN character model")
    cfg: TransformerLMConfig | None = st.session_state.get(f"{JOB}.cfg")
    try:
        rnn = _latest(result.corpus, current_user(), cfg, repr(cfg))
    except Exception as exc:  # noqa: BLE001 - an unreadable store must not break the page
        st.caption(f"The RNN runs could not be read ({type(exc).__name__}).")
        return
    if rnn is None:
        st.info("To compare, train a *Character language model* on the **RNNs** page on the same text; its dev "
                "perplexity then appears here beside the Transformer's.", icon=":material/compare_arrows:")
        return
    values = perplexity_comparison(result, rnn)
    c1, c2 = st.columns([3, 2])
    c1.plotly_chart(perplexity_bars(values, unigram=math.exp(result.unigram)), key=f"{JOB}.compare")
    c2.dataframe(pd.DataFrame([{"model": k, "dev perplexity": round(v, 3)} for k, v in values.items()]),
                 hide_index=True, width="stretch")
    same = ("the same dev text" if rnn.same_dev_text else
            "a different dev text (another seed, dev fraction or text cut), so compare with care")
    c2.caption(f"Your latest {rnn.cell} run `{rnn.run_id}` on the RNNs page, on {same}. Lower is better.")
