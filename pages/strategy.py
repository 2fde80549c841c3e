"""ML strategy: split the data, read bias and variance, pick a metric, analyse errors."""

import math

import numpy as np
import pandas as pd
import streamlit as st

from core import tracking
from core.data import DATASETS, offline_names
from core.data.toy import TOY_KINDS
from core.plots import strategy as plots
from core.plots.training import lane_curves
from core.runs import store_error_message
from core.strategy import diagnosis as D
from core.strategy import errors as EA
from core.strategy import experiments as X
from core.strategy import metrics as M
from core.strategy import mismatch as MM
from core.strategy import orthogonal as O
from core.strategy.splits import dev_share, plan_split
from ui import jobs, shell

PAGE = "strategy"
JOB_MISMATCH, JOB_CURVES, JOB_METRIC, JOB_CANDIDATES, JOB_ERRORS = (
    f"{PAGE}.mismatch", f"{PAGE}.curves", f"{PAGE}.metric", f"{PAGE}.candidates", f"{PAGE}.errors")
HIDDEN_CHOICES = {"none (linear)": (), "8": (8,), "16": (16,), "32": (32,), "64": (64,), "128": (128,),
                  "32×32": (32, 32), "64×64": (64, 64), "256×256": (256, 256), "1024×1024": (1024, 1024)}
CANDIDATES = {"16": (16,), "64": (64,), "256": (256,), "256×256": (256, 256), "1024×1024": (1024, 1024),
              "1024×1024×1024": (1024, 1024, 1024)}


def pct(v: float) -> str:
    return f"{v:.1%}"


def load_runs() -> tuple[pd.DataFrame, str | None]:
    """All tracked runs (any page), or an empty table and a message when the store is down."""
    try:
        return tracking.search_runs(), None
    except Exception as exc:  # noqa: BLE001 - a store failure is shown, never raised
        return pd.DataFrame(columns=["run_id"]), store_error_message(exc, tracking.tracking_uri())


def start_once(key: str, fn, cfg, name: str) -> None:
    """Start the job unless this session's job for ``key`` is still going (a double click)."""
    if jobs.is_active(key):
        st.toast("That training is still running; wait for it or press Stop.")
    else:
        jobs.start(key, fn, cfg, name=name)


def live_lanes(snap, skip: tuple[str, ...] = ()) -> None:
    """Loss per step of every lane of a running job."""
    lanes = {k: v for k, v in snap.metrics.items() if "/" not in k and k not in skip}
    if lanes and not snap.done:
        st.plotly_chart(lane_curves(lanes, smoothing=0.6 if max(len(v) for v in lanes.values()) > 50 else 0.0),
                        key=f"{snap.page}.live_loss")


st.title("ML strategy")
st.markdown(
    "Training is only half the work; the other half is deciding **what to try next**. This page turns that "
    "decision into numbers: how to split the data, how far training and dev errors are from human level, "
    "which single metric to optimize, and which kind of mistake is worth fixing. Every training here is small, "
    "real and tracked, so you can bring its numbers into the diagnosis."
)
runs, store_error = load_runs()
if store_error:
    st.warning(store_error)
tab_split, tab_diag, tab_curves, tab_metric, tab_errors, tab_ortho = st.tabs(
    ["Data splits", "Bias and variance", "Learning curves", "Metrics", "Error analysis", "Orthogonalization"])

# ---------------------------------------------------------------------------- data splits

with tab_split:
    st.markdown(
        "**Train** fits the weights, **dev** picks between models and hyperparameters, **test** gives the final, "
        "unbiased number. Dev and test only need to be big enough to trust their numbers, so their *share* shrinks "
        "as the data grows. **Try:** 5,000, then 500,000, then 5,000,000 examples."
    )
    n = st.number_input("Examples in the dataset", min_value=1, value=10_000, step=1_000, key=f"{PAGE}.n")
    try:
        plan = plan_split(int(n))
    except ValueError as exc:
        st.error(str(exc))
    else:
        c1, c2, c3 = st.columns(3)
        for col, name, count, share in zip((c1, c2, c3), ("Train", "Dev", "Test"), (plan.train, plan.dev, plan.test),
                                           plan.ratios, strict=True):
            col.metric(name, f"{count:,}", f"{share:.1%} of the data", delta_color="off", delta_arrow="off")
        st.caption(f"Rule: {plan.regime}. Dev and test each get min(20 %, max(10,000 / n, 1 %)) of the data.")
        ns = np.unique(np.logspace(2, 9, 141).round().astype(int))
        shares = [(1 - 2 * dev_share(int(k)), dev_share(int(k)), dev_share(int(k))) for k in ns]
        st.plotly_chart(plots.split_rule(ns, shares, mark=int(n)), key=f"{PAGE}.split_rule")
        split_csv = pd.DataFrame([{"set": s, "examples": c, "share": r} for s, c, r in
                                  zip(("train", "dev", "test"), (plan.train, plan.dev, plan.test), plan.ratios, strict=True)])
        st.download_button("Download the split (CSV)", split_csv.to_csv(index=False).encode(), "split_plan.csv", "text/csv",
                           key=f"{PAGE}.split_csv")

    st.subheader("When dev data look different: data mismatch")
    st.markdown(
        "Dev and test must come from the distribution you care about, but training data often do not (web photos "
        "for training, phone photos for dev). Then a dev gap mixes two things. Carve a **train-dev** set out of the "
        "training distribution and hold it out: *train-dev − train* is variance, *dev − train-dev* is **data "
        "mismatch**. Below, the dev points are rotated and shifted away from the training points. **Try:** "
        "rotation 0 and shift 0 (no mismatch), then grow them and watch only the last gap grow."
    )
    c1, c2, c3 = st.columns(3)
    mm_data = c1.selectbox("Toy data set", TOY_KINDS, index=TOY_KINDS.index("moons"), key=f"{PAGE}.mm_data")
    mm_rot = c2.slider("Dev rotation (degrees)", -90, 90, 35, 5, key=f"{PAGE}.mm_rot")
    mm_shift = c3.slider("Dev shift along x", -1.0, 1.0, 0.25, 0.05, key=f"{PAGE}.mm_shift")
    mm_noise = c1.slider("Noise", 0.0, 0.4, 0.12, 0.02, key=f"{PAGE}.mm_noise")
    mm_hidden = c2.selectbox("Hidden units (mismatch demo)", ["8", "32", "32×32", "64×64"], index=2, key=f"{PAGE}.mm_hidden")
    mm_epochs = c3.slider("Epochs (mismatch demo)", 5, 200, 30, 5, key=f"{PAGE}.mm_epochs")
    try:
        mm_cfg = MM.MismatchConfig(dataset=mm_data, noise=mm_noise, rotation=float(mm_rot), shift=float(mm_shift),
                                  hidden=HIDDEN_CHOICES[mm_hidden], epochs=mm_epochs, seed=shell.global_seed())
    except ValueError as exc:
        st.error(str(exc))
        mm_cfg = None
    if st.button("Train the mismatch demo", type="primary", disabled=mm_cfg is None or jobs.is_active(JOB_MISMATCH),
                 key=f"{PAGE}.mm_go"):
        start_once(JOB_MISMATCH, MM.run_mismatch, mm_cfg, name="data mismatch demo")
    jobs.panel(JOB_MISMATCH, live_lanes)
    mm = st.session_state.get(f"{JOB_MISMATCH}.result")
    if mm is not None and mm.errors:
        e = mm.errors
        human = st.number_input("Human-level error for the toy set (%)", 0.0, 100.0, 0.0, 0.5, key=f"{PAGE}.mm_human") / 100
        parts = D.mismatch_breakdown(e["train"], e["train_dev"], e["dev"], human)
        c = st.columns(4)
        c[0].metric("Training error", pct(e["train"]))
        c[1].metric("Train-dev error", pct(e["train_dev"]))
        c[2].metric("Dev error", pct(e["dev"]))
        c[3].metric("Data mismatch", pct(parts["data_mismatch"]))
        levels, gaps = D.waterfall_levels(human, e["train"], e["dev"], train_dev=e["train_dev"])
        left, right = st.columns([1.25, 1])
        left.plotly_chart(plots.error_waterfall(levels, gaps, title="Avoidable bias, variance and data mismatch"),
                          key=f"{PAGE}.mm_waterfall")
        right.plotly_chart(plots.mismatch_scatter(mm.data, mm.grid), key=f"{PAGE}.mm_scatter")
        biggest = max(parts, key=parts.get)
        st.info(f"Largest gap: **{biggest.replace('_', ' ')}** ({pct(parts[biggest])}). "
                + ("Fix it by making training data more like the dev data (collect or synthesise it), not with "
                   "regularization." if biggest == "data_mismatch" else "Use the basic recipe in the next tab."),
                icon=":material/lightbulb:")
    else:
        st.plotly_chart(plots.mismatch_scatter(MM.mismatch_data(mm_cfg)) if mm_cfg else plots.mismatch_scatter({}),
                        key=f"{PAGE}.mm_preview")

# ---------------------------------------------------------------------- bias and variance

for k, v in {"human_pct": 0.0, "train_pct": 15.0, "dev_pct": 16.0}.items():
    st.session_state.setdefault(f"{PAGE}.{k}", v)


def set_errors(train: float, dev: float, human: float | None = None) -> None:
    """Button callback: fill the diagnosis (fractions in, percent widgets out)."""
    st.session_state[f"{PAGE}.train_pct"] = round(train * 100, 3)
    st.session_state[f"{PAGE}.dev_pct"] = round(dev * 100, 3)
    if human is not None:
        st.session_state[f"{PAGE}.human_pct"] = round(human * 100, 3)


def load_run(table: pd.DataFrame) -> None:
    rid = st.session_state.get(f"{PAGE}.run_pick")
    row = table[table["run_id"] == rid]
    if not row.empty:
        set_errors(float(row.iloc[0]["train_error"]), float(row.iloc[0]["dev_error"]))
        st.session_state[f"{PAGE}.loaded"] = D.run_label(row.iloc[0])


with tab_diag:
    st.markdown(
        "Human-level error stands in for the best error any model could reach. The distance from it to the "
        "training error is **avoidable bias**; the distance from training to dev error is **variance**. Work on "
        "the larger one. A gap counts as large when it is at least "
        f"{D.LARGE_GAP:.0%} (2 points) and at least {D.RELATIVE_GAP:.0%} of the other gap. **Try:** the course's "
        "four cases, then load one of your own tracked runs."
    )
    st.latex(r"\text{Avoidable bias} = \text{Training error} - \text{Human-level error}"
             r"\qquad \text{Variance} = \text{Dev error} - \text{Training error}")
    st.caption("The course's four cases (training error / dev error, human level ≈ 0 %): click one to fill it in.")
    cols = st.columns(4)
    for col, (name, (tr, dv, _)) in zip(cols, D.COURSE_CASES.items(), strict=True):
        col.button(f"{name} ({tr:.1%} / {dv:.0%})".replace(".0%", "%"), key=f"{PAGE}.preset.{name}",
                   on_click=set_errors, args=(tr, dv, 0.0), width="stretch", wrap=True)
    table = D.runs_with_errors(runs)
    with st.container(border=True):
        if table.empty:
            st.caption("No tracked run with final training and dev accuracy yet. Train something (for example in "
                       "the *Learning curves* tab, or on any other page) and it appears here.")
        else:
            c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
            c1.selectbox("Tracked run", table["run_id"], key=f"{PAGE}.run_pick",
                         format_func=lambda rid: D.run_label(table[table["run_id"] == rid].iloc[0]))
            c2.button("Load the run's errors", key=f"{PAGE}.load_run", on_click=load_run, args=(table,), width="stretch")
            if st.session_state.get(f"{PAGE}.loaded"):
                st.caption(f"Loaded: {st.session_state[f'{PAGE}.loaded']} (errors = 1 − accuracy).")
    c1, c2, c3 = st.columns(3)
    human_pct = c1.number_input("Human-level error (%)", step=0.5, format="%.2f", key=f"{PAGE}.human_pct")
    train_pct = c2.number_input("Training error (%)", step=0.5, format="%.2f", key=f"{PAGE}.train_pct")
    dev_pct = c3.number_input("Dev error (%)", step=0.5, format="%.2f", key=f"{PAGE}.dev_pct")
    bad = [name for name, v in (("human-level", human_pct), ("training", train_pct), ("dev", dev_pct)) if not 0 <= v <= 100]
    try:
        if bad:
            raise ValueError(f"The {' and '.join(bad)} error must be a percentage between 0 and 100")
        dx = D.diagnose(train_pct / 100, dev_pct / 100, human_pct / 100)
    except ValueError as exc:
        st.error(f"{exc}.", icon=":material/error:")
    else:
        left, right = st.columns([1, 1.3])
        with left:
            m1, m2 = st.columns(2)
            m1.metric("Avoidable bias", f"{dx['avoidable_bias'] * 100:.2f} pp")
            m2.metric("Variance", f"{dx['variance'] * 100:.2f} pp")
            show = st.success if dx["verdict"] == "well fitted" else st.warning
            show(f"Diagnosis: **{dx['verdict']}**.", icon=":material/stethoscope:")
            st.markdown("**What to try**\n" + "\n".join(f"- {a}" for a in dx["advice"]))
            for note in dx["notes"]:
                st.caption(note)
        levels, gaps = D.waterfall_levels(human_pct / 100, train_pct / 100, dev_pct / 100)
        right.plotly_chart(plots.error_waterfall(levels, gaps), key=f"{PAGE}.waterfall")

# ------------------------------------------------------------------------ learning curves


def render_curves(snap) -> None:
    rows = snap.metrics.get("learning_curve", [])
    if rows and not snap.done:
        st.plotly_chart(plots.learning_curve(rows, title="Learning curves (so far)"), key=f"{PAGE}.curve_live")
    live_lanes(snap, skip=("learning_curve",))


with tab_curves:
    st.markdown(
        "The same network, the same initial weights and the same number of steps, trained on bigger and bigger "
        "parts of the training set; the dev set stays fixed. A wide gap between the curves that closes slowly "
        "means variance (more data helps); two curves that meet high above human level mean bias (more data "
        "does not help; a bigger network does). **Try:** a tiny network (8 units) against a large one (128 units)."
    )
    c1, c2, c3 = st.columns(3)
    lc_data = c1.selectbox("Dataset for the learning curves", offline_names("image") + offline_names("points"),
                           format_func=lambda k: DATASETS[k].description, key=f"{PAGE}.lc_data")
    lc_sizes = c1.text_input("Training-set sizes", "25, 50, 100, 200, 400, 800, 1200", key=f"{PAGE}.lc_sizes",
                             help="Whole numbers separated by commas. Each size is one tracked run.")
    lc_hidden = c2.selectbox("Hidden units (learning curves)", list(HIDDEN_CHOICES), index=4, key=f"{PAGE}.lc_hidden")
    lc_steps = c2.select_slider("Steps per size", [50, 100, 200, 300, 500, 1000, 2000], 300, key=f"{PAGE}.lc_steps")
    lc_lr = c3.select_slider("Learning rate (learning curves)", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], 3e-3,
                             format_func=lambda v: f"{v:g}", key=f"{PAGE}.lc_lr")
    lc_go = c3.button("Train the learning curves", type="primary", disabled=jobs.is_active(JOB_CURVES), key=f"{PAGE}.lc_go")
    if lc_go:
        try:
            lc_cfg = X.LearningCurveConfig(dataset=lc_data, sizes=X.parse_sizes(lc_sizes), hidden=HIDDEN_CHOICES[lc_hidden],
                                           steps=lc_steps, lr=lc_lr, seed=shell.global_seed())
        except ValueError as exc:
            st.error(f"Cannot start: {exc}.")
        else:
            start_once(JOB_CURVES, X.run_learning_curves, lc_cfg, name="learning curves")
    jobs.panel(JOB_CURVES, render_curves)
    lc = st.session_state.get(f"{JOB_CURVES}.result")
    if lc is not None and lc.points:
        st.plotly_chart(plots.learning_curve(lc.points, title=f"Learning curves (dev set: {lc.dev_size:,} examples)"),
                        key=f"{PAGE}.curve")
        pts = pd.DataFrame(lc.points)
        last = lc.points[-1]
        st.caption(f"At the largest size: training error {pct(last['train_error'])}, dev error {pct(last['dev_error'])}, "
                   f"gap {pct(last['dev_error'] - last['train_error'])}. Load any of these runs in the *Bias and "
                   f"variance* tab. Comparison tag `{lc.comparison}`.")
        st.dataframe(pts, hide_index=True, width="stretch", column_config={
            "train_error": st.column_config.NumberColumn("train error", format="percent"),
            "dev_error": st.column_config.NumberColumn("dev error", format="percent")})
        st.download_button("Download the learning curves (CSV)", pts.to_csv(index=False).encode(), "learning_curves.csv",
                           "text/csv", key=f"{PAGE}.curve_csv")

# -------------------------------------------------------------------------------- metrics


def best_threshold(curve) -> None:
    st.session_state[f"{PAGE}.threshold"] = math.floor(M.best_f1_threshold(curve) * 1000) / 1000


with tab_metric:
    st.subheader("One number to compare models")
    st.markdown(
        "A classifier that says *is it a 3?* can be tuned by its **threshold**: predict \"3\" when its score is at "
        "least the threshold. A high threshold gives few false alarms (high **precision**) but misses 3s (low "
        "**recall**); a low one the opposite. **F1**, the harmonic mean of the two, turns the pair into the single "
        "number you can rank models by. **Try:** slide the threshold and watch the point move along the curve."
    )
    st.latex(r"P = \frac{TP}{TP + FP} \qquad R = \frac{TP}{TP + FN} \qquad F_1 = \frac{2PR}{P + R}")
    c1, c2, c3, c4 = st.columns(4, vertical_alignment="bottom")
    bin_pos = c1.selectbox("Positive digit", list(range(10)), index=3, key=f"{PAGE}.bin_pos")
    bin_hidden = c2.selectbox("Hidden units (classifier)", list(HIDDEN_CHOICES), index=2, key=f"{PAGE}.bin_hidden")
    bin_epochs = c3.slider("Epochs (classifier)", 1, 30, 5, key=f"{PAGE}.bin_epochs")
    if c4.button("Train the classifier", type="primary", disabled=jobs.is_active(JOB_METRIC), key=f"{PAGE}.bin_go"):
        start_once(JOB_METRIC, X.run_binary, X.BinaryConfig(positive=bin_pos, hidden=HIDDEN_CHOICES[bin_hidden],
                                                            epochs=bin_epochs, seed=shell.global_seed()), name="binary classifier")
    jobs.panel(JOB_METRIC, live_lanes)
    br = st.session_state.get(f"{JOB_METRIC}.result")
    if br is not None and len(br.y_true):
        curve = M.pr_curve(br.y_true, br.scores)
        st.session_state.setdefault(f"{PAGE}.threshold", 0.5)
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        thr = c1.slider("Decision threshold", 0.0, 1.0, step=0.001, format="%.3f", key=f"{PAGE}.threshold")
        c2.button("Use the threshold with the best F1", key=f"{PAGE}.best_thr", on_click=best_threshold, args=(curve,))
        m = M.precision_recall_f1(br.y_true, br.scores, thr)
        cols = st.columns(4)
        for col, name in zip(cols, ("precision", "recall", "f1", "accuracy"), strict=True):
            col.metric(name.capitalize() if name != "f1" else "F1", f"{m[name]:.3f}")
        st.caption(f"Dev set: {len(br.y_true)} digits, {int(br.y_true.sum())} of them {br.positive}s. At this threshold: "
                   f"TP {m['tp']}, FP {m['fp']}, FN {m['fn']}, TN {m['tn']}.")
        left, right = st.columns(2)
        left.plotly_chart(plots.pr_view(curve, m, title=f"Precision–recall: is it a {br.positive}?"), key=f"{PAGE}.pr")
        right.plotly_chart(plots.threshold_sweep(curve, thr), key=f"{PAGE}.sweep")
        pr_csv = pd.DataFrame(curve).to_csv(index=False).encode()
        st.download_button("Download precision and recall per threshold (CSV)", pr_csv, "precision_recall.csv",
                           "text/csv", key=f"{PAGE}.pr_csv")

    st.subheader("Optimizing and satisficing")
    st.markdown(
        "With several things you care about, optimize one and only *satisfice* the others: pick the most "
        "accurate model (optimizing metric) among those fast enough (satisficing metric). Every tracked run of "
        "the lab records its dev accuracy and its inference time per example. **Try:** train the candidates, "
        "then lower the time limit and watch the choice move to a smaller network."
    )
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    cand = c1.multiselect("Candidate networks", list(CANDIDATES), default=["16", "64", "256×256", "1024×1024"],
                          key=f"{PAGE}.cand")
    cand_data = c2.selectbox("Dataset for the candidates", list(X.IMAGE_SETS), key=f"{PAGE}.cand_data")
    if c3.button("Train candidate networks", disabled=jobs.is_active(JOB_CANDIDATES), key=f"{PAGE}.cand_go"):
        try:
            cand_cfg = X.CandidatesConfig(dataset=cand_data, architectures=tuple(CANDIDATES[c] for c in cand),
                                          seed=shell.global_seed())
        except ValueError as exc:
            st.error(f"Cannot start: {exc}.")
        else:
            start_once(JOB_CANDIDATES, X.run_candidates, cand_cfg, name="candidate networks")
    jobs.panel(JOB_CANDIDATES, live_lanes)
    candidates = M.candidate_runs(runs)
    if not candidates.empty:
        scopes = M.candidate_scopes(candidates)
        newest = next((sc for sc in scopes if sc.startswith("comparison: ")), None)
        if newest and st.session_state.get(f"{PAGE}.cand_newest") != newest:  # new candidates: show them
            st.session_state[f"{PAGE}.cand_newest"] = st.session_state[f"{PAGE}.cand_scope"] = newest
        scope = st.selectbox("Choose among", scopes, key=f"{PAGE}.cand_scope",
                             help="Accuracies are only comparable on the same task: by default the newest group of "
                                  "candidate networks.")
        candidates = M.in_scope(candidates, scope)
    if candidates.empty:
        st.info("No tracked run has both a dev accuracy and an inference time yet. Train the candidates above.",
                icon=":material/info:")
    else:
        us = candidates["ms_per_example"] * 1000
        ids = tuple(candidates["run_id"])
        if st.session_state.get(f"{PAGE}.limit_for") != ids:  # other runs to choose from: start at their median
            st.session_state[f"{PAGE}.limit_for"] = ids
            st.session_state[f"{PAGE}.limit_us"] = math.ceil(float(us.median()) * 1000) / 1000
        limit_us = st.number_input("Inference-time limit (µs per example)", min_value=0.0, format="%.3f",
                                   step=max(math.ceil(float(us.median()) * 250) / 1000, 0.001), key=f"{PAGE}.limit_us")
        ranked, chosen = M.select_satisficing(candidates, limit_us / 1000)
        if chosen is None:
            st.warning(f"No run is that fast: the fastest needs {us.min():.3g} µs per example. Raise the limit.")
        else:
            best = ranked[ranked["run_id"] == chosen].iloc[0]
            st.success(f"Chosen: **{best['run_name']}** ({best['experiment']}) with dev accuracy "
                       f"{pct(best['dev_accuracy'])} at {best['ms_per_example'] * 1000:.3g} µs per example: the most "
                       f"accurate of the {int(ranked['feasible'].sum())} run(s) within {limit_us:.3g} µs.")
        st.plotly_chart(plots.satisficing_scatter(ranked, limit_us / 1000, chosen), key=f"{PAGE}.satisficing")
        shown = ranked.assign(us_per_example=ranked["ms_per_example"] * 1000, chosen=ranked["run_id"] == chosen)
        shown = shown[["run_name", "experiment", "dev_accuracy", "us_per_example", "feasible", "chosen", "run_id",
                       "comparison"]]
        st.dataframe(shown, hide_index=True, width="stretch", column_config={
            "dev_accuracy": st.column_config.NumberColumn("dev accuracy", format="percent"),
            "us_per_example": st.column_config.NumberColumn("µs / example", format="%.4f")})
        st.caption("Times are measured on this machine (best of 3 passes over the dev set) and vary a little "
                   "between runs; compare runs timed on the same device.")
        st.download_button("Download the candidates (CSV)", shown.to_csv(index=False).encode(), "satisficing.csv", "text/csv",
                           key=f"{PAGE}.cand_csv")

# ------------------------------------------------------------------------- error analysis


def add_category() -> None:
    cats = st.session_state.get(f"{PAGE}.categories", EA.BUILTIN_CATEGORIES)
    try:
        st.session_state[f"{PAGE}.categories"] = EA.add_category(cats, st.session_state.get(f"{PAGE}.new_cat", ""))
        st.session_state[f"{PAGE}.new_cat"] = ""
        st.session_state.pop(f"{PAGE}.cat_error", None)
    except ValueError as exc:
        st.session_state[f"{PAGE}.cat_error"] = f"{str(exc)[0].upper()}{str(exc)[1:]}."


def save_tags(run_id: str, table: pd.DataFrame, counts: pd.DataFrame) -> None:
    try:
        tracking.annotate_run(run_id, tags=EA.summary_tag(counts, len(table)), text=EA.to_csv(table),
                              name="error_analysis.csv")
        st.session_state[f"{PAGE}.saved"] = ("success", "Saved: the tags are kept with the run as error_analysis.csv.")
    except Exception as exc:  # noqa: BLE001 - a store failure is shown, never raised
        st.session_state[f"{PAGE}.saved"] = ("error", store_error_message(exc, tracking.tracking_uri()))


with tab_errors:
    st.markdown(
        "Before spending a month on a fix, look at the mistakes. Train a classifier, then go through its "
        "misclassified dev digits and tick what went wrong with each. The share of errors in a category is the "
        "**ceiling** on what fixing that category can gain. **Try:** add a category of your own (e.g. *thick "
        "stroke*), tick, and see which fix is worth it."
    )
    c1, c2, c3, c4 = st.columns(4, vertical_alignment="bottom")
    ea_data = c1.selectbox("Dataset to analyse", list(X.IMAGE_SETS), key=f"{PAGE}.ea_data",
                           format_func=lambda k: DATASETS[k].description)
    ea_hidden = c2.selectbox("Hidden units (error analysis)", list(HIDDEN_CHOICES), index=3, key=f"{PAGE}.ea_hidden")
    ea_epochs = c3.slider("Epochs (error analysis)", 1, 30, 5, key=f"{PAGE}.ea_epochs")
    ea_max = c4.slider("Misclassified examples to show", 10, 100, 60, 10, key=f"{PAGE}.ea_max")
    if st.button("Train a classifier to analyse", type="primary", disabled=jobs.is_active(JOB_ERRORS), key=f"{PAGE}.ea_go"):
        start_once(JOB_ERRORS, X.run_error_model, X.ErrorModelConfig(dataset=ea_data, hidden=HIDDEN_CHOICES[ea_hidden],
                   epochs=ea_epochs, max_examples=ea_max, seed=shell.global_seed()), name="error analysis classifier")
    jobs.panel(JOB_ERRORS, live_lanes)
    er = st.session_state.get(f"{JOB_ERRORS}.result")
    if er is not None and er.run_id and not math.isnan(er.dev_error):
        st.markdown(f"Dev error **{pct(er.dev_error)}**: {er.n_errors} of {er.dev_size:,} dev examples are wrong; "
                    f"the {len(er.examples)} most confident mistakes are shown.")
        if er.examples:
            st.image([X.upscale(img, 64) for img in er.images],
                     caption=[f"#{e['example']}: {e['true']} → {e['predicted']}" for e in er.examples], width="content")
            st.caption("Each image: #example: true label → predicted label.")
            cats = st.session_state.setdefault(f"{PAGE}.categories", EA.BUILTIN_CATEGORIES)
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            c1.text_input("New category", key=f"{PAGE}.new_cat", placeholder="e.g. thick stroke")
            c2.button("Add category", key=f"{PAGE}.add_cat", on_click=add_category, width="stretch")
            if st.session_state.get(f"{PAGE}.cat_error"):
                st.error(st.session_state[f"{PAGE}.cat_error"])
            store = st.session_state.setdefault(f"{PAGE}.ea_tables", {})
            entry = store.get(er.run_id)
            if entry is None or entry["cats"] != tuple(cats):  # new columns: start a new editor from the last ticks
                ver = entry["ver"] + 1 if entry else 0
                base = EA.tag_table(er.examples, cats, previous=entry["latest"] if entry else None)
                entry = store[er.run_id] = {"cats": tuple(cats), "base": base, "latest": base, "ver": ver}
            edited = st.data_editor(
                entry["base"], key=f"{PAGE}.ea_editor.{er.run_id}.{entry['ver']}", hide_index=True, width="stretch",
                disabled=list(EA.FIXED_COLUMNS), column_config={
                    "example": st.column_config.NumberColumn(width="small"),
                    "true": st.column_config.TextColumn(width="small"),
                    "predicted": st.column_config.TextColumn(width="small"),
                    "confidence": st.column_config.NumberColumn(format="%.2f", width="small"),
                    **{c: st.column_config.CheckboxColumn(c) for c in cats}})
            entry["latest"] = edited
            counts = EA.tally(edited, cats, er.dev_error)
            todo = EA.untagged(edited, cats)
            if int(counts["errors"].sum()) == 0:
                st.info("Tick at least one category in the table to see the tally.", icon=":material/checklist:")
            else:
                st.plotly_chart(plots.tally_bars(counts, er.dev_error), key=f"{PAGE}.tally")
                st.markdown("\n".join(f"- {EA.ceiling_sentence(r, er.dev_error)}" for r in counts.to_dict("records")
                                      if r["errors"]))
                if todo:
                    st.caption(f"{todo} example(s) have no category yet; an example may have several.")
            c1, c2 = st.columns(2)
            c1.button("Save the tags with the run", key=f"{PAGE}.save_tags", on_click=save_tags,
                      args=(er.run_id, edited, counts), width="stretch")
            c2.download_button("Download the tags (CSV)", EA.to_csv(edited).encode(), "error_analysis.csv", "text/csv",
                               key=f"{PAGE}.tags_csv", width="stretch")
            saved = st.session_state.pop(f"{PAGE}.saved", None)
            if saved:
                getattr(st, saved[0])(saved[1])

# ---------------------------------------------------------------------- orthogonalization

with tab_ortho:
    st.markdown(
        "Tune one thing at a time. The goals form a chain: first fit the training set, then the dev set, then the "
        "test set, then do well in the real world. Each goal has its own knobs, and a good knob moves only its "
        "goal. When a goal fails, reach for *its* knobs. **Early stopping** is the exception: stopping sooner fits "
        "the training set worse *and* changes the dev fit, so it moves two goals at once; prefer separate knobs "
        "(train longer, then regularize)."
    )
    st.plotly_chart(plots.orthogonalization(O.GOALS, O.ENTANGLED), key=f"{PAGE}.ortho")
    st.dataframe(pd.DataFrame(O.knob_table()), hide_index=True, width="stretch")
