"""The Runs page's issue-20 tabs in headless Chromium: mean ± std over seeds, settings' importance and
images on one step slider, on runs logged straight into the served app's tracking store."""

from dataclasses import dataclass

import numpy as np
import pytest

from tests.browser.conftest import no_exception, shot, wait_idle

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class SweepCfg:
    lr: float
    optimizer: str
    seed: int


def _log_sweep(uri: str) -> None:
    """Six runs started together: two learning rates × three seeds; the seed-0 runs log samples per epoch."""
    from core import tracking

    rng = np.random.default_rng(0)
    for lr, final in ((0.1, 0.3), (0.01, 0.55)):
        for seed in range(3):
            cfg = SweepCfg(lr, "adam", seed)
            with tracking.start_run("optimizers", cfg, run_name=f"sweep lr={lr} seed={seed}", uri=uri,
                                    tags={tracking.TAG_COMPARISON: "browser-seed-sweep"}) as run:
                noise = rng.normal(scale=0.03, size=20)
                for step in range(20):
                    run.log_metrics({"dev_loss": final + 1.5 * np.exp(-step / 4) + noise[step]}, step)
                if seed == 0:
                    for epoch in (1, 2, 3):
                        shade = np.linspace(0, 1, 32 * 32).reshape(32, 32) ** (1 / epoch)
                        run.log_image(np.stack([shade, shade * (lr * 5), 1 - shade], axis=-1),
                                      f"samples_epoch_{epoch:03d}")


def test_runs_seeds_importance_and_stepped_images(page, app_url, app_data):
    _log_sweep(f"sqlite:///{app_data / 'mlflow.db'}")
    page.goto(f"{app_url}/runs")
    wait_idle(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Add a comparison").click()
    page.keyboard.type("6 runs")  # the served app's store also holds other tests' comparisons: filter the list
    page.get_by_role("option").filter(has_text="optimizers · 6 runs").first.click()
    wait_idle(page)
    page.get_by_text("6 runs selected").wait_for(timeout=30_000)

    page.get_by_role("tab", name="Over seeds").click()
    wait_idle(page)
    seeds = page.get_by_role("tabpanel", name="Over seeds")
    seeds.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(state="visible")
    assert seeds.get_by_text("mean ± std over seeds").count() >= 1
    no_exception(page)
    shot(page, "runs-browser-seeds")

    page.get_by_role("tab", name="Importance").click()
    wait_idle(page)
    imp = page.get_by_role("tabpanel", name="Importance")
    imp.get_by_text("Which settings moved").first.wait_for(timeout=30_000)
    no_exception(page)
    shot(page, "runs-browser-importance")

    page.get_by_role("tab", name="Images").click()
    wait_idle(page)
    images = page.get_by_role("tabpanel", name="Images")
    images.get_by_text("Step by step").wait_for(timeout=30_000)
    assert images.locator('[data-testid="stSlider"]').count() == 1
    no_exception(page)
    shot(page, "runs-browser-images")
