"""The Runs page (``pages/runs.py``): every tracked training run of the lab, filtered, compared and exported."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import runs as R
from core import tracking
from core.identity import User
from core.plots import runs as plots
from ui import jobs
from ui.auth import current_user, sees_tracking_store
from ui.runs import insights

PAGE_SIZE = 50
MAX_CURVES = 25
MAX_IMAGE_RUNS = 6
MAX_IMAGES = 80  # per run: enough for a GAN's samples after every epoch
TABS = ["Curves", "Over seeds", "Params", "Parallel coordinates", "Importance", "Best", "Images"]
INTRO = (
    "Every training you start anywhere in the lab is recorded here: its settings, every metric at "
    "every step, and the images it produced. Use this page to answer the question that follows any "
    "experiment — *what actually made the difference?* Try it: start a race in the *Race on a real "
    "network* tab of the **Optimizers** page, come back, pick that race under *Add a comparison*, then "
    "compare the runs' loss curves (log scale and smoothing help), the params that differ between them, "
    "and which run reached the best value of each metric."
)
EMPTY = (
    "No runs yet. Train something on any page of the lab — for example start an optimizer "
    "race on the **Optimizers** page — and its runs will show up here to compare."
)


# the signed-in user is part of every cache key: core decides what each user may read
@st.cache_data(ttl=5, show_spinner="Reading the runs…")
def load_runs(uri: str, user: User) -> pd.DataFrame:
    return tracking.search_runs(uri=uri, user=user)


@st.cache_data(ttl=5, show_spinner=False)
def load_history(uri: str, run_id: str, key: str, user: User) -> pd.DataFrame:
    return tracking.metric_history(run_id, key, uri=uri, user=user)


@st.cache_data(ttl=300, show_spinner=False)
def load_images(uri: str, run_id: str, user: User) -> list[tuple[str, bytes]]:
    return tracking.image_artifacts(run_id, uri=uri, limit=MAX_IMAGES, user=user)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def better(metric: str) -> str:
    return "lower" if R.metric_direction(metric) == "min" else "higher"


def delete(run_ids: list[str], uri: str) -> None:
    """Button callback: delete, forget the cached list and the selection, leave a message."""
    try:
        n = tracking.delete_runs(run_ids, uri=uri, user=current_user())
        st.session_state["runs.flash"] = ("success", f"Deleted {plural(n, 'run')}.")
    except Exception as exc:  # noqa: BLE001 - a store failure is shown, not raised
        st.session_state["runs.flash"] = ("error", tracking.store_error_message(exc, uri))
    load_runs.clear()
    for key in ("runs.pick", "runs.group", "runs.confirm_delete", "runs.table_picked"):
        st.session_state.pop(key, None)
    st.session_state["runs.table"] = {"selection": {"rows": []}}


def learner_filter(df: pd.DataFrame, user: User) -> pd.DataFrame:
    """An instructor's list holds every learner's runs: one of them, or everyone. (A learner's list
    holds only their own runs already — core returns nothing else.)"""
    if not user.instructor or df.empty:
        return df
    owners = sorted(df["owner"].dropna().unique())
    who = st.selectbox("Learner", ["Everyone", *owners], key="runs.learner",
                       help="You are an instructor: you see every learner's runs. Pick one to see only theirs.")
    return df if who == "Everyone" else df[df["owner"] == who].reset_index(drop=True)


def mlflow_ui(uri: str) -> None:
    if not sees_tracking_store():
        return
    with st.expander("Open MLflow's own UI"):
        st.write("MLflow's UI shows the same runs, with its own charts and artifact browser. Run:")
        st.code(tracking.redact_uri(tracking.ui_command(uri)), language="bash")
        st.write("Tracking store:")
        st.code(tracking.redact_uri(uri), language=None)


def filters(df: pd.DataFrame) -> pd.DataFrame:
    with st.container(border=True):
        c1, c2, c0 = st.columns(3)
        experiments = c1.multiselect(
            "Experiment", sorted(df["experiment"].dropna().unique()), key="runs.experiments", placeholder="All"
        )
        statuses = c2.multiselect("Status", list(tracking.STATUSES), key="runs.statuses", placeholder="Any")
        kinds = c0.multiselect("Kind", R.tag_values(df, tracking.TAG_KIND), key="runs.kinds", placeholder="Any",
                               help=tracking.TAGS[tracking.TAG_KIND].capitalize() + " (the run's tag "
                                    f"{tracking.TAG_KIND}; the lab's tags are listed in docs/tracking.md).")
        c3, c4, c5 = st.columns([1, 1, 2])
        param = c3.selectbox("Param", R.param_columns(df), index=None, key="runs.param", placeholder="Any param")
        values = sorted(df[R.PARAM + param].dropna().astype(str).unique()) if param else []
        value = c4.selectbox("Value", values, index=None, key="runs.value", placeholder="Any value", disabled=not param)
        text = c5.text_input("Search", key="runs.text", placeholder="name, id, page or param=value, e.g. lr=0.01")
    return R.filter_runs(df, experiments, statuses, param, value, text, kinds=kinds)


def runs_table(filtered: pd.DataFrame) -> list[str]:
    """The paginated table; returns the run ids ticked on the current page."""
    _, n_pages = R.paginate(filtered, 1, PAGE_SIZE)
    if "runs.page" in st.session_state:
        st.session_state["runs.page"] = R.clamp_page(st.session_state["runs.page"], n_pages)
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    page = left.number_input("Page", min_value=1, max_value=n_pages, step=1, key="runs.page")
    part, _ = R.paginate(filtered, int(page), PAGE_SIZE)
    first = (R.clamp_page(int(page), n_pages) - 1) * PAGE_SIZE
    right.caption(
        f"{plural(len(filtered), 'run')} found · showing {first + 1}–{first + len(part)} · page {page} of {n_pages}. "
        "Tick rows to compare them."
    )
    ids = tuple(part["run_id"])
    if st.session_state.get("runs.table_ids") != ids:  # rows moved: tick again the runs still shown
        kept = set(st.session_state.get("runs.table_picked", ()))
        st.session_state["runs.table"] = {"selection": {"rows": [i for i, rid in enumerate(ids) if rid in kept]}}
        st.session_state["runs.table_ids"] = ids
    params, metrics = R.key_params(filtered, 4), R.key_metrics(filtered, 4)
    table = R.display_table(part, params, metrics)
    config = {
        "Started": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        **{m: st.column_config.NumberColumn(m, format="%.4g", help=f"final value; {better(m)} is better")
           for m in table.columns if m in metrics},
    }  # fmt: skip
    event = st.dataframe(
        table, hide_index=True, column_config=config, key="runs.table", on_select="rerun", selection_mode="multi-row"
    )
    rows = [r for r in event.selection.rows if 0 <= r < len(part)]
    st.session_state["runs.table_picked"] = picked = list(part["run_id"].iloc[rows])
    return picked


def pick_more(df: pd.DataFrame, filtered: pd.DataFrame) -> list[str]:
    """Runs added by name (from any page of the table) or as a whole comparison group."""
    labels = dict(zip(df["run_id"], R.run_labels(df) + " · " + R.page_of(df).astype(str), strict=True))
    groups = R.comparison_groups(filtered)
    c1, c2 = st.columns(2)
    picks = c1.multiselect(
        "Add runs by name", list(df["run_id"]), format_func=labels.get, key="runs.pick", placeholder="Any run"
    )
    group_ids: list[str] = []
    if len(groups):
        by_group = dict(zip(groups["group"], groups["run_ids"], strict=True))
        names = dict(zip(groups["group"], groups["label"], strict=True))
        group = c2.selectbox(
            "Add a comparison (runs started together)", list(by_group), format_func=names.get,
            index=None, key="runs.group", placeholder="None",
        )  # fmt: skip
        group_ids = by_group.get(group, [])
    return picks + group_ids


def curves_tab(uri: str, selected: pd.DataFrame) -> None:
    metrics = R.key_metrics(selected, limit=10_000)
    if not metrics:
        st.info("The selected runs logged no metrics.")
        return
    c1, c2, c3 = st.columns([2, 1, 2], vertical_alignment="bottom")
    metric = c1.selectbox("Metric", metrics, key="runs.metric")
    log_y = c2.toggle("Log scale", key="runs.log_y")
    weight = c3.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="runs.smoothing", help="TensorBoard's debiased EMA")
    have = selected[selected[R.METRIC + metric].notna()]
    if len(have) > MAX_CURVES:
        st.caption(f"Showing the first {MAX_CURVES} of {len(have)} runs that have {metric}.")
    have = have.head(MAX_CURVES)
    labels = R.run_labels(have)
    try:
        histories = {labels[i]: load_history(uri, rid, metric, current_user()) for i, rid in have["run_id"].items()}
    except Exception as exc:  # noqa: BLE001 - the store went away meanwhile
        st.error(tracking.store_error_message(exc, uri))
        return
    st.plotly_chart(plots.metric_curves(histories, metric, log_y=log_y, smoothing=weight), key="runs.curves", theme=None)


def params_tab(selected: pd.DataFrame) -> None:
    table, differing = R.params_diff(selected)
    if table.empty:
        st.info("The selected runs have no params.")
        return
    only = st.toggle("Only params that differ", key="runs.only_diff")
    st.caption(f"{len(differing)} of {len(table)} params differ between the selected runs (highlighted).")
    view = table[table["differs"]] if only else table
    st.dataframe(R.highlight_differences(view), column_config={"differs": st.column_config.CheckboxColumn("differs")})


def parcoords_tab(selected: pd.DataFrame, filtered: pd.DataFrame) -> None:
    use_all = st.toggle(f"All {len(filtered)} filtered runs, not only the selected", key="runs.pc_all")
    base = filtered if use_all else selected
    metrics, params = R.key_metrics(base, limit=10_000), R.param_columns(base)
    if not metrics or not params:
        st.info("Parallel coordinates need runs with at least one param and one metric.")
        return
    c1, c2 = st.columns([1, 2])
    metric = c1.selectbox("Colour by metric", metrics, key="runs.pc_metric")
    varying = [p for p in R.key_params(base, len(params)) if base[R.PARAM + p].nunique(dropna=False) > 1]
    default = varying[:6] or R.key_params(base, 3)  # what differs is what explains the metric
    picked = hash(tuple(base["run_id"]))  # a new choice of runs gets fresh defaults
    chosen = c2.multiselect("Params", params, default=default, key=f"runs.pc_params.{picked}")
    st.plotly_chart(plots.parallel_coordinates(base, chosen, metric), key="runs.parcoords", theme=None)
    st.caption("Drag along an axis to keep only the runs inside a range.")


def best_tab(selected: pd.DataFrame) -> None:
    best = R.best_runs(selected)
    if best.empty:
        st.info("The selected runs logged no metrics.")
        return
    labels = dict(zip(selected["run_id"], R.run_labels(selected), strict=True))
    view = pd.DataFrame(
        {
            "Metric": best["metric"],
            "Better": best["better"],
            "Best run": best["run_id"].map(labels),
            "Value": best["value"],
            "Runs that logged it": best["runs"],
        }
    )
    st.dataframe(view, hide_index=True, column_config={"Value": st.column_config.NumberColumn(format="%.6g")})
    st.caption(
        f"Lower is better when the metric's name has one of the words {', '.join(R.LOWER_IS_BETTER)}; "
        f"else higher is better when it has one of {', '.join(R.HIGHER_IS_BETTER)}; otherwise lower."
    )


def images_tab(uri: str, selected: pd.DataFrame) -> None:
    shown = selected.head(MAX_IMAGE_RUNS)
    if len(selected) > MAX_IMAGE_RUNS:
        st.caption(f"Images of the first {MAX_IMAGE_RUNS} selected runs.")
    try:
        found = {rid: load_images(uri, rid, current_user()) for rid in shown["run_id"]}
    except Exception as exc:  # noqa: BLE001 - the store went away meanwhile
        st.error(tracking.store_error_message(exc, uri))
        return
    if not any(found.values()):
        st.info("The selected runs saved no images.")
        return
    stepped = insights.stepped_images(shown, found)
    found = {rid: [(p, d) for p, d in images if R.image_step(p)[0] not in stepped] for rid, images in found.items()}
    if stepped and not any(found.values()):
        return
    if stepped:
        st.markdown("**Other images**")
    labels = R.run_labels(shown)
    columns = st.columns(max(len(shown), 3))  # at least three, so one run's images are not blown up
    for col, (i, rid) in zip(columns, shown["run_id"].items(), strict=False):
        with col:
            st.markdown(f"**{labels[i]}**")
            for path, data in found[rid]:
                st.image(data, caption=path, width="stretch")
            if not found[rid]:
                st.caption("no images")


def actions(uri: str, filtered: pd.DataFrame, ids: list[str]) -> None:
    c1, c2, c3 = st.columns([1, 1, 1], vertical_alignment="center")
    c1.download_button(
        "Download the filtered runs (CSV)", R.to_csv(filtered), file_name="runs.csv", mime="text/csv",
        key="runs.csv", on_click="ignore",
    )  # fmt: skip
    if not ids:
        return
    n = len(ids)
    sure = c2.checkbox(f"Yes, delete {plural(n, 'run')}", key="runs.confirm_delete")
    c3.button("Delete selected", type="primary", disabled=not sure, key="runs.delete", on_click=delete, args=(ids, uri))


def main() -> None:
    st.title("Runs")
    st.markdown(INTRO)
    jobs.overview()
    uri = tracking.tracking_uri()
    flash = st.session_state.pop("runs.flash", None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    user = current_user()
    try:
        df = load_runs(uri, user)
    except Exception as exc:  # noqa: BLE001 - an unreachable store must not kill the page
        st.error(tracking.store_error_message(exc, uri))
        mlflow_ui(uri)
        return
    df = learner_filter(df, user)
    if df.empty:
        st.info(EMPTY)
        mlflow_ui(uri)
        return
    filtered = filters(df)
    if filtered.empty:
        st.warning(f"None of the {len(df)} runs matches these filters.")
        mlflow_ui(uri)
        return
    ids = R.merge_selection(runs_table(filtered), pick_more(df, filtered))
    actions(uri, filtered, ids)
    st.subheader("Compare the selected runs")
    if not ids:
        st.info("Tick rows in the table (or add runs by name or comparison) to compare them here.")
    else:
        selected = df.set_index("run_id", drop=False).loc[ids].reset_index(drop=True)
        st.caption(f"{plural(len(selected), 'run')} selected.")
        tabs = st.tabs(TABS, key="runs.tab", on_change="rerun")
        renderers = [
            lambda: curves_tab(uri, selected),
            lambda: insights.seeds_tab(selected, lambda rid, key: load_history(uri, rid, key, current_user())),
            lambda: params_tab(selected),
            lambda: parcoords_tab(selected, filtered),
            lambda: insights.importance_tab(selected, filtered),
            lambda: best_tab(selected),
            lambda: images_tab(uri, selected),
        ]
        for tab, render in zip(tabs, renderers, strict=True):
            if tab.open is not False:  # lazy: only the open tab does its work
                with tab:
                    render()
    mlflow_ui(uri)
