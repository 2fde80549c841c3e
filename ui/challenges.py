"""Challenges on every page and the progress board on Home (the checks live in :mod:`core.challenges`).

Each page shows a collapsed "Challenges" expander under its tabs: the page's goals, ✓ or ○, and for a
met goal a button that opens the run that met it on the Runs page. Home shows the learner's board and,
for an instructor, the class's. The learner's runs are read once per short while (cached per user), so
the expanders do not slow the pages down.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from core import challenges, tracking
from core.identity import User
from ui.auth import current_user

ROOT = Path(__file__).resolve().parents[1]
RUNS_PAGE = ROOT / "pages" / "runs.py"
PAGE_TITLES = {
    "basics": "Network basics", "optimizers": "Optimizers", "regularization": "Regularization",
    "strategy": "ML strategy", "cnn": "CNNs", "detection": "Object detection", "faces": "Face recognition",
    "style": "Neural style transfer", "transfer": "Transfer learning", "rnn": "RNNs", "seq2seq": "Sequence models",
    "generative": "GANs and VAEs", "runs": "Runs",
}  # fmt: skip
MET, OPEN = ":green[:material/check_circle:]", ":gray[:material/radio_button_unchecked:]"  # icons, not emoji fonts
INTRO = ("Goals to reach with your own trainings. Each one is checked against your finished tracked runs; "
         "a met goal opens the run that met it. **Try:** pick one, change the settings, train, and come back here.")


@st.cache_data(ttl=10, show_spinner=False, max_entries=64)
def _boards(uri: str, user: User) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The user's board and, for an instructor, the class's (one read of the store for both)."""
    runs = challenges.own_runs(user, uri)
    return challenges.board(user, runs=runs), challenges.class_board(user, runs=runs) if user.instructor else None


def _boards_or_none(user: User) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
    """:func:`_boards`, or ``None`` after one plain caption when the store does not answer."""
    uri = tracking.tracking_uri()
    if not tracking.store_ready(uri):  # nothing tracked yet: no runs to check (and no empty store made)
        runs = pd.DataFrame()
        return challenges.board(user, runs=runs), challenges.class_board(user, runs=runs) if user.instructor else None
    try:
        return _boards(uri, user)
    except Exception:  # noqa: BLE001 - the store may be down: the page still works without its challenges
        st.caption("The challenges cannot be checked right now: the tracking store does not answer.")
        return None


def open_run(run_id: str) -> None:
    """Go to the Runs page with ``run_id`` picked for comparison."""
    st.session_state["runs.pick"] = [run_id]
    st.switch_page(str(RUNS_PAGE))


def _plain(label: str) -> str:
    """``label`` with Markdown's special characters escaped (button labels render Markdown)."""
    return re.sub(r"([\\`*_{}\[\]()<>#+\-.!|~:$])", r"\\\1", label)


def _goal_rows(table: pd.DataFrame, key: str) -> None:
    """One line per goal: ✓ or ○, the title, how it is checked, and the button to the run that met it."""
    for row in table.itertuples(index=False):
        met = bool(row.run_id)
        left, right = st.columns([3, 1], vertical_alignment="center")
        left.markdown(f"{MET if met else OPEN} **{row.title}**")
        left.caption(f"Checked: {row.how}.")
        if met:
            name = row.run_name or row.run_id[:8]
            if right.button(f"Open {_plain(name)}", key=f"{key}.{row.goal}", help=f"run {row.run_id}"):
                open_run(row.run_id)


def block(page: str) -> None:
    """The page's challenges, in a collapsed expander (nothing for a page without challenges)."""
    if page not in challenges.pages():
        return
    box = st.expander("Challenges", icon=":material/emoji_events:", key=f"{page}.challenges", on_change="rerun")
    if box.open is False:  # lazy: a closed box reads no runs
        return
    with box:
        st.caption(INTRO)
        boards = _boards_or_none(current_user())
        if boards is None:
            return
        table = boards[0][boards[0]["page"] == page]
        done = int((table["run_id"] != "").sum())
        st.progress(done / len(table), text=f"{done} of {len(table)} met")
        _goal_rows(table, f"{page}.challenge")


def home_board() -> None:
    """Home's progress board: the learner's goals met per page and the list; an instructor also sees the
    class's board (who met how many, and each learner × goal)."""
    st.subheader("Your challenges")
    st.markdown(
        "Every page offers a few concrete goals, checked against your own finished trainings. Here is how far "
        "you are; open a page's **Challenges** box (under its tabs) to see its goals, or a run that met one."
    )
    user = current_user()
    boards = _boards_or_none(user)
    if boards is None:
        return
    table, whole = boards
    per_page = challenges.progress(table)
    met, total = int(per_page["met"].sum()), int(per_page["total"].sum())
    st.progress(met / total if total else 0.0, text=f"{met} of {total} goals met")
    shown = per_page.assign(page=per_page["page"].map(PAGE_TITLES), done=per_page["met"] / per_page["total"])
    st.dataframe(
        shown[["page", "met", "total", "done"]], hide_index=True, key="home.challenges.pages",
        height=35 * (len(shown) + 1) + 3,  # every page, no scrolling
        column_config={"page": "Page", "met": "Met", "total": "Goals",
                       "done": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent")},
    )  # fmt: skip
    with st.expander("Every goal", expanded=False):
        for page, goals in table.groupby("page", sort=False):
            st.markdown(f"##### {PAGE_TITLES.get(str(page), str(page))}")
            _goal_rows(goals, "home.challenge")
    if whole is not None:
        _class_board(whole)


def _class_board(table: pd.DataFrame) -> None:
    """An instructor's view: goals met per learner, and who met which goal."""
    st.subheader("The class's challenges")
    if table.empty:
        st.info("No learner has a finished run yet.")
        return
    done = table.assign(met=table["run_id"] != "")
    summary = done.groupby("learner", sort=True)["met"].agg(["sum", "count"]).reset_index()
    summary.columns = ["Learner", "Goals met", "Goals"]
    st.dataframe(summary, hide_index=True, key="home.challenges.class")
    grid = done.pivot_table(index="learner", columns="title", values="met", aggfunc="max", sort=False)
    st.caption("Who met which goal (✓):")
    st.dataframe(grid.map(lambda v: "✓" if v else "").reset_index(names="Learner"), hide_index=True,
                 key="home.challenges.grid")
