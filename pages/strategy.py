"""ML strategy: split the data, read bias and variance, pick a metric, analyse errors."""

import streamlit as st
from ui.auth import current_user

from core.data.toy import TOY_KINDS
from core.plots import strategy as plots
from core.plots.training import lane_curves
from core.strategy import diagnosis as D
from core.strategy import errors as EA
from core.strategy import experiments as X
from core.strategy import metrics as M
from core.strategy import mismatch as MM
from core.strategy import orthogonal as O
from core.strategy import splits as S
from ui import jobs, shell
from ui import strategy_views as V
from ui.tables import csv_button, table_with_csv

PAGE = "strategy"
JOB_MISMATCH, JOB_CURVES, JOB_METRIC, JOB_CANDIDATES, JOB_ERRORS = (
    f"{PAGE}.mismatch", f"{PAGE}.curves", f"{PAGE}.metric", f"{PAGE}.candidates", f"{PAGE}.errors")
HIDDEN = X.HIDDEN_CHOICES


def start_once(key: str, fn, cfg, name: str) -> None:
    """Start the job unless this session's job for ``key`` is still going (a double click)."""
    if jobs.is_active(key):
        st.toast("That training is still running; wait for it or press Stop.")
    else:
        jobs.start(key, fn, cfg, name=name)


def live_lanes(snap, skip: tuple[str, ...] = ()) -> None:
    """Loss per step of every lane of a running job."""
    lanes = X.live_series(snap.metrics, skip)
    if lanes and not snap.done:
        st.plotly_chart(lane_curves(lanes, smoothing=X.live_smoothing(lanes)), key=f"{snap.page}.live_loss")


def job_button(where, label: str, job: str, fn, make_cfg, name: str, *, key: str, primary: bool = True,
               disabled: bool = False, render=live_lanes):
    """A button that starts ``fn`` on ``make_cfg()`` as the job ``job`` (a plain message when the settings
    are invalid), then the job's panel; returns the job's last result (or None)."""
    if where.button(label, type="primary" if primary else "secondary", disabled=disabled or jobs.is_active(job),
                    key=f"{PAGE}.{key}"):
        try:
            cfg = make_cfg()
        except ValueError as exc:
            st.error(f"Cannot start: {exc}.")
        else:
            start_once(job, fn, cfg, name=name)
    jobs.panel(job, render)
    return st.session_state.get(f"{job}.result")


st.title("ML strategy")
st.markdown(
    "Training is only half the work; the other half is deciding **what to try next**. This page turns that "
    "decision into numbers: how to split the data, how far training and dev errors are from human level, "
    "which single metric to optimize, and which kind of mistake is worth fixing. Every training here is small, "
    "real and tracked, so you can bring its numbers into the diagnosis."
)
runs, store_error = X.load_runs(current_user())
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
        plan = S.plan_split(int(n))
    except ValueError as exc:
        st.error(str(exc))
    else:
        V.metric_row(S.split_cards(plan), delta_color="off", delta_arrow="off")
        st.caption(S.rule_caption(plan))
        st.plotly_chart(plots.split_rule(*S.share_curve(), mark=int(n)), key=f"{PAGE}.split_rule")
        csv_button(st, "Download the split (CSV)", S.split_table(plan), "split_plan.csv", f"{PAGE}.split_csv")

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
                                  hidden=HIDDEN[mm_hidden], epochs=mm_epochs, seed=shell.global_seed())
    except ValueError as exc:
        st.error(str(exc))
        mm_cfg = None
    mm = job_button(st, "Train the mismatch demo", JOB_MISMATCH, MM.run_mismatch, lambda: mm_cfg, "data mismatch demo",
                    key="mm_go", disabled=mm_cfg is None)
    if mm is not None and mm.errors:
        human = st.number_input("Human-level error for the toy set (%)", 0.0, 100.0, 0.0, 0.5, key=f"{PAGE}.mm_human")
        report = D.mismatch_report(mm.errors, human)
        V.metric_row(report.cards)
        left, right = st.columns([1.25, 1])
        left.plotly_chart(plots.error_waterfall(report.levels, report.gaps, title="Avoidable bias, variance and data "
                                                "mismatch"), key=f"{PAGE}.mm_waterfall")
        right.plotly_chart(plots.mismatch_scatter(mm.data, mm.grid), key=f"{PAGE}.mm_scatter")
        st.info(report.advice, icon=":material/lightbulb:")
    else:
        st.plotly_chart(plots.mismatch_scatter(MM.mismatch_data(mm_cfg) if mm_cfg else {}), key=f"{PAGE}.mm_preview")

# ---------------------------------------------------------------------- bias and variance

for k, v in D.DEFAULT_PERCENTS.items():
    st.session_state.setdefault(f"{PAGE}.{k}", v)


def set_errors(train: float, dev: float, human: float | None = None) -> None:
    """Button callback: fill the diagnosis (fractions in, percent widgets out)."""
    for k, v in D.percent_fields(train, dev, human).items():
        st.session_state[f"{PAGE}.{k}"] = v


def load_run(table) -> None:
    """Button callback: fill the diagnosis with the errors of the picked tracked run."""
    found = D.run_errors(table, st.session_state.get(f"{PAGE}.run_pick"))
    if found is not None:
        set_errors(found[0], found[1])
        st.session_state[f"{PAGE}.loaded"] = found[2]


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
    for col, (name, (tr, dv, _)) in zip(st.columns(4), D.COURSE_CASES.items(), strict=True):
        col.button(D.preset_label(name, tr, dv), key=f"{PAGE}.preset.{name}", on_click=set_errors, args=(tr, dv, 0.0),
                   width="stretch", wrap=True)
    table = D.runs_with_errors(runs)
    with st.container(border=True):
        if table.empty:
            st.caption("No tracked run with final training and dev accuracy yet. Train something (for example in "
                       "the *Learning curves* tab, or on any other page) and it appears here.")
        else:
            labels = D.run_labels(table)
            c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
            c1.selectbox("Tracked run", table["run_id"], key=f"{PAGE}.run_pick", format_func=lambda rid: labels[rid])
            c2.button("Load the run's errors", key=f"{PAGE}.load_run", on_click=load_run, args=(table,), width="stretch")
            if st.session_state.get(f"{PAGE}.loaded"):
                st.caption(f"Loaded: {st.session_state[f'{PAGE}.loaded']} (errors = 1 − accuracy).")
    c1, c2, c3 = st.columns(3)
    human_pct = c1.number_input("Human-level error (%)", step=0.5, format="%.2f", key=f"{PAGE}.human_pct")
    train_pct = c2.number_input("Training error (%)", step=0.5, format="%.2f", key=f"{PAGE}.train_pct")
    dev_pct = c3.number_input("Dev error (%)", step=0.5, format="%.2f", key=f"{PAGE}.dev_pct")
    try:
        dx = D.diagnose_percent(human_pct, train_pct, dev_pct)
    except ValueError as exc:
        st.error(f"{exc}.", icon=":material/error:")
    else:
        left, right = st.columns([1, 1.3])
        with left:
            V.metric_row(D.gap_cards(dx))
            show = st.success if dx["verdict"] == "well fitted" else st.warning
            show(f"Diagnosis: **{dx['verdict']}**.", icon=":material/stethoscope:")
            st.markdown(D.advice_markdown(dx))
            for note in dx["notes"]:
                st.caption(note)
        right.plotly_chart(plots.error_waterfall(*D.percent_waterfall(human_pct, train_pct, dev_pct)),
                           key=f"{PAGE}.waterfall")

# ------------------------------------------------------------------------ learning curves


def render_curves(snap) -> None:
    """Live: the learning curves so far, then the loss of the lane that is training."""
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
    lc_data = c1.selectbox("Dataset for the learning curves", X.curve_datasets(), format_func=X.dataset_label,
                           key=f"{PAGE}.lc_data")
    lc_sizes = c1.text_input("Training-set sizes", "25, 50, 100, 200, 400, 800, 1200", key=f"{PAGE}.lc_sizes",
                             help="Whole numbers separated by commas. Each size is one tracked run.")
    lc_hidden = c2.selectbox("Hidden units (learning curves)", list(HIDDEN), index=4, key=f"{PAGE}.lc_hidden")
    lc_steps = c2.select_slider("Steps per size", [50, 100, 200, 300, 500, 1000, 2000], 300, key=f"{PAGE}.lc_steps")
    lc_lr = c3.select_slider("Learning rate (learning curves)", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], 3e-3,
                             format_func=lambda v: f"{v:g}", key=f"{PAGE}.lc_lr")
    lc = job_button(c3, "Train the learning curves", JOB_CURVES, X.run_learning_curves, lambda: X.LearningCurveConfig(
        dataset=lc_data, sizes=X.parse_sizes(lc_sizes), hidden=HIDDEN[lc_hidden], steps=lc_steps, lr=lc_lr,
        seed=shell.global_seed()), "learning curves", key="lc_go", render=render_curves)
    if lc is not None and lc.points:
        st.plotly_chart(plots.learning_curve(lc.points, title=f"Learning curves (dev set: {lc.dev_size:,} examples)"),
                        key=f"{PAGE}.curve")
        st.caption(X.curve_caption(lc))
        table_with_csv(X.points_table(lc), "Download the learning curves (CSV)", "learning_curves.csv", f"{PAGE}.curve_csv",
                         column_config={"train_error": st.column_config.NumberColumn("train error", format="percent"),
                                        "dev_error": st.column_config.NumberColumn("dev error", format="percent")})

# -------------------------------------------------------------------------------- metrics


def best_threshold(curve) -> None:
    """Button callback: move the threshold slider to the best F1."""
    st.session_state[f"{PAGE}.threshold"] = M.best_f1_slider_value(curve)


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
    bin_hidden = c2.selectbox("Hidden units (classifier)", list(HIDDEN), index=2, key=f"{PAGE}.bin_hidden")
    bin_epochs = c3.slider("Epochs (classifier)", 1, 30, 5, key=f"{PAGE}.bin_epochs")
    br = job_button(c4, "Train the classifier", JOB_METRIC, X.run_binary, lambda: X.BinaryConfig(
        positive=bin_pos, hidden=HIDDEN[bin_hidden], epochs=bin_epochs, seed=shell.global_seed()), "binary classifier",
        key="bin_go")
    if br is not None and len(br.y_true):
        curve = M.pr_curve(br.y_true, br.scores)
        st.session_state.setdefault(f"{PAGE}.threshold", 0.5)
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        thr = c1.slider("Decision threshold", 0.0, 1.0, step=0.001, format="%.3f", key=f"{PAGE}.threshold")
        c2.button("Use the threshold with the best F1", key=f"{PAGE}.best_thr", on_click=best_threshold, args=(curve,))
        m = M.precision_recall_f1(br.y_true, br.scores, thr)
        V.metric_row(M.metric_cards(m))
        st.caption(M.confusion_caption(br.y_true, br.positive, m))
        left, right = st.columns(2)
        left.plotly_chart(plots.pr_view(curve, m, title=f"Precision–recall: is it a {br.positive}?"), key=f"{PAGE}.pr")
        right.plotly_chart(plots.threshold_sweep(curve, thr), key=f"{PAGE}.sweep")
        csv_button(st, "Download precision and recall per threshold (CSV)", M.curve_table(curve), "precision_recall.csv",
                     f"{PAGE}.pr_csv")

    st.subheader("Optimizing and satisficing")
    st.markdown(
        "With several things you care about, optimize one and only *satisfice* the others: pick the most "
        "accurate model (optimizing metric) among those fast enough (satisficing metric). Every tracked run of "
        "the lab records its dev accuracy and its inference time per example. **Try:** train the candidates, "
        "then lower the time limit and watch the choice move to a smaller network."
    )
    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    cand = c1.multiselect("Candidate networks", list(X.CANDIDATE_NETS), default=list(X.CANDIDATE_DEFAULT),
                          key=f"{PAGE}.cand")
    cand_data = c2.selectbox("Dataset for the candidates", list(X.IMAGE_SETS), key=f"{PAGE}.cand_data")
    job_button(c3, "Train candidate networks", JOB_CANDIDATES, X.run_candidates, lambda: X.CandidatesConfig(
        dataset=cand_data, architectures=tuple(X.CANDIDATE_NETS[c] for c in cand), seed=shell.global_seed()),
        "candidate networks", key="cand_go", primary=False)
    V.satisficing(runs)

# ------------------------------------------------------------------------- error analysis

with tab_errors:
    st.markdown(
        "Before spending a month on a fix, look at the mistakes. Train a classifier, then go through its "
        "misclassified dev digits and tick what went wrong with each. The share of errors in a category is the "
        "**ceiling** on what fixing that category can gain. **Try:** add a category of your own (e.g. *thick "
        "stroke*), tick, and see which fix is worth it."
    )
    c1, c2, c3, c4 = st.columns(4, vertical_alignment="bottom")
    ea_data = c1.selectbox("Dataset to analyse", list(X.IMAGE_SETS), key=f"{PAGE}.ea_data", format_func=X.dataset_label)
    ea_hidden = c2.selectbox("Hidden units (error analysis)", list(HIDDEN), index=3, key=f"{PAGE}.ea_hidden")
    ea_epochs = c3.slider("Epochs (error analysis)", 1, 30, 5, key=f"{PAGE}.ea_epochs")
    ea_max = c4.slider("Misclassified examples to show", 10, 100, 60, 10, key=f"{PAGE}.ea_max")
    er = job_button(st, "Train a classifier to analyse", JOB_ERRORS, X.run_error_model, lambda: X.ErrorModelConfig(
        dataset=ea_data, hidden=HIDDEN[ea_hidden], epochs=ea_epochs, max_examples=ea_max, seed=shell.global_seed()),
        "error analysis classifier", key="ea_go")
    if er is not None and X.analysable(er):
        st.markdown(EA.error_summary(er.dev_error, er.n_errors, er.dev_size, len(er.examples)))
        if er.examples:
            V.error_tagging(er)

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
    st.dataframe(O.knob_frame(), hide_index=True, width="stretch")
