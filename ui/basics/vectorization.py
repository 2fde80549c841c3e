"""The Network basics page's vectorization timing: the form, the background job and its
tables and chart (the timing itself is :mod:`core.basics.vectorization`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.basics.vectorization import (
    IMPLEMENTATIONS,
    LOOP_CAP_OPTIONS,
    SIZE_OPTIONS,
    VectorizationConfig,
    gpu_available,
    run_timing,
    timing_tables,
)
from core.plots.basics import timing_figure
from ui import form, jobs, shell
from ui.tables import csv_button

PAGE = "basics"
VEC_JOB = "basics.vec"


def _render_timing(snap) -> None:
    series = {impl: ([r["size"] for r in rows], [r["seconds"] for r in rows])
              for impl, rows in snap.metrics.items() if impl in IMPLEMENTATIONS and rows}
    if series:
        st.plotly_chart(timing_figure(series), key=f"{PAGE}.vec_fig")
    result = snap.result
    if result is None or not result.rows:
        return
    tables = timing_tables(result.rows)
    st.markdown("**Seconds per forward pass** (best of the repeats)")
    st.dataframe(tables["seconds"].map(lambda v: "skipped" if pd.isna(v) else f"{v:.2e}"), width="stretch")
    for name, title, fmt in (("vs loops", "**Speed-up over the Python loops** (how many times faster)", "%.0f×"),
                             ("vs NumPy", "**Speed-up over NumPy**", "%.2f×")):
        if not tables[name].empty:
            st.markdown(title)
            st.dataframe(tables[name], width="stretch",
                         column_config={c: st.column_config.NumberColumn(format=fmt) for c in tables[name].columns})
    worst = max(float(r["max_abs_diff"]) for r in result.rows)
    if result.all_equal:
        st.success(f"Every implementation gave the same layer output at every size (max |difference| from a float64 "
                   f"reference: {worst:.1e}).", icon=":material/check_circle:")
    else:
        bad = sorted({f"{r['implementation']} at n = {r['size']}" for r in result.rows if not r["equal"]})
        st.error(f"Outputs differ from the reference: {', '.join(bad)}.")
    if result.skipped_loop_sizes:
        st.info(f"Python loops were skipped for n = {', '.join(map(str, result.skipped_loop_sizes))} (above the cap "
                "you set): each doubling of n makes them 8 times slower. Raise the cap to include more of them.")
    if result.gpu:
        st.caption(f"GPU: {result.gpu}.")
    note = f"Tracked run `{result.run_id}` in experiment *basics*." if result.run_id else ""
    st.caption(f"{note} Only the computation is timed; data are prepared on their device beforehand.")
    csv_button(st, "Download the timings (CSV)", result.rows, "vectorization_timings.csv", f"{PAGE}.vec_csv")


def render() -> None:
    """The whole vectorization section (call it inside the page's Vectorization tab)."""
    st.markdown(
        "One layer's forward pass, $Z = WX + b$ and $A = g(Z)$, with the examples as the columns of $X$. At size "
        "$n$ the layer has $n$ inputs, $n$ units and $n$ examples: $n^3$ multiply-adds. Below, the same "
        "computation is written three ways and timed. **Try:** start with the defaults, then watch how the gap "
        "grows with $n$ — the loops do the same arithmetic, one number at a time."
    )
    with st.expander("The three implementations", icon=":material/code:"):
        st.code(
            "# Python loops\n"
            "for j in range(n_out):\n"
            "    for k in range(m):\n"
            "        s = b[j]\n"
            "        for i in range(n_in):\n"
            "            s += W[j][i] * X[i][k]\n"
            "        A[j][k] = g(s)\n\n"
            "# NumPy\n"
            "A = g(W @ X + b)\n\n"
            "# torch (CPU or GPU: the same line on tensors that live there)\n"
            "A = g(torch.addmm(b, W, X))",
            language="python",
        )
    has_gpu = gpu_available()
    V = VectorizationConfig
    with st.form(f"{PAGE}.vec_form"):
        c1, c2, c3 = st.columns(3)
        sizes = form.field(c1, V, "sizes", key=f"{PAGE}.vec_sizes", options=SIZE_OPTIONS)
        cap = form.field(c1, V, "loop_cap", key=f"{PAGE}.vec_cap", options=LOOP_CAP_OPTIONS)
        vec_act = form.field(c2, V, "activation", key=f"{PAGE}.vec_act")
        dtype = form.field(c2, V, "dtype", key=f"{PAGE}.vec_dtype", horizontal=True)
        repeats = form.field(c3, V, "repeats", key=f"{PAGE}.vec_repeats")
        use_gpu = form.field(c3, V, "use_gpu", key=f"{PAGE}.vec_gpu", value=has_gpu, disabled=not has_gpu,
                             help=None if has_gpu else "No CUDA GPU is visible on this machine.")
        go_vec = form.submit("Start timing", VEC_JOB, icon=":material/timer:")
    if not has_gpu:
        st.caption("No CUDA GPU is visible here, so torch is timed on the CPU only.")
    if go_vec:
        form.start(VEC_JOB, run_timing, lambda: V(
            sizes=tuple(sorted(set(sizes))), loop_cap=cap, activation=vec_act, dtype=dtype, repeats=repeats,
            use_gpu=use_gpu and has_gpu, seed=shell.global_seed()), name="vectorization timing")
    jobs.panel(VEC_JOB, _render_timing)
