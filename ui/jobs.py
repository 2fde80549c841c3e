"""The job panel: start a core training as a background job and show it live.

``start`` queues the work and remembers the job in the session; ``panel`` draws, inside
an auto-refreshing fragment, the job's status (waiting in line, progress, done, failed,
stopped), a Stop button, any warnings, and whatever the page's ``render`` function draws
from the snapshot. When the job ends the whole page reruns once, so the page's result
section sees it; ``st.session_state[f"{page}.result"]`` keeps the result across reruns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.device import pick_device
from core.jobs import FAILED, FINISHED, KILLED, QUEUED, JobContext, JobSnapshot, get_manager


def start(page: str, fn: Callable[[JobContext, Any], Any], cfg: Any, *, name: str = "") -> str:
    """Queue ``fn(ctx, cfg)`` as this session's job for ``page``; returns the job id."""
    job = get_manager().submit(page, fn, cfg, name=name or page, slot=pick_device().type)
    st.session_state[f"{page}.job"] = job.id
    st.session_state.pop(f"{page}.result", None)
    return job.id


def current(page: str) -> JobSnapshot | None:
    """This session's latest job on ``page`` (None when there is none)."""
    return get_manager().snapshot(st.session_state.get(f"{page}.job"))


def is_active(page: str) -> bool:
    snap = current(page)
    return snap is not None and not snap.done


def panel(
    page: str, render: Callable[[JobSnapshot | None], None], *, every: float = 0.7, controls: bool = True
) -> JobSnapshot | None:
    """Draw the page's job (status, Stop, warnings, and ``render(snapshot)``), live while it runs.

    ``controls=False`` is for pages with their own controls (the playground's Play/Pause):
    only a wait in line, a failure and warnings are shown, and ``render`` is called even
    when there is no job yet (with ``None``).
    """
    job_id = st.session_state.get(f"{page}.job")
    first = get_manager().snapshot(job_id)
    if first is None:
        if not controls:
            render(None)
        return None
    live = not first.done

    @st.fragment(run_every=every if live else None)
    def _panel() -> None:
        snap = get_manager().snapshot(job_id)
        if snap is None:
            return
        if controls:
            _status(page, snap)
        else:
            _quiet_status(snap)
        render(snap)
        if snap.done:
            st.session_state[f"{page}.result"] = snap.result
            if live:
                st.rerun()  # once, so the page leaves polling mode

    _panel()
    return get_manager().snapshot(job_id)


def _quiet_status(snap: JobSnapshot) -> None:
    if snap.status == QUEUED:
        st.info("Waiting for a free training slot (another training is running). It starts by itself.",
                icon=":material/hourglass_top:")
    elif snap.status == FAILED:
        st.error(f"The training stopped: {snap.error}")
    for w in snap.warnings:
        st.warning(w)


def _status(page: str, snap: JobSnapshot) -> None:
    if snap.status == QUEUED:
        ahead = f"{snap.ahead} job{'s' if snap.ahead != 1 else ''} ahead" if snap.ahead else "next in line"
        st.info(f"Waiting for a free training slot ({ahead}). It starts by itself — you can leave this page.",
                icon=":material/hourglass_top:")
    elif not snap.done:
        st.progress(snap.progress, text=f"{snap.message} · {snap.elapsed_s:.0f} s")
    elif snap.status == FINISHED:
        st.success(f"Finished in {snap.elapsed_s:.1f} s. Every run is tracked: compare them on the Runs page.")
    elif snap.status == KILLED:
        st.warning("Stopped. What was trained so far is kept and tracked as KILLED.")
    elif snap.status == FAILED:
        st.error(f"The training stopped: {snap.error}")
    for w in snap.warnings:
        st.warning(w)
    if not snap.done and st.button("Stop", key=f"{page}.stop", icon=":material/stop_circle:"):
        get_manager().cancel(snap.id)
        st.toast("Stopping at the next step…")
