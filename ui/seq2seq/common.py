"""What the Sequence models page's tabs share: the trained models of the session (loaded from
their tracked runs), a quick training with defaults, the training form's hyper-parameters, the
live view of a training job, the results table and the "type something and translate it" box."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.jobs import FINISHED
from core.plots.seq2seq import (
    VARIANT_COLORS,
    attention_heatmap,
    cross_attention_grid,
    exact_match_by_length_chart,
    seq2seq_loss_curves,
)
from core.seq2seq import (
    MAX_INPUT_CHARS,
    Seq2SeqConfig,
    Seq2SeqResult,
    VariantResult,
    load_seq2seq,
    run_seq2seq,
    translate,
)
from core.seq2seq.training import TRAINING_PAIRS, EncoderDecoder
from ui import form, jobs, shell, tracked
from ui import ghost as ghost_ui
from ui.tables import csv_button

PAGE = "seq2seq"
JOBS = {"dates": f"{PAGE}.dates", "numbers": f"{PAGE}.numbers"}
TASK_NAMES = {"dates": "date translation", "numbers": "number words"}
TAB_NAMES = {"dates": "Date translation", "numbers": "Number words"}


def trained_result(task: str) -> Seq2SeqResult | None:
    """This session's trained models for ``task`` (None when none finished)."""
    result = st.session_state.get(f"{JOBS[task]}.result")
    if not isinstance(result, Seq2SeqResult) or result.best() is None:
        return None
    return result


def training_name(cfg: Seq2SeqConfig) -> str:
    return f"{TASK_NAMES[cfg.task]} ({' + '.join(cfg.variants)})"


def start_seq2seq(cfg: Seq2SeqConfig) -> None:
    jobs.start(JOBS[cfg.task], run_seq2seq, cfg, name=training_name(cfg))


def default_config(task: str = "dates") -> Seq2SeqConfig:
    """The defaults: an attention model that reaches ~99 % exact match on dates in about a
    minute on a 2-core CPU."""
    if task == "numbers":
        return Seq2SeqConfig(task="numbers", n_train=4000, epochs=4, seed=shell.global_seed())
    return Seq2SeqConfig(task=task, seed=shell.global_seed())


def offer_training(task: str, key: str) -> None:
    """Say that a trained model is needed, and offer to train one with the defaults."""
    job = JOBS[task]
    st.info(f"This needs a trained {TASK_NAMES[task]} model. Train one with the form of the *{TAB_NAMES[task]}* tab, "
            "or start one with the default settings here (about a minute on a laptop CPU).", icon=":material/info:")
    if st.button(f"Train a {TASK_NAMES[task]} model with the defaults", key=key, type="primary",
                 icon=":material/play_arrow:", disabled=jobs.is_active(job)):
        start_seq2seq(default_config(task))
        st.rerun()
    if jobs.is_active(job):
        st.caption("Training… the progress is in the training tab; this part fills in when it is done.")


def hyperparameters(prefix: str, defaults: Seq2SeqConfig) -> dict:
    """The model and optimisation widgets inside a form, starting at ``defaults``; returns Seq2SeqConfig fields."""
    c1, c2, c3 = st.columns(3)
    out = {}
    for where, name, key, kw in ((c1, "n_train", "n_train", {"options": TRAINING_PAIRS}), (c1, "epochs", "epochs", {}),
                                 (c2, "batch_size", "batch", {}), (c2, "lr", "lr", {}), (c3, "hidden", "hidden", {}),
                                 (c3, "cell", "cell", {"horizontal": True}), (c1, "teacher_forcing", "tf", {})):
        out[name] = form.field(where, Seq2SeqConfig, name, key=f"{prefix}.{key}", value=getattr(defaults, name), **kw)
    with st.expander("Transformer settings (used when the Transformer is among the models)"):
        t1, t2, t3 = st.columns(3)
        for where, name, kw in ((t1, "layers", {}), (t1, "transformer_epochs", {}), (t2, "d_model", {}),
                                (t2, "heads", {}), (t3, "d_ff", {}), (t3, "dropout", {}),
                                (t1, "positions", {"horizontal": True})):
            out[name] = form.field(where, Seq2SeqConfig, name, key=f"{prefix}.{name}", value=getattr(defaults, name), **kw)
        st.caption("Encoder and decoder layers of multi-head self-attention and feed-forward networks (no recurrence). "
                   "The recurrent cell, hidden units and teacher forcing above do not apply to it; the learning rate "
                   "and batch size do.")
    out["n_dev"] = defaults.n_dev
    return out


def start_form(task: str, fields: dict) -> None:
    """Build the config of a tab's submitted form and start its training (or say what is wrong)."""
    form.start(JOBS[task], run_seq2seq, lambda: Seq2SeqConfig(**fields, task=task, seed=shell.global_seed()),
               name=training_name)


def training_view(snap, task: str) -> None:
    """The job panel's content: live loss curves, then the results table when done."""
    steps = {k: v for k, v in snap.metrics.items() if "/" not in k}
    epochs = {k.split("/")[0]: v for k, v in snap.metrics.items() if k.endswith("/epochs")}
    if steps:
        ghost = ghost_ui.pick(PAGE, key=f"{JOBS[task]}.ghost", kind=task, grouped=True, since=snap.created)
        fig = ghost_ui.overlay(seq2seq_loss_curves(steps, epochs), ghost, "train_loss", smoothing=0.6, log_y=True,
                               colors=VARIANT_COLORS, group=True)
        st.plotly_chart(fig, key=f"{JOBS[task]}.curves")
    result: Seq2SeqResult | None = snap.result
    if result is not None and snap.status == FINISHED:
        scores_table(result, task)


def scores_table(result: Seq2SeqResult, task: str) -> None:
    rows = []
    for v in result.variants.values():
        rows.append({"model": v.variant, "status": v.lane.status,
                     "exact match": None if v.exact_match is None else round(100 * v.exact_match, 1),
                     "BLEU (0–100, sacrebleu)": None if v.bleu is None else round(v.bleu, 2),
                     "BLEU (0–1, course)": None if v.bleu is None else round(v.bleu / 100, 4),
                     "training seconds": None if v.train_seconds is None else round(v.train_seconds, 1),
                     "epochs": result.cfg.transformer_epochs if v.variant == "transformer" else result.cfg.epochs,
                     "s / epoch": None if v.seconds_per_epoch is None else round(v.seconds_per_epoch, 2),
                     "parameters": v.parameters,
                     "breaks down at length": _breakdown(v),
                     "run": v.lane.run_id or ""})
    cols = st.columns(max(len(result.variants), 1) * 2)
    for i, v in enumerate(result.variants.values()):
        if v.exact_match is not None:  # a diverged variant has none: the job panel says why
            cols[2 * i].metric(f"Exact match ({v.variant})", f"{v.exact_match:.1%}")
            cols[2 * i + 1].metric(f"BLEU ({v.variant})", f"{v.bleu:.1f}", help=f"{v.bleu / 100:.3f} on the course's 0–1 scale")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={"exact match": st.column_config.NumberColumn(format="%.1f %%")})
    unit = "characters" if result.codec.bleu_tokenize == "char" else "words (sacrebleu's 13a tokenizer)"
    st.caption(f"On {result.sizes['dev_pairs']:,} dev pairs never seen in training ({result.sizes['train_pairs']:,} "
               f"training pairs). Exact match: the whole output is right. BLEU is corpus BLEU over {unit}; sacrebleu "
               "shows it from 0 to 100, the course from 0 to 1.")
    lengths = {v.variant: v.by_length for v in result.variants.values() if v.by_length}
    if lengths:
        st.plotly_chart(exact_match_by_length_chart(lengths), key=f"{JOBS[task]}.by_length")
        st.caption(f"The dev pairs grouped by the length of their source ({result.codec.src_unit}s). *Breaks down at "
                   "length*: the shortest group (of at least 5 pairs) where fewer than half come out exactly right; "
                   "“never” when every group stays above one half.")
    preds = [{"model": v.variant, **row} for v in result.variants.values() for row in v.predictions]
    if preds:
        csv_button(st, "Download the dev predictions (CSV)", preds, f"seq2seq_{task}_dev_predictions.csv",
                   key=f"{JOBS[task]}.csv")
        wrong = [p for p in preds if not p["correct"]][:8]
        if wrong:
            with st.expander(f"Some mistakes ({sum(not p['correct'] for p in preds)} in all)"):
                st.dataframe(pd.DataFrame(wrong), hide_index=True, width="stretch")


def _breakdown(v: VariantResult) -> str | None:
    if not v.by_length:
        return None
    return "never" if v.breakdown_length is None else f"{v.breakdown_length}+"


def trained_seq2seq(variant: VariantResult) -> EncoderDecoder | None:
    """The trained network of ``variant``, loaded from its tracked run (None after a warning when it cannot be)."""
    return tracked.network_or_none(load_seq2seq, variant.run_id, f"The trained {variant.variant} model")


def pick_variant(result: Seq2SeqResult, key: str) -> VariantResult:
    done = [v for v in result.variants.values() if v.finished]
    if len(done) == 1:
        return done[0]
    name = st.radio("Model", [v.variant for v in done], horizontal=True, key=key)
    return result.variants[name]


def translate_box(task: str, example: str, label: str) -> None:
    """Type a source, see its greedy translation and (with attention) the heatmap."""
    result = trained_result(task)
    if result is None:
        offer_training(task, key=f"{JOBS[task]}.quick")
        return
    variant = pick_variant(result, key=f"{JOBS[task]}.variant")
    text = st.text_input(label, example, max_chars=MAX_INPUT_CHARS * 2, key=f"{JOBS[task]}.text")
    model = trained_seq2seq(variant)
    if model is None:
        return
    try:
        t = translate(model, result.codec, text)
    except ValueError as exc:
        st.warning(str(exc), icon=":material/edit:")
        return
    if t.unknown:
        st.warning(f"The model never saw {', '.join(repr(u) for u in t.unknown)} in training; it reads "
                   f"{'them' if len(t.unknown) > 1 else 'it'} as <unk>.", icon=":material/help:")
    c1, c2 = st.columns([1, 2])
    c1.metric("Translation", t.output or "(nothing)")
    c1.caption(f"Greedy decoding with the *{variant.variant}* model; Σ log P = {sum(t.token_log_probs):.3f} over "
               f"{len(t.output_tokens)} tokens (<eos> included).")
    if t.attention is None:
        c2.info("This model has no attention: the decoder sees one fixed context vector for the whole input, so "
                "there is no heatmap. Train the attention model to see where it looks.", icon=":material/visibility_off:")
    else:
        c2.plotly_chart(attention_heatmap(t.source_tokens, t.output_tokens, t.attention), key=f"{JOBS[task]}.heatmap")
        c2.caption("Each row is one output token and sums to 1: the weights α the decoder put on each input token "
                   "when it wrote that output." + (" For the Transformer: the cross-attention of its last decoder "
                                                   "layer, averaged over the heads." if t.heads else ""))
    if t.heads:
        with st.expander(f"Cross-attention per layer and head ({len(t.heads)} × {len(t.heads[0])})"):
            st.plotly_chart(cross_attention_grid(t.source_tokens, t.output_tokens, t.heads),
                            key=f"{JOBS[task]}.head_grid")
            st.caption("Each small map is one head of one decoder layer: its rows are the output tokens, its columns "
                       "the input tokens. Heads of the same layer often split the work (one reads the day, "
                       "another the month); early layers tend to be blurrier than the last. **Try:** a date with the "
                       "month written out and one in digits, and see which heads move.")
