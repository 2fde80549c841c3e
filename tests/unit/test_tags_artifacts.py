"""One tag vocabulary for runs (core/tags.py, listed in docs/tracking.md, used by the Runs filters) and the
one renderer a run is handed for every PNG it logs (core/artifacts.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core import artifacts, tracking
from core import runs as R

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_list_exactly_the_tags_a_run_accepts() -> None:
    listed = re.findall(r"^\| `([^`]+)` \|", (ROOT / "docs" / "tracking.md").read_text(), re.M)
    assert listed == list(tracking.TAGS)
    assert all(t.startswith("dll.") for t in tracking.TAGS)


def test_a_run_refuses_a_tag_outside_the_vocabulary(fresh_store) -> None:
    with pytest.raises(ValueError, match="unknown run tag.*kind"):
        tracking.start_run("demo", tags={"kind": "gan"})
    with tracking.start_run("demo", tags={tracking.TAG_KIND: "gan", "mlflow.note.content": "MLflow's own"}) as run:
        with pytest.raises(ValueError, match="unknown run tag.*model"):
            run.set_tags({"model": "vae"})
        run.set_tags({tracking.TAG_VARIANT: "a"})
    row = tracking.search_runs().iloc[0]
    assert row["tags.dll.kind"] == "gan" and row["tags.dll.variant"] == "a"


class Recorder:
    """A renderer that records what it was asked for (a run is handed its renderer)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def curves_png(self, *args, **kwargs):
        self.calls.append(("curves_png", args, kwargs))
        return np.zeros((3, 4, 3), np.uint8)

    def confusion_png(self, *args, **kwargs):
        raise RuntimeError("no fonts here")


def test_a_run_draws_only_through_the_renderer_it_is_handed(fresh_store) -> None:
    fake = Recorder()
    with tracking.start_run("demo", renderer=fake) as run:
        assert run.log_curves({"loss": ([1, 2], [3.0, 2.0])}, "loss_curve", title="Loss", log_y=True)
        assert not run.log_confusion(np.eye(2), ["a", "b"])  # a drawing error never fails the run
    assert fake.calls == [("curves_png", ({"loss": ([1, 2], [3.0, 2.0])},), {"title": "Loss", "log_y": True})]
    assert run.status == "FINISHED" and any("confusion_matrix" in w and "no fonts here" in w for w in run.warnings)
    images = tracking.image_artifacts(run.run_id)
    assert [p for p, _ in images] == ["images/loss_curve.png"]
    with tracking.start_run("demo") as plain:  # by default: core.artifacts
        assert plain.renderer is artifacts
        plain.log_tiles(np.ones((3, 2, 2)), "tiles", cols=2, pad=1)
    (_, data), = tracking.image_artifacts(plain.run_id)
    import io

    # two rows of 2×2 tiles, 2 a row, 1 pixel apart and around: (1 + 2 + 1 + 2 + 1) × (1 + 2 + 1 + 2 + 1)
    assert Image.open(io.BytesIO(data)).size == (7, 7)


def test_the_one_tiler_lays_images_out_row_by_row() -> None:
    imgs = np.stack([np.full((2, 3), v, np.float32) for v in (0.1, 0.2, 0.3)])
    grid = artifacts.image_grid(imgs, cols=2, pad=1, background=1.0, border=False)
    assert grid.shape == (2 + 1 + 2, 3 + 1 + 3)
    assert (grid[:2, :3] == np.float32(0.1)).all() and (grid[:2, 4:] == np.float32(0.2)).all()
    assert (grid[3:, :3] == np.float32(0.3)).all() and (grid[3:, 4:] == 1.0).all() and (grid[2] == 1.0).all()


def test_the_runs_filter_reads_the_kind_tag() -> None:
    df = pd.DataFrame({"run_id": ["a", "b", "c"], "experiment": ["generative"] * 3, "status": ["FINISHED"] * 3,
                       "run_name": ["g", "v", "t"], "tags.dll.kind": ["gan", "vae", None],
                       "tags.dll.variant": ["x", "y", "z"]})
    assert R.tag_values(df, tracking.TAG_KIND) == ["gan", "vae"]
    assert list(R.filter_runs(df, kinds=["gan"])["run_id"]) == ["a"]
    assert list(R.filter_runs(df, kinds=["gan", "vae"])["run_id"]) == ["a", "b"]
    assert list(R.filter_runs(df, text="vae")["run_id"]) == ["b"]  # the search reads the kind too
    assert list(R.filter_runs(df, text="z")["run_id"]) == ["c"]  # and the variant
    assert R.filter_runs(df.drop(columns=["tags.dll.kind"]), kinds=["gan"]).empty
