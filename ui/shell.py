"""The app's shell: page catalogue, sidebar (device, global seed, tracking store), start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import streamlit as st

from core import tracking
from core.device import device_info
from ui import auth, challenges, jobs

ROOT = Path(__file__).resolve().parents[1]

# (section, script, title, icon). Only scripts that exist are listed in the navigation.
CATALOGUE: list[tuple[str, str, str, str]] = [
    ("", "pages/home.py", "Home", ":material/home:"),
    ("Foundations", "pages/basics.py", "Network basics", ":material/hub:"),
    ("Foundations", "pages/optimizers.py", "Optimizers", ":material/trending_down:"),
    ("Foundations", "pages/regularization.py", "Regularization", ":material/tune:"),
    ("Foundations", "pages/strategy.py", "ML strategy", ":material/flag:"),
    ("Vision", "pages/cnn.py", "CNNs", ":material/grid_on:"),
    ("Vision", "pages/detection.py", "Object detection", ":material/center_focus_strong:"),
    ("Vision", "pages/faces.py", "Face recognition", ":material/face:"),
    ("Vision", "pages/style.py", "Neural style transfer", ":material/palette:"),
    ("Vision", "pages/transfer.py", "Transfer learning", ":material/model_training:"),
    ("Sequences", "pages/rnn.py", "RNNs", ":material/repeat:"),
    ("Sequences", "pages/seq2seq.py", "Sequence models", ":material/translate:"),
    ("Generative", "pages/generative.py", "GANs and VAEs", ":material/auto_awesome:"),
    ("Tracking", "pages/runs.py", "Runs", ":material/monitoring:"),
]


def navigation() -> st.navigation:
    """``st.navigation`` over the pages that exist, grouped by section."""
    sections: dict[str, list[st.Page]] = {}
    for section, script, title, icon in CATALOGUE:
        if (ROOT / script).exists():
            sections.setdefault(section, []).append(
                st.Page(str(ROOT / script), title=title, icon=icon, default=script == "pages/home.py")
            )
    return st.navigation(sections, expanded=True)  # all pages listed (the default folds the list after 10)


def available_pages() -> list[tuple[str, str]]:
    """(section, title) of every page present, for the home page's map."""
    return [(s, t) for s, script, t, _ in CATALOGUE if (ROOT / script).exists() and script != "pages/home.py"]


@st.cache_resource(show_spinner=False)
def startup() -> str:
    """Once per process: close runs that a previous process left RUNNING, and start the worker
    process that trainings run in (its imports take a few seconds; the first Train need not wait).
    With the class's queue (``DLL_JOBS``) the runs that are RUNNING belong to the workers, which go on
    training while the app restarts; the queue closes those of a worker that died."""
    jobs.runner().warm()
    if os.environ.get("DLL_JOBS", "").strip():
        return ""
    try:
        n = tracking.mark_stale_runs_killed()
    except Exception as exc:  # noqa: BLE001 - the store may be down; the app still starts
        return f"The tracking store could not be checked at start-up ({type(exc).__name__})."
    return f"{n} run(s) left RUNNING by an earlier session were marked KILLED." if n else ""


def global_seed() -> int:
    """The seed chosen in the sidebar (0 until the sidebar has been drawn)."""
    return int(st.session_state.get("global.seed", 0))


def sidebar() -> None:
    info = device_info()
    with st.sidebar:
        if os.environ.get("DLL_JOBS", "").strip():
            st.caption("**Trainings:** on the class's GPU workers (job queue)")
        else:
            st.caption(f"**Device:** {info.label}")
        st.number_input(
            "Global seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="global.seed",
            help="Every page seeds its data split, initial weights and sampling with this number.",
        )
        if auth.sees_tracking_store():
            st.caption(f"**Tracking:** `{tracking.display_uri()}`")


def topic_page(title: str, intro: str, tabs: Mapping[str, Callable[[], None]]) -> None:
    """A page of the course: its title, a short text on what the learner sees and what to try, and one
    tab per section, each drawn by its ``render`` function (``ui/<topic>/``), then the page's challenges."""
    st.title(title)
    st.markdown(intro)
    for tab, render in zip(st.tabs(list(tabs)), tabs.values(), strict=True):
        with tab:
            render()
    topic = next(iter(tabs.values())).__module__.split(".")  # ui.<topic>.<section>: the page's ui package
    challenges.block(topic[1] if len(topic) > 2 and topic[0] == "ui" else "")
