"""The Network basics page's vectorization timing: the form, the background job and its
tables and chart (the timing itself is :mod:`core.basics.vectorization`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.basics.vectorization import (
    IMPLEMENTATIONS,
    LAYER_ACTIVATIONS,
    MAX_LOOP_SIZE,
    VectorizationConfig,
    gpu_available,
    run_timing,
    timing_tables,
)
from core.plots.basics import timing_figure
from ui import jobs, shell
from ui.tables import csv_button

PAGE = "basics"
VEC_JOB = "basics.vec"
SIZE_OPTIONS = [8, 16, 32, 64, 128, 256, 512, 1024, 2048]



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
    with st.form(f"{PAGE}.vec_form"):
        c1, c2, c3 = st.columns(3)
        sizes = c1.multiselect("Sizes n", SIZE_OPTIONS, default=[16, 32, 64, 128, 256, 512, 1024], key=f"{PAGE}.vec_sizes")
        cap = c1.select_slider("Largest n for the Python loops", [0, 16, 32, 64, 128, MAX_LOOP_SIZE], 128,
                               key=f"{PAGE}.vec_cap", help="The loops' cost grows as n³: n = 128 takes about a tenth of "
                               "a second per pass, n = 256 eight times more, n = 512 would take several seconds. 0 skips them.")
        vec_act = c2.selectbox("Layer activation", LAYER_ACTIVATIONS, key=f"{PAGE}.vec_act")
        dtype = c2.radio("Number type (NumPy and torch)", ["float32", "float64"], horizontal=True, key=f"{PAGE}.vec_dtype",
                         help="The loops always use Python floats (64-bit).")
        repeats = c3.slider("Repeats (the best is kept)", 1, 10, 5, key=f"{PAGE}.vec_repeats")
        use_gpu = c3.toggle("Time on the GPU too", value=has_gpu, disabled=not has_gpu, key=f"{PAGE}.vec_gpu",
                            help=None if has_gpu else "No CUDA GPU is visible on this machine.")
        go_vec = st.form_submit_button("Start timing", type="primary", icon=":material/timer:", disabled=jobs.is_active(VEC_JOB))
    if not has_gpu:
        st.caption("No CUDA GPU is visible here, so torch is timed on the CPU only.")
    if go_vec:
        try:
            vcfg = VectorizationConfig(sizes=tuple(sorted(set(sizes))), loop_cap=cap, activation=vec_act, dtype=dtype,
                                       repeats=repeats, use_gpu=use_gpu and has_gpu, seed=shell.global_seed())
        except ValueError as exc:
            st.error(str(exc))
        else:
            jobs.start(VEC_JOB, run_timing, vcfg, name="vectorization timing")
    jobs.panel(VEC_JOB, _render_timing)
