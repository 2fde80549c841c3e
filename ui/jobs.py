"""The job panel: start a core training as a background job and show it live.

``start`` queues the work with the process's runner (a worker process beside the app) and
remembers the job in the session; ``panel`` draws, inside an auto-refreshing fragment, the
job's status (waiting in line, progress, done, failed, stopped), a Stop button, warnings, every
diverged training (one sentence each, the same on every page) and whatever the page's
``render`` function draws from the snapshot. When the job ends the whole page reruns once, so
the page's result section sees it; ``st.session_state[f"{page}.result"]`` keeps the result.

Polling is cheap however long a run grows: each poll fetches only the rows and images that
changed since the last one (a :class:`core.jobs.Cursor`) and adds them to what this session
already holds.

Jobs belong to the signed-in user, not to the browser session: a page opened in a new tab, after
a reload or on a second device picks up the user's job that is still waiting or running on it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

import core.jobs
from core.device import pick_device
from core.jobs import FAILED, FINISHED, KILLED, QUEUED, Cursor, JobSnapshot
from ui.auth import current_user


@dataclasses.dataclass
class _Live:
    """What this session has fetched of one job so far."""

    id: str
    cursor: Cursor = dataclasses.field(default_factory=Cursor)
    metrics: dict[str, list[dict[str, float]]] = dataclasses.field(default_factory=dict)
    images: dict[str, Any] = dataclasses.field(default_factory=dict)
    warnings: list[str] = dataclasses.field(default_factory=list)
    diverged: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    last: JobSnapshot | None = None  # shown again while the job queue does not answer

    def merge(self, delta: JobSnapshot) -> JobSnapshot:
        for series, rows in delta.metrics.items():
            self.metrics.setdefault(series, []).extend(rows)
        self.images.update(delta.images)
        self.warnings.extend(delta.warnings)
        self.diverged.extend(delta.diverged)
        self.cursor = delta.cursor
        self.last = dataclasses.replace(delta, metrics=self.metrics, images=self.images,
                                        warnings=tuple(self.warnings), diverged=tuple(self.diverged))
        return self.last


LOCAL_PAGES = ("basics.pg",)  # (ui.basics.playground.PG): the playground's step-by-step trainer stays in the app machine's own worker


def runner(page: str = "") -> core.jobs.Runner:
    """The runner of ``page``'s jobs (looked up at each call, so a test can put its own in place): the
    class's queue when ``DLL_JOBS`` names one, else the worker process beside the app."""
    return core.jobs.local_runner() if page in LOCAL_PAGES else core.jobs.get_runner()


def start(page: str, fn: Callable[[Any, Any], Any], cfg: Any, *, name: str = "") -> str | None:
    """Queue ``fn(ctx, cfg)`` as the signed-in user's job for ``page``; returns the job id, or None when
    the queue refused it (the user's limit, or the queue does not answer: :func:`panel` says why).
    ``fn`` must be importable by name and ``cfg`` plain data (the job runs in another process)."""
    try:
        job_id = runner(page).submit(page, fn, cfg, name=name or page, slot=pick_device().type, user=current_user())
    except core.jobs.JobRefused as exc:
        st.session_state[f"{page}.refused"] = str(exc)
        return None
    st.session_state[f"{page}.job"] = job_id
    st.session_state.pop(f"{page}.result", None)
    st.session_state.pop(f"{page}.live", None)
    return job_id


def current(page: str) -> JobSnapshot | None:
    """This session's latest job on ``page``, with every row fetched so far (None when there is none)."""
    job_id = st.session_state.get(f"{page}.job") or _adopt(page)
    if not job_id:
        return None
    live: _Live | None = st.session_state.get(f"{page}.live")
    if live is None or live.id != job_id:
        live = st.session_state[f"{page}.live"] = _Live(job_id)
    try:
        delta = runner(page).snapshot(job_id, since=live.cursor, user=current_user())
    except core.jobs.JobRefused as exc:  # the queue does not answer: what was seen, and why it stands still
        st.session_state[f"{page}.unreachable"] = str(exc)
        return live.last
    st.session_state.pop(f"{page}.unreachable", None)
    return None if delta is None else live.merge(delta)


def _adopt(page: str) -> str | None:
    """The user's newest job on ``page`` that is still waiting or running and was started before this
    session opened (before a reload, in another tab, on another device), now this session's too. A job
    another open tab starts later stays that tab's: two tabs of one user can each train."""
    opened = st.session_state.setdefault("jobs.session_opened", time.time())
    try:
        mine = [j for j in runner(page).jobs(page, user=current_user())
                if not j.done and j.owner == current_user().id and j.created < opened]
    except core.jobs.JobRefused:
        return None
    if not mine:
        return None
    job_id = max(mine, key=lambda j: j.created).id
    st.session_state[f"{page}.job"] = job_id
    return job_id


def is_active(page: str) -> bool:
    snap = current(page)
    return snap is not None and not snap.done


def stop(page: str, *, wait: float = 0.0) -> JobSnapshot | None:
    """Stop this session's job on ``page`` (at its next step); with ``wait``, until it has ended."""
    snap = current(page)
    if snap is not None and not snap.done:
        runner(page).cancel(snap.id, user=current_user())
        if wait:
            runner(page).wait(snap.id, timeout=wait, user=current_user())
        snap = current(page)
    return snap


def panel(
    page: str, render: Callable[[JobSnapshot | None], None], *, every: float = 1.0, controls: bool = True
) -> JobSnapshot | None:
    """Draw the page's job (status, Stop, warnings, divergences and ``render(snapshot)``), live while it runs.

    ``controls=False`` is for pages with their own controls (the playground's Play/Pause):
    only a wait in line, a failure, divergences and warnings are shown, and ``render`` is called
    even when there is no job yet (with ``None``).
    """
    refused = st.session_state.pop(f"{page}.refused", None)
    if refused:
        st.error(refused, icon=":material/block:")
    first = current(page)
    if first is None:
        if f"{page}.unreachable" in st.session_state:
            st.warning(st.session_state[f"{page}.unreachable"], icon=":material/cloud_off:")
        if not controls:
            render(None)
        return None
    live = not first.done

    @st.fragment(run_every=every if live else None)
    def _panel() -> None:
        snap = current(page)
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
    return current(page)


def divergence_line(lane: str, message: str) -> str:
    """How every page says that a training diverged (its run is tracked as FAILED with ``message``)."""
    return f"{lane} diverged: {message}. Its run is tracked as FAILED."


def _messages(snap: JobSnapshot) -> None:
    if snap.page and f"{snap.page}.unreachable" in st.session_state:
        st.warning(st.session_state[f"{snap.page}.unreachable"], icon=":material/cloud_off:")
    for lane, message in snap.diverged:
        st.error(divergence_line(lane, message), icon=":material/error:")
    for w in snap.warnings:
        st.warning(w)


def _quiet_status(snap: JobSnapshot) -> None:
    if snap.status == QUEUED:
        st.info("Waiting for a free training slot (another training is running). It starts by itself.",
                icon=":material/hourglass_top:")
    elif snap.status == FAILED:
        st.error(f"The training stopped: {snap.error}")
    _messages(snap)


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
    _messages(snap)
    if not snap.done and st.button("Stop", key=f"{page}.stop", icon=":material/stop_circle:", on_click=_cancel,
                                   args=(page, snap.id)):
        st.toast("Stopping at the next step…")
    asked = st.session_state.get(f"{page}.stop_at")
    if not snap.done and asked and asked[0] == snap.id and time.time() - asked[1] > FORCE_AFTER_S:
        st.warning(f"The training has not reached its next step in {FORCE_AFTER_S:.0f} s. Force stop ends it now; "
                   "its run is still closed as KILLED with what it had logged.", icon=":material/timer:")
        st.button("Force stop", key=f"{page}.force", icon=":material/dangerous:", on_click=_cancel,
                  args=(page, snap.id, True))


FORCE_AFTER_S = 10.0  # after Stop, how long a training may take to reach its next step before Force stop is offered


def _cancel(page: str, job_id: str, force: bool = False) -> None:
    """The Stop button's callback: it runs before the page does, so the worker hears it at once. Core
    checks that the user may stop the job; ``force`` kills the job's worker process (its run ends KILLED)."""
    runner(page).cancel(job_id, force=force, user=current_user())
    if page and not force:
        st.session_state[f"{page}.stop_at"] = (job_id, time.time())


@st.fragment(run_every=2.0)
def overview() -> None:
    """The signed-in user's waiting and running trainings — an instructor's: the whole class's — each with
    Stop (core checks that the user may stop it). Drawn on the Runs page, so a job started on another
    page, tab or device can be watched and stopped from one place."""
    user = current_user()
    try:
        active = sorted((j for j in runner().jobs(user=user) if not j.done), key=lambda j: j.created)
    except core.jobs.JobRefused as exc:
        st.warning(str(exc), icon=":material/cloud_off:")
        return
    if not active:
        return
    st.subheader("Your trainings in progress" if not user.instructor else "Trainings in progress (the whole class)")
    for job in active:
        left, right = st.columns([6, 1], vertical_alignment="center")
        state = (f"waiting, {job.ahead} ahead" if job.status == QUEUED else f"{job.progress:.0%} · {job.message}")
        who = f"{job.owner} · " if user.instructor else ""
        left.text(f"{who}{job.name} ({job.page}) — {state}")  # plain text: names come from users
        right.button("Stop", key=f"overview.stop.{job.id}", icon=":material/stop_circle:", on_click=_cancel,
                     args=("", job.id))
