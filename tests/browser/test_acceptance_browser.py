"""The lab as a whole in headless Chromium: several sessions training at once, a server that crashes during
a training, and awkward uploads through a real browser.

- Load: four browser sessions press Train on the CNN page at once, each with its own number of epochs.
  Trainings share one slot per device, so the others show that they wait their turn; every one finishes,
  each page shows its own tracked run, each run holds exactly its own number of steps (nothing from
  another session), and the server's memory stays bounded.
- Crash: the app server is killed (SIGKILL) in the middle of a training: the worker process the training
  runs in closes the run KILLED with its steps. When app and worker die together the run is left RUNNING,
  and a new server on the same data folder marks it KILLED at start-up, and the app works.
- A real ``mlflow server`` as the tracking store, killed in the middle of a training: the training
  finishes, the page warns, and every step's metric is kept (in the local store it falls back to).
- Stop: the run ends KILLED with the metrics of the steps done so far.
- Awkward uploads: the decompression bomb, a truncated PNG and a CMYK JPEG into the CNN page's
  explorer, through Chromium's file chooser.
"""

from __future__ import annotations

import math
import re
import time

import pytest

from core import tracking
from tests.awkward import awkward_images
from tests.browser.conftest import no_exception, shot, wait_idle
from tests.conftest import Server, free_port, start_mlflow_server, stop_process_group

pytestmark = pytest.mark.browser
SESSIONS = 4
TRAIN_IMAGES = 500
BATCH = 64


def _open_training(page, url: str, epochs: int, limit: int = TRAIN_IMAGES):
    """The CNN page's training form with LeNet-5 on ``limit`` images and ``epochs`` epochs (not submitted)."""
    page.goto(f"{url}/cnn")
    wait_idle(page)
    page.get_by_role("tab", name="Train a CNN").click()
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Train a CNN")
    panel.get_by_role("spinbutton", name="Training images (0 = all)").fill(str(limit))
    slider = panel.get_by_role("slider", name="Epochs")
    slider.focus()
    for _ in range(4 - epochs) if epochs < 4 else range(0):
        slider.press("ArrowLeft")
    for _ in range(epochs - 4) if epochs > 4 else range(0):
        slider.press("ArrowRight")
    return panel


def _train_all(panels, pages) -> set[int]:
    """Press Train in every session at once; wait until all finished; the sessions that showed they waited."""
    for panel in panels:  # as close to "at once" as four people can click
        panel.get_by_role("button", name="Train", exact=True).click()
    waited: set[int] = set()
    finished: set[int] = set()
    deadline = time.time() + 600
    while len(finished) < len(panels) and time.time() < deadline:
        for i, panel in enumerate(panels):
            if i in finished:
                continue
            if panel.get_by_text("Waiting for a free training slot").count():
                waited.add(i)
            if panel.get_by_text("Finished in").count():
                finished.add(i)
        pages[0].wait_for_timeout(250)
    assert finished == set(range(len(panels))), f"finished: {finished}"
    for page in pages:
        wait_idle(page)
        no_exception(page)
    return waited


def test_four_sessions_train_at_once(browser, app_server):
    contexts = [browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(SESSIONS)]
    pages = [ctx.new_page() for ctx in contexts]
    epochs = {i: i + 1 for i in range(SESSIONS)}  # 1, 2, 3, 4 epochs: each run's step count is its own
    panels = [_open_training(p, app_server.url, epochs[i]) for i, p in enumerate(pages)]
    rss_pages = app_server.rss_mb()
    assert _train_all(panels, pages), "no session showed that it waited for the training slot"
    rss_first = app_server.rss_mb()

    run_ids = {}
    for i, (page, panel) in enumerate(zip(pages, panels, strict=True)):
        caption = panel.get_by_text("Tracked as run").first.inner_text()
        run_ids[i] = re.search(r"run (\w+) in", caption.replace("`", "")).group(1)
        shot(page, f"acceptance-session-{i + 1}")
    assert len(set(run_ids.values())) == SESSIONS  # four runs, one per session

    steps_per_epoch = math.ceil(TRAIN_IMAGES / BATCH)
    runs = tracking.search_runs(uri=app_server.tracking_uri)
    for i, run_id in run_ids.items():
        row = runs[runs["run_id"] == run_id].iloc[0]
        assert row["status"] == "FINISHED" and row["params.epochs"] == str(epochs[i])
        history = tracking.metric_history(run_id, "train_loss", uri=app_server.tracking_uri)
        assert sorted(history["step"]) == list(range(1, steps_per_epoch * epochs[i] + 1))  # its own steps only

    # a second round in the same sessions: memory must not grow with every training
    _train_all(panels, pages)
    rss_second = app_server.rss_mb()
    print(f"server memory: {rss_pages:.0f} MB with the four pages open, {rss_first:.0f} MB after four trainings, "
          f"{rss_second:.0f} MB after four more")
    assert rss_second < rss_first + 300
    for ctx in contexts:
        ctx.close()


def _start_long_training(page, server: Server) -> str:
    """Press Train for a long training; returns its run id once the run shows up RUNNING."""
    panel = _open_training(page, server.url, epochs=20, limit=0)  # long enough to be killed in the middle
    panel.get_by_role("button", name="Train", exact=True).click()
    return _wait_for_run(server.tracking_uri)


def test_a_crash_during_a_training_leaves_no_run_running(browser, tmp_path):
    """The app server crashes (SIGKILL) mid-training: its worker notices, stops the training at the next
    step and closes the run KILLED with the steps so far. Then app and worker crash together: the run
    is left RUNNING, and the next server marks it KILLED at start-up and says so once."""
    data = tmp_path / "crash"
    data.mkdir()
    server = Server(data)
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    page = ctx.new_page()
    try:
        first = _start_long_training(page, server)
        while len(tracking.metric_history(first, "train_loss", uri=server.tracking_uri)) < 3:
            time.sleep(0.3)
    finally:
        server.stop(9)  # SIGKILL of the app alone; Server.stop waits until its worker has gone too
    runs = tracking.search_runs(uri=server.tracking_uri)
    assert list(runs.loc[runs["run_id"] == first, "status"]) == ["KILLED"]  # closed by the worker itself
    steps = tracking.metric_history(first, "train_loss", uri=server.tracking_uri)["step"]
    assert len(steps) >= 3 and sorted(steps) == list(range(1, len(steps) + 1))

    again = Server(data)
    try:
        second = _start_long_training(page, again)
    finally:
        again.stop(9, workers=True)  # everything crashes: nothing is cleaned up
    runs = tracking.search_runs(uri=again.tracking_uri)
    assert list(runs.loc[runs["run_id"] == second, "status"]) == ["RUNNING"]  # left behind by the crash

    third = Server(data)
    try:
        page.goto(third.url)
        page.get_by_text("1 run(s) left RUNNING by an earlier session were marked KILLED.").wait_for(timeout=30_000)
        wait_idle(page)
        no_exception(page)
        runs = tracking.search_runs(uri=third.tracking_uri)
        assert list(runs.loc[runs["run_id"] == second, "status"]) == ["KILLED"]
        assert "RUNNING" not in set(runs["status"])
        page.get_by_text("were marked KILLED").first.wait_for(state="detached", timeout=60_000)  # the toast fades
        page.get_by_role("link", name="Runs").click()  # in the same session the notice is not repeated
        wait_idle(page)
        page.wait_for_timeout(1000)
        no_exception(page)
        assert page.get_by_text("were marked KILLED").count() == 0
        shot(page, "acceptance-after-crash")
    finally:
        third.stop()
        ctx.close()


def _wait_for_run(uri: str, status: str = "RUNNING", timeout: float = 120) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = tracking.search_runs(uri=uri)
        found = list(runs.loc[runs["status"] == status, "run_id"]) if len(runs) else []
        if found:
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"no {status} run in {uri} after {timeout} s")


def test_tracking_server_killed_during_a_training(browser, tmp_path):
    port = free_port()
    mlflow_proc = start_mlflow_server(tmp_path, port)
    data = tmp_path / "lab"
    data.mkdir()
    server = Server(data, env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"})
    ctx = browser.new_context(viewport={"width": 1300, "height": 900})
    page = ctx.new_page()
    epochs, limit = 6, 2000
    try:
        panel = _open_training(page, server.url, epochs=epochs, limit=limit)
        panel.get_by_role("button", name="Train", exact=True).click()
        run_id = _wait_for_run(f"http://127.0.0.1:{port}")  # the run is on the tracking server
        page.wait_for_timeout(1500)
        stop_process_group(mlflow_proc)  # the tracking server goes away mid-training
        panel.get_by_text("Finished in").wait_for(timeout=300_000)
        wait_idle(page)
        no_exception(page)
        assert panel.get_by_text("did not answer").count() >= 1  # the page warns
        shot(page, "acceptance-tracking-server-killed")
    finally:
        if mlflow_proc.poll() is None:
            stop_process_group(mlflow_proc)
        server.stop()
        ctx.close()
    local = tracking.search_runs(uri=server.tracking_uri)  # where the run fell back to
    assert len(local) == 1 and local.iloc[0]["status"] == "FINISHED"
    assert local.iloc[0]["tags.dll.fallback_from"] == f"http://127.0.0.1:{port}" and run_id
    history = tracking.metric_history(local.iloc[0]["run_id"], "train_loss", uri=server.tracking_uri)
    steps = math.ceil(limit / BATCH) * epochs
    assert sorted(history["step"]) == list(range(1, steps + 1))  # no step lost


def test_stop_keeps_the_metrics_so_far(page, app_server):
    panel = _open_training(page, app_server.url, epochs=20, limit=0)
    panel.get_by_role("button", name="Train", exact=True).click()
    run_id = _wait_for_run(app_server.tracking_uri, timeout=300)  # after any earlier test's job
    deadline = time.time() + 120
    while time.time() < deadline and len(tracking.metric_history(run_id, "train_loss", uri=app_server.tracking_uri)) < 5:
        time.sleep(0.5)
    panel.get_by_role("button", name="Stop").click()
    panel.get_by_text("Stopped.").wait_for(timeout=120_000)
    wait_idle(page)
    no_exception(page)
    runs = tracking.search_runs(uri=app_server.tracking_uri)
    assert list(runs.loc[runs["run_id"] == run_id, "status"]) == ["KILLED"]
    history = tracking.metric_history(run_id, "train_loss", uri=app_server.tracking_uri)
    assert len(history) >= 5 and sorted(history["step"]) == list(range(1, len(history) + 1))
    shot(page, "acceptance-stopped")


def test_awkward_uploads_through_the_browser(page, app_url, tmp_path):
    page.goto(f"{app_url}/cnn")
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Convolution explorer")
    panel.get_by_role("radio", name="Upload").first.click()
    wait_idle(page)
    uploader = panel.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    files = awkward_images()
    expected = {"bomb.png": "scale it down first", "truncated.png": "truncated.png", "cmyk.jpg": None}
    for name, message in expected.items():
        path = tmp_path / name
        path.write_bytes(files[name][0])
        uploader.set_input_files(str(path))
        wait_idle(page)
        no_exception(page)
        errors = panel.locator('[data-testid="stAlertContentError"]')
        if message is None:
            assert errors.count() == 0
            panel.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
        else:
            assert message in errors.first.inner_text() and name in errors.first.inner_text()
        shot(page, f"acceptance-upload-{name.split('.')[0]}")
