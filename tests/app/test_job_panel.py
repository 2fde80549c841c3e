"""The job panel's ways out, through Streamlit's AppTest: Force stop for a training that does not reach
its next step, and a queue that refuses a job (the learner's limit, or Redis away) said in the page."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

import core.jobs
from core.identity import LOCAL_USER
from core.jobs import QueueRunner

APP = """
import streamlit as st
from ui import jobs
from tests import jobfns
if st.button("Train"):
    jobs.start("t", jobfns.stubborn, 120)
jobs.panel("t", lambda snap: st.text(f"status={snap.status}" if snap else "no job"))
"""


def _texts(at: AppTest) -> str:
    return " ".join(t.value for t in at.text)


def test_force_stop_is_offered_when_stop_does_not_take_and_ends_the_job_killed(monkeypatch, preloaded_runner, fresh_store):
    import ui.jobs

    monkeypatch.setattr(ui.jobs, "FORCE_AFTER_S", 1.0)
    runner = preloaded_runner()
    at = AppTest.from_string(APP, default_timeout=60)
    at.run()
    next(b for b in at.button if b.label == "Train").click().run()
    end = time.time() + 60
    while "status=running" not in _texts(at) or not runner.jobs(user=LOCAL_USER)[0].cursor.rows:
        assert time.time() < end, _texts(at)
        time.sleep(0.2)
        at.run()
    at.button(key="t.stop").click().run()
    assert not [b for b in at.button if b.label == "Force stop"]  # not yet: Stop may still take
    time.sleep(1.5)
    at.run()
    assert "status=running" in _texts(at)  # the stubborn step ignored Stop
    assert any("has not reached its next step" in w.value for w in at.warning)
    at.button(key="t.force").click().run()
    job = runner.jobs(user=LOCAL_USER)[0].id
    snap = runner.wait(job, 30)
    assert snap.status == "killed" and snap.message == "stopped by force"


def test_a_refused_job_is_said_in_the_page(monkeypatch, fresh_store):
    queue = QueueRunner("redis://127.0.0.1:1/0")  # nothing listens there
    monkeypatch.setattr(core.jobs, "get_runner", lambda: queue)
    at = AppTest.from_string(APP, default_timeout=60)
    at.run()
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception, at.exception
    assert [e.value for e in at.error][0].startswith("The job queue (Redis at redis://127.0.0.1:1/0) cannot be reached")
    assert "t.job" not in at.session_state  # nothing was queued, nothing is polled
