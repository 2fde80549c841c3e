"""The Runs page's answers beyond one run: mean ± std over seeds, which settings mattered, images step by step.

The page (:mod:`ui.runs.page`) hands in the selected runs and the loaders it caches; the math lives in
:mod:`core.runs`, the figures in :mod:`core.plots.runs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd
import streamlit as st

from core import runs as R
from core import tracking
from core.plots import runs as plots

MAX_SEED_RUNS = 40
SEEDS_INTRO = (
    "Runs whose settings are all equal except the seed form one group. The line is the group's mean at "
    "each step, the shaded band ± one standard deviation across its seeds (a group of one run has no band). "
    "Try it: train the same set-up with seeds 0, 1 and 2 (the form's *Seed* or the sidebar's global seed), "
    "do the same for a second set-up, select all six runs, and check whether the gap between the two lines "
    "is larger than the bands — if not, the change may be luck."
)
IMPORTANCE_INTRO = (
    "Each bar is the share of the run-to-run spread of **{metric}** that one setting explains on its own, "
    "from 0 (nothing) to 1 (all of it): η² for a setting with named values (how far apart the group means "
    "are), R² of a straight line for a numeric one (on a log scale when it spans decades, like a learning "
    "rate). Settings are scored one at a time, so two settings changed together share the credit, and with "
    "a handful of runs a high score can be luck: it tells you where to look, not what causes what. Try it: "
    "run a small sweep (say three learning rates × two optimizers) and see which setting tops the list."
)
STEPS_INTRO = (
    "Images logged with a step in their name (a GAN's samples after each epoch, for example), side by side. "
    "Slide through the steps: each run shows its latest image at or before the chosen step."
)

History = Callable[[str, str], pd.DataFrame]


def seeds_tab(selected: pd.DataFrame, history: History) -> None:
    """Mean ± std curves of the groups of :func:`core.runs.seed_groups`, and their final values."""
    st.caption(SEEDS_INTRO)
    metrics = R.key_metrics(selected, limit=10_000)
    if not metrics:
        st.info("The selected runs logged no metrics.")
        return
    groups = R.seed_groups(selected)
    seeds = R.seed_params(selected)
    if not seeds:
        st.info("None of the selected runs logged a seed, so only runs with identical settings are grouped.")
    if groups["n"].max() < 2:
        st.info("Each selected run has settings of its own: no group has two seeds yet. Select runs that share "
                "every setting but the seed to see a band.")
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    metric = c1.selectbox("Metric", metrics, key="runs.seed_metric")
    log_y = c2.toggle("Log scale", key="runs.seed_log_y")
    ids = [rid for group in groups["run_ids"] for rid in group][:MAX_SEED_RUNS]
    if sum(groups["n"]) > MAX_SEED_RUNS:
        st.caption(f"Curves of the first {MAX_SEED_RUNS} runs.")
    has = set(selected.loc[selected[R.METRIC + metric].notna(), "run_id"]) if R.METRIC + metric in selected else set()
    try:
        stats = {
            label: R.mean_std_by_step([history(rid, metric) for rid in run_ids if rid in has and rid in ids])
            for label, run_ids in zip(groups["label"], groups["run_ids"], strict=True)
        }
    except Exception as exc:  # noqa: BLE001 - the store went away meanwhile
        st.error(tracking.store_error_message(exc, tracking.tracking_uri()))
        return
    st.plotly_chart(plots.seed_bands(stats, metric, log_y=log_y), key="runs.seed_curves", theme=None)
    shown = [metric, *[m for m in R.key_metrics(selected, 4) if m != metric]]
    summary = R.seed_summary(selected, groups, shown)
    table = pd.DataFrame({"Group": groups["label"], "Runs": groups["n"],
                          "Seeds": [", ".join(s) for s in groups["seeds"]]})
    for m in shown:
        part = summary[summary["metric"] == m]
        table[f"{m} (mean ± std)"] = [R.format_mean_std(a, b) for a, b in zip(part["mean"], part["std"], strict=True)]
    st.dataframe(table, hide_index=True)
    st.caption("Final values per group: mean ± sample standard deviation over the group's runs (n − 1 in the "
               f"denominator); {better(metric)}.")


def better(metric: str) -> str:
    return f"for {metric} {'lower' if R.metric_direction(metric) == 'min' else 'higher'} is better"


def importance_tab(selected: pd.DataFrame, filtered: pd.DataFrame) -> None:
    """Which settings moved a metric most, over the selected runs or all filtered runs of one page."""
    scope = st.radio("Runs to explain", ["All filtered runs of one page", "Only the selected runs"],
                     horizontal=True, key="runs.imp_scope")
    base = selected
    if scope.startswith("All"):
        pages = R.page_of(filtered)
        options = list(pages.value_counts().index)
        usual = R.page_of(selected).mode()
        page = st.selectbox("Page", options, index=options.index(usual.iloc[0]) if len(usual) and usual.iloc[0]
                            in options else 0, key="runs.imp_page")
        base = filtered[pages == page].reset_index(drop=True)
    metrics = R.key_metrics(base, limit=10_000)
    if not metrics:
        st.info("These runs logged no metrics.")
        return
    metric = st.selectbox("Metric", metrics, key="runs.imp_metric")
    try:
        scores = R.param_importance(base, metric)
    except ValueError as exc:
        st.info(f"{exc} Train a few more runs with different settings, then come back.")
        return
    st.markdown(IMPORTANCE_INTRO.format(metric=metric))
    st.plotly_chart(plots.importance_bars(scores, metric), key="runs.importance", theme=None)
    unscored = scores[scores["score"].isna()]
    if len(unscored):
        st.caption("Not scored: " + "; ".join(f"{p} ({n})" for p, n in zip(unscored["param"], unscored["note"],
                                                                            strict=True)) + ".")
    n = int(pd.to_numeric(base[R.METRIC + metric], errors="coerce").notna().sum())
    st.caption(f"Scored over the {n} runs that have a final {metric}; {better(metric)}.")


def stepped_images(shown: pd.DataFrame, found: Mapping[str, Sequence[tuple[str, bytes]]]) -> set[str]:
    """Runs' stepped images side by side on one step slider; returns the series drawn (so the plain
    listing can leave them out)."""
    by_series = R.images_by_step(found)
    if not by_series:
        return set()
    st.markdown("**Step by step**")
    st.caption(STEPS_INTRO)
    names = list(by_series)
    series = st.selectbox("Images", names, key="runs.img_series") if len(names) > 1 else names[0]
    runs = by_series[series]
    steps = sorted({s for per_run in runs.values() for s in per_run})
    if len(steps) > 1:
        picked = hash((series, tuple(shown["run_id"])))  # new runs or series: start again at the last step
        step = st.select_slider("Step", steps, value=steps[-1], key=f"runs.img_step.{picked}",
                                help="Each run shows its latest image at or before this step.")
    else:
        step = steps[0]
        st.caption(f"Every image of this series is from step {step}.")
    labels = R.run_labels(shown)
    having = shown[shown["run_id"].isin(runs)]
    if len(having) < len(shown):
        st.caption(f"{len(shown) - len(having)} of the {len(shown)} runs logged no {series} images.")
    columns = st.columns(max(len(having), 3))
    for col, (i, rid) in zip(columns, having["run_id"].items(), strict=False):
        with col:
            st.markdown(f"**{labels[i]}**")
            per_run = runs[rid]
            at = R.step_at_or_before(per_run, step)
            if at is None:
                st.caption(f"no image at or before step {step} (its first is at step {min(per_run)})")
            else:
                st.image(per_run[at], caption=f"{series} · step {at}", width="stretch")
    return set(by_series)
