"""Watching a training costs nothing: trainings started from a real browser with their page open,
against the same job called directly, in one run. Prints one JSON object.

- **Optimizer race** (the page's defaults) and **CNN training** (LeNet-5 on the MNIST sample, the
  page's defaults): the lab is started as ``make run`` starts it, headless Chromium opens the page,
  presses the button and keeps the page open until the job says "Finished in X s"; X (the job's
  own time, from its start in the worker process to its end) is compared with the same job function
  called directly in this process with a :class:`core.jobs.Recorder` (the baseline). Target: watched
  ≤ 1.3 × direct.
- **Playground** on TensorFlow Playground's own set-up (spirals, two hidden layers of 8 tanh units,
  learning rate 0.03, batch 10, features x1 and x2): epochs per second with the tab open and
  playing (read from the page's Epoch counter over a window), against the same network trained
  directly (:meth:`core.basics.playground.Playground.train_epochs`). Target: ≥ 60 epochs/s. Then
  Pause, several times: from the click to the last epoch the worker finished (the timestamps of the
  run's per-epoch metrics), and from the click to the page showing Play again. Target: ≤ 0.2 s.

Also measured: the browser's main-thread busy share (Chrome's TaskDuration) and the CPU the app
process and its worker used while the page watched.

    PYTHONPATH=. .venv/bin/python bench/live_view.py [--repeats 3] [--window 10]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PLAYGROUND = {"data": "spirals", "classes": "2", "points": "500", "noise": "0", "train": "0.5", "batch": "10",
              "layers": "8,8", "act": "tanh", "lr": "0.03", "reg": "none", "rate": "0", "feat": "0,1", "seed": "0"}


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_pids() -> list[int]:
    """Every Chromium process (browser, renderers, GPU process)."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if b"chrom" in (p / "cmdline").read_bytes().split(b"\0")[0]:
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return out


class Usage:
    """CPU share of the app process, of its worker processes, of every Chromium process, and how busy the
    browser's main thread was, over a window (1.0 = one core)."""

    def __init__(self, server_pid: int, cdp) -> None:
        self.pid, self.cdp = server_pid, cdp
        self.cdp.send("Performance.enable")

    def _read(self) -> tuple[float, float, float, float, float]:
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        workers = sum(cpu_seconds(c) for c in children(self.pid))
        browser = 0.0
        for pid in browser_pids():
            with contextlib.suppress(OSError):
                browser += cpu_seconds(pid)
        return time.perf_counter(), cpu_seconds(self.pid), workers, metrics.get("TaskDuration", 0.0), browser

    def start(self) -> None:
        self.t0 = self._read()

    def stop(self) -> dict[str, float]:
        t1 = self._read()
        wall = t1[0] - self.t0[0]
        return {"window_s": round(wall, 2), "app_process_cpu_share": round((t1[1] - self.t0[1]) / wall, 3),
                "worker_cpu_share": round((t1[2] - self.t0[2]) / wall, 3),
                "browser_main_thread_busy_share": round((t1[3] - self.t0[3]) / wall, 3),
                "browser_cpu_share": round((t1[4] - self.t0[4]) / wall, 3)}


def direct(fn, cfg, repeats: int) -> list[float]:
    """The job function called in this process with a Recorder: seconds per call."""
    from core.jobs import FINISHED, Recorder, run_job

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ending = run_job(fn, Recorder(), cfg)
        times.append(time.perf_counter() - t0)
        if ending.status != FINISHED:
            raise RuntimeError(f"the direct call ended {ending.status}: {ending.error}")
    return times


def watched(page, url: str, path: str, tab: str, button: str, usage: Usage, wait_idle) -> tuple[float, float, dict]:
    """Open the page, press the button, keep watching until the job has finished: (job seconds from
    the page's "Finished in X s", wall seconds from the click, usage over the job)."""
    page.goto(f"{url}/{path}")
    wait_idle(page)
    page.get_by_role("tab", name=tab).click()
    wait_idle(page)
    usage.start()
    t0 = time.perf_counter()
    page.get_by_role("button", name=button, exact=True).first.click()
    done = page.get_by_text(re.compile(r"Finished in [\d.]+ s")).first
    done.wait_for(timeout=600_000)
    wall = time.perf_counter() - t0
    used = usage.stop()
    job = float(re.search(r"Finished in ([\d.]+) s", done.inner_text()).group(1))
    page.wait_for_timeout(1500)  # the page's last rerun, before the next job
    return job, wall, used


def playground(page, url: str, app_data: Path, usage: Usage, window: float, pauses: int, wait_idle) -> dict:
    from core import tracking

    def epoch() -> int:
        metric = page.locator('[data-testid="stMetric"]').filter(has_text="Epoch").first
        return int(re.sub(r"\D", "", metric.locator('[data-testid="stMetricValue"]').inner_text()))

    query = "&".join(f"{k}={v}" for k, v in PLAYGROUND.items())
    page.goto(f"{url}/basics?{query}")
    wait_idle(page)
    page.get_by_role("tab", name="Playground").click()
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Playground")
    panel.get_by_role("button", name="Play").click()
    panel.get_by_role("button", name="Pause").wait_for(timeout=60_000)
    while epoch() < 20:  # playing (the worker is warm)
        page.wait_for_timeout(100)
    usage.start()
    t1, e1 = time.perf_counter(), epoch()
    page.wait_for_timeout(window * 1000)
    t2, e2 = time.perf_counter(), epoch()
    used = usage.stop()
    rate = (e2 - e1) / (t2 - t1)
    training, ui = [], []
    for i in range(pauses):
        if i:
            panel.get_by_role("button", name="Play").click()
            panel.get_by_role("button", name="Pause").wait_for(timeout=60_000)
            page.wait_for_timeout(2000)
        # the moment the press reaches the browser (the input event's own time stamp), not the moment
        # Playwright starts looking for the button
        page.evaluate("""() => { window.__dllPress = null; document.addEventListener('pointerdown',
            e => { window.__dllPress = performance.timeOrigin + e.timeStamp; }, {capture: true, once: true}); }""")
        asked = time.time()
        panel.get_by_role("button", name="Pause").click()
        panel.get_by_role("button", name="Play").wait_for(timeout=60_000)
        pressed = page.evaluate("window.__dllPress")
        clicked = pressed / 1000 if pressed else asked
        ui.append(time.time() - clicked)
        page.wait_for_timeout(1500)
        os.environ["DLL_DATA_DIR"] = str(app_data)
        run = tracking.search_runs(filter_string="tags.`dll.kind` = 'playground'").iloc[0]["run_id"]
        last = tracking.metric_history(run, "test_loss")["timestamp"].max()
        last = last.timestamp() if hasattr(last, "timestamp") else last / 1000
        training.append(max(0.0, float(last) - clicked))
    return {"epochs_per_s_watched": round(rate, 1), "epochs_in_window": e2 - e1, **used,
            "pause_training_s": [round(v, 3) for v in training], "pause_ui_s": [round(v, 3) for v in ui]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="watched and direct runs of each job")
    ap.add_argument("--window", type=float, default=10.0, help="seconds the playground is watched playing")
    ap.add_argument("--pauses", type=int, default=5)
    ap.add_argument("--only", choices=("race", "cnn", "playground"), action="append",
                    help="measure only these (repeatable); default: all three")
    args = ap.parse_args()
    only = set(args.only or ("race", "cnn", "playground"))

    import torch
    from playwright.sync_api import sync_playwright

    from core.basics.playground import Playground, PlaygroundConfig
    from core.cnn.training import TrainConfig, run_cnn
    from core.jobs.worker import worker_threads
    from core.optimizers.race import RaceConfig, run_race
    from tests.browser.conftest import FLAGS, find_chromium, wait_idle
    from tests.conftest import Server

    exe = find_chromium()
    if exe is None:
        sys.exit("no Chromium found: install Debian's 'chromium' or run '.venv/bin/playwright install chromium'")
    app_data = Path(tempfile.mkdtemp(prefix="dll-bench-app-"))
    os.environ["DLL_DATA_DIR"] = tempfile.mkdtemp(prefix="dll-bench-direct-")
    for folder in (app_data, os.environ["DLL_DATA_DIR"]):  # the runs this bench tracked are not kept
        atexit.register(shutil.rmtree, folder, True)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    out: dict = {"bench": "live_view", "device": "CPU", "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
                 "machine": platform.platform(), "cores": os.cpu_count(), "repeats": args.repeats}

    # the same jobs called directly (the baseline), after one warm-up each (imports, first allocations)
    jobs = {"race": (run_race, RaceConfig(), "optimizers", "Race on a real network", "Start the race"),
            "cnn": (run_cnn, TrainConfig(), "cnn", "Train a CNN", "Train")}
    baseline, same_threads = {}, {}
    for key in sorted(only & set(jobs)):
        fn, cfg = jobs[key][:2]
        direct(fn, cfg, 1)
        baseline[key] = direct(fn, cfg, args.repeats)
        # and with the worker's threads, which tells the reserved core's cost from the watching's
        threads = torch.get_num_threads()
        torch.set_num_threads(worker_threads())
        same_threads[key] = direct(fn, cfg, args.repeats)
        torch.set_num_threads(threads)
    if "playground" in only:  # the same network trained directly (the baseline)
        pg = Playground(PlaygroundConfig(dataset="spirals", hidden=(8, 8), activation="tanh", lr=0.03, batch_size=10,
                                         features=("x1", "x2")))
        pg.train_epochs(20)
        t0 = time.perf_counter()
        pg.train_epochs(300)
        pg_direct = 300 / (time.perf_counter() - t0)

    server = Server(app_data)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            usage = Usage(server.proc.pid, page.context.new_cdp_session(page))
            page.goto(server.url)
            wait_idle(page)
            runs = {}
            for key in sorted(only & set(jobs)):
                where = jobs[key][2:]
                watched(page, server.url, *where, usage, wait_idle)  # warm-up: the worker's first imports and data
                runs[key] = [watched(page, server.url, *where, usage, wait_idle) for _ in range(args.repeats)]
            if "playground" in only:
                play = playground(page, server.url, app_data, usage, args.window, args.pauses, wait_idle)
            browser.close()
    finally:
        server.stop()

    def summary(direct_s: list[float], same_s: list[float], runs: list[tuple[float, float, dict]]) -> dict:
        job = [r[0] for r in runs]
        ratio = statistics.median(job) / statistics.median(direct_s)
        return {"direct_s": [round(v, 2) for v in direct_s],
                f"direct_{worker_threads()}_threads_s": [round(v, 2) for v in same_s], "watched_job_s": job,
                "watched_wall_s": [round(r[1], 2) for r in runs], "usage": [r[2] for r in runs],
                "watched_over_direct": round(ratio, 3),
                "watched_over_direct_at_worker_threads": round(statistics.median(job) / statistics.median(same_s), 3),
                "target": "<= 1.3", "met": ratio <= 1.3}

    names = {"race": "optimizer_race", "cnn": "cnn_lenet5"}
    out["worker_threads"] = worker_threads()
    for key in runs:
        out[names[key]] = summary(baseline[key], same_threads[key], runs[key])
    if "playground" in only:
        out["playground"] = {"setup": PLAYGROUND, "epochs_per_s_direct": round(pg_direct, 1), **play,
                             "target": ">= 60 epochs/s watched, pause <= 0.2 s",
                             "met": bool(play["epochs_per_s_watched"] >= 60 and max(play["pause_training_s"]) <= 0.2)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
