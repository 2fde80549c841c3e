"""Streamlit pieces of the Regularization page that stand on their own: the augmentation
settings with their preview grid, the look inside a trained batch-norm layer and the sweep's
weight charts. The numbers and sentences come from :mod:`core.regularization.report`."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.plots.regularization import bn_stats_chart, preview_figure, weight_histogram_chart, weight_norm_bars
from core.regularization.augment import AUGMENTATIONS, DEFAULT_TRANSFORMS, AugmentSpec, augment_spec
from core.regularization.lab import RegResult, Setup
from core.regularization.report import (
    bn_checks,
    bn_look_intro,
    growth_caption,
    lambda_sq_norms,
    preview_cell,
    preview_grid,
    preview_titles,
    transform_legend,
)
from ui import form

PAGE = "regularization"


@st.cache_data(max_entries=32, show_spinner=False)
def _preview(setup: Setup, spec: AugmentSpec) -> np.ndarray:
    return preview_grid(setup, spec)


def augmentation_settings(setup: Setup | None) -> AugmentSpec | None:
    """The transformations and their strengths (left) and, for a valid choice and set-up,
    four training images with their copies (right); the chosen spec, or ``None`` after
    showing why it is not valid."""
    c1, c2 = st.columns([1, 2])
    with c1:
        # one switch per transformation in the spec; the page picks them from one list
        transforms = st.multiselect("Transformations", AUGMENTATIONS, default=list(DEFAULT_TRANSFORMS),
                                    key=f"{PAGE}.transforms")
        st.caption(transform_legend())
        strengths = {"copies": form.field(st, AugmentSpec, "copies", key=f"{PAGE}.copies")}
        a1, a2 = st.columns(2)
        for col, name, key in ((a1, "max_degrees", "degrees"), (a2, "crop_scale", "crop"), (a1, "brightness", "brightness"),
                               (a2, "contrast", "contrast"), (a1, "noise_std", "noise")):
            strengths[name] = form.field(col, AugmentSpec, name, key=f"{PAGE}.{key}")
    try:
        spec = augment_spec(transforms, **strengths)
    except ValueError as exc:
        c2.error(str(exc))
        return None
    if setup is not None:
        c2.plotly_chart(preview_figure(_preview(setup, spec), col_titles=preview_titles(spec.copies),
                                   cell=preview_cell(setup.dataset)), key=f"{PAGE}.preview")
        c2.caption(growth_caption(setup.n_train, spec.copies))
    return spec


def batch_norm_look(result: RegResult, job: str) -> None:
    """Running against batch statistics of the first batch-norm layer, and the checks of
    which ones eval mode uses (nothing when no network with batch norm finished)."""
    look = result.extras.get("bn_look")
    if look is None:
        return
    st.markdown(bn_look_intro(look, result.extras["bn_lane"]))
    st.plotly_chart(bn_stats_chart(look.running_mean, look.batch_mean, look.running_var, look.batch_var),
                    key=f"{job}.look")
    st.dataframe(bn_checks(look), hide_index=True, width="stretch", column_config={
        "largest difference": st.column_config.NumberColumn(format="%.2e")})
    st.caption("The first two are zero up to rounding: eval mode really uses the running averages. The third "
               "shows how much the choice matters for this batch.")


def weight_charts(result: RegResult, job: str) -> None:
    """The sweep's weight histogram per λ (log scale on request) next to Σ‖W‖² per λ."""
    hist = result.extras.get("weight_hist")
    if hist is None:
        return
    c1, c2 = st.columns([2, 1])
    log_y = c1.toggle("Log scale for the weight histogram", value=False, key=f"{job}.logy")
    c1.plotly_chart(weight_histogram_chart(*hist, log_y=log_y), key=f"{job}.hist")
    c2.plotly_chart(weight_norm_bars(lambda_sq_norms(result)), key=f"{job}.norms")
