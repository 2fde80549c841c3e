"""The RNNs page's character-language-model tab: choose a corpus (built in or an uploaded
.txt), train an RNN/LSTM/GRU as a tracked job, watch loss, perplexity and samples live,
then sample with a temperature from the trained network (loaded from its tracked run)."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from core.jobs import FINISHED, KILLED
from core.plots.rnn import lm_epochs
from core.plots.training import lane_curves
from core.rnn.charlm import (
    CORPORA,
    UPLOAD,
    CharLM,
    CharLMConfig,
    CharLMResult,
    load_charlm,
    run_charlm,
    sample_text_file,
)
from core.rnn.charlm import sample as lm_sample
from ui import corpus as corpus_ui
from ui import export as export_ui
from ui import form, jobs, shell, tracked
from ui import ghost as ghost_ui
from ui.tables import csv_button

PAGE = "rnn"
JOB = f"{PAGE}.lm"


GHOST = dict(key=f"{PAGE}.lm_ghost", kind="char-lm")  # ghost box: before training and live


def trained_lm() -> tuple[CharLMResult, str] | None:
    """(this session's trained language model — finished or stopped, with its weights in its run —,
    what it was trained on), or None."""
    result = st.session_state.get(f"{JOB}.result")
    if not isinstance(result, CharLMResult) or not result.has_model:
        return None
    cfg: CharLMConfig | None = st.session_state.get(f"{PAGE}.lm_cfg")
    what = (cfg.text_name or CORPORA[cfg.corpus].noun) if cfg else "a text"
    return result, what


def trained_charlm(result: CharLMResult) -> CharLM | None:
    """The trained network of ``result``, loaded from its tracked run (None after a warning when it cannot be)."""
    return tracked.network_or_none(load_charlm, result.run_id, "The trained model")


def render_charlm() -> None:
    """The "Character language model" tab."""
    st.markdown(
        "A **character language model** reads text one character at a time and predicts the next one: "
        "P(x⟨t+1⟩ | x⟨1⟩ … x⟨t⟩). It is trained on windows of the text with the cross-entropy of every position; "
        "**perplexity** e^loss is the number of characters it is still choosing between. To generate, it samples "
        "a character from softmax(logits / temperature), feeds it back, and repeats. **Try:** watch the samples "
        "after each epoch turn from noise into names; train an RNN and an LSTM with the same settings and compare "
        "their curves on the Runs page; sample at temperature 0.2 (safe, repetitive) and 1.5 (wild)."
    )
    corpus, text, text_name = corpus_ui.pick_text(CharLMConfig, corpus_key=f"{PAGE}.lm_corpus",
                                                  upload_key=f"{PAGE}.lm_upload")
    with st.form(f"{PAGE}.lm_form", border=True):
        f1, f2, f3 = st.columns(3)
        chosen = {name: form.field(where, CharLMConfig, name, key=f"{PAGE}.lm_{key}") for where, name, key in (
            (f1, "cell", "cell"), (f1, "num_layers", "layers"), (f1, "embedding_size", "emb"),
            (f2, "hidden_size", "hidden"), (f2, "seq_len", "seq"), (f2, "epochs", "epochs"),
            (f3, "optimizer", "opt"), (f3, "lr", "lr"), (f3, "temperature", "temp"))}
        go = form.submit("Train the language model", JOB)
    if go:
        if corpus == UPLOAD and not text:
            st.error("Upload a usable .txt file first (see the message above), or pick a built-in text.",
                     icon=":material/error:")
        else:
            cfg = form.start(JOB, run_charlm, lambda: CharLMConfig(corpus=corpus, **chosen, seed=shell.global_seed(),
                                                                   text=text or "", text_name=text_name),
                             name=f"{chosen['cell']} char-LM on {text_name or corpus}")
            if cfg is not None:
                st.session_state[f"{PAGE}.lm_cfg"] = cfg
            export_ui.remember(JOB, cfg)
    export_ui.buttons(JOB)
    ghost_ui.before(JOB, PAGE, **GHOST)
    jobs.panel(JOB, _live, every=1.0)
    lm = trained_lm()
    if lm is not None and not jobs.is_active(JOB):
        _sampler(*lm)


def _live(snap) -> None:
    lane = next((k for k in snap.metrics if "/" not in k and k not in ("samples", "perplexity")), "")  # the cell
    steps = snap.metrics.get(lane, [])
    epochs = snap.metrics.get(f"{lane}/epochs", [])
    samples = snap.metrics.get("samples", [])
    result: CharLMResult | None = snap.result if isinstance(snap.result, CharLMResult) else None
    unigram = result.unigram if result else None
    ghost = ghost_ui.pick(PAGE, since=snap.created, **GHOST)
    c1, c2 = st.columns(2)
    if steps:
        c1.plotly_chart(ghost_ui.overlay(lane_curves({"loss": steps}, smoothing=0.6,
                                                     title="Cross-entropy per step (nats per character)"),
                                         ghost, "train_loss", smoothing=0.6), key=f"{PAGE}.lm_steps")
    if epochs:
        c2.plotly_chart(ghost_ui.overlay_each(lm_epochs(epochs, unigram=unigram, perplexity=True), ghost, {
            "train_perplexity": ("train", "#1f77b4"), "dev_perplexity": ("dev", "#ff7f0e")}), key=f"{PAGE}.lm_ppl")
    if samples:
        last = samples[-1]
        cfg: CharLMConfig | None = st.session_state.get(f"{PAGE}.lm_cfg")
        temperature = f" (temperature {cfg.temperature:g})" if cfg is not None else ""
        st.markdown(f"**Samples after epoch {last['epoch']}**{temperature}:")
        st.code(last["text"] or "(empty)", language=None)
    if result is None:
        return
    if snap.status == KILLED:
        st.caption("Stopped: the model as it was is kept, and you can sample from it below.")
    lane = result.lane
    if snap.status != FINISHED or lane.status == "FAILED":  # a diverged training: the job panel says so
        return
    m = st.columns(4)
    ppl = result.final_perplexity
    m[0].metric("Dev perplexity" if lane.dev_loss is not None else "Train perplexity", f"{ppl:.2f}" if ppl else "–",
                help="e^loss: how many characters the model is still choosing between, on average.")
    m[1].metric("Unigram perplexity (no context)", f"{math.exp(result.unigram):.2f}",
                help="e^H of the character frequencies: what a model that ignores the context would reach.")
    m[2].metric("Vocabulary", f"{result.sizes['vocab_size']} characters")
    m[3].metric("Seconds per epoch", f"{lane.seconds_per_epoch or 0:.2f}")
    rows = [{"epoch": r["epoch"], **{k: r.get(k) for k in ("epoch_train_loss", "dev_loss")}} for r in epochs]
    frame = pd.DataFrame(rows)
    d1, d2 = st.columns(2)
    csv_button(d1, "Download the curves (CSV)", frame, "charlm_curves.csv", f"{PAGE}.lm_curves_csv")
    d2.download_button("Download every epoch's samples (.txt)", sample_text_file(result), "charlm_samples.txt",
                       "text/plain", key=f"{PAGE}.lm_samples_txt")
    st.caption(f"Tracked as run `{lane.run_id}` in the *rnn* experiment (samples of every epoch are its text artifacts).")


def _sampler(result: CharLMResult, trained_on: str) -> None:
    st.subheader("Sample from the trained model")
    st.caption(f"The {result.cell} trained on {trained_on}. Temperature T divides the logits before the softmax: "
               "T → 0 always takes the most likely character (greedy: the same text every time), T = 1 samples "
               "the model's own probabilities, T > 1 flattens them towards uniform.")
    c1, c2, c3 = st.columns(3)
    temp = c1.slider("Temperature", 0.0, 2.0, 0.8, 0.05, key=f"{PAGE}.temperature")
    n = c2.slider("Samples", 1, 30, 10, key=f"{PAGE}.n_samples")
    start = c3.text_input("Start with", "", key=f"{PAGE}.start", max_chars=40,
                          help="Characters to begin each sample with (empty: the start of a line).")
    missing = result.vocab.unknown(start)
    if missing:
        st.warning(f"Not in the model's vocabulary: {', '.join(repr(c) for c in missing)}. Remove them to sample.",
                   icon=":material/keyboard:")
        return
    model = trained_charlm(result)
    if model is None:
        return
    prime = ("\n" + start) if result.lines or not start else start
    texts = lm_sample(model, result.vocab, n=n, temperature=temp, seed=shell.global_seed(), start=prime,
                      max_len=30 if result.lines else 200, stop_at_newline=result.lines)
    shown = [start + t for t in texts]
    st.code("\n".join(shown) if result.lines else "\n\n".join(shown), language=None)
    st.download_button("Download these samples (.txt)", "\n".join(shown) + "\n", "samples.txt", "text/plain",
                       key=f"{PAGE}.samples_txt")
