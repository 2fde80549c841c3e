"""Home: what the lab is, how to use it, and what it runs on."""

import streamlit as st

from core import tracking
from core.device import device_info
from ui import challenges, shell
from ui.auth import auth_configured, current_user, sees_tracking_store, signed_in


@st.cache_data(ttl=10, show_spinner=False)
def _run_count(uri: str) -> int | None:
    try:
        return tracking.count_runs(uri, user=current_user())
    except Exception:  # noqa: BLE001 - a store that is down shows as "unknown"
        return None


st.title("Deep Learning Lab")
st.markdown(
    """
Learn deep learning by **running** it. Every page of this lab takes one idea of the course —
how an optimizer moves, why a network overfits, what a convolution sees — and lets you
change the knobs and watch real PyTorch models train, on a GPU when this machine has one.

**How to use it**

1. Pick a page in the sidebar. Each one opens with a short explanation and things to try.
2. Quick experiments (a loss surface, a formula) update as you move a slider.
3. Trainings run in the background: you see live curves, you can press **Stop**, and you can
   leave the page — the training goes on.
4. Every training is a tracked run (MLflow). Compare runs, their curves and settings on the
   **Runs** page, or download them as CSV.
5. The **global seed** in the sidebar makes data splits and initial weights repeatable.
"""
)

info = device_info()
count = _run_count(tracking.tracking_uri())
c1, c2, c3, c4 = st.columns(4)
c1.metric("Device", info.name if info.kind != "cpu" else "CPU")
c2.metric("GPU memory" if info.kind == "cuda" else "CPU threads",
          f"{info.memory_gb:.0f} GB" if info.kind == "cuda" and info.memory_gb else str(info.threads))
c3.metric("PyTorch", info.torch_version.split("+")[0])
c4.metric("Tracked runs", "unknown" if count is None else f"{count:,}")
if sees_tracking_store():
    st.caption(f"Tracking store: `{tracking.display_uri()}`")
if count is None:
    st.warning("The tracking store does not answer right now. Trainings still run and keep their data.")

if signed_in() or not auth_configured():  # signed out in class mode: no board
    challenges.home_board()

st.subheader("Pages")
for section, title in shell.available_pages():
    st.markdown(f"- **{section}** · {title}")
