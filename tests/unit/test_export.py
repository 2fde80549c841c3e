"""Export as code (core/export): the notebooks of the playground, the optimizer race and the CNN training,
run headless with nbclient, give back the final metrics of the lab's tracked run of the same set-up.

Tolerance: relative 1e-4. The notebooks draw the same random numbers in the same order and do the same
tensor operations as the lab's engine on one CPU, so in practice the numbers are bit-identical; the
tolerance only leaves room for a different CPU's kernels. Each comparison also shows that the lab's value
one epoch earlier lies outside it (a check that a notebook one epoch off would fail).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from core import tracking
from core.basics.playground import FEATURES, Playground, PlaygroundConfig, PlayRequest, play
from core.cnn.training import TrainConfig, run_cnn
from core.data.toy import PointSet
from core.export.builder import export
from core.export.notebook import Export, code
from core.export.playground import FEATURE_CODE, playground
from core.export.snippets import optimizer_cells
from core.optimizers.race import RaceConfig, run_race
from core.optimizers.rules import make_optimizer
from core.regularization.experiments import OverfitConfig, run_overfit
from core.regularization.lab import Setup

CPU = torch.device("cpu")
REL = 1e-4
PG = PlaygroundConfig(dataset="spirals", n_classes=3, points=150, hidden=(5,), features=("x1", "x2", "sin(x1)"),
                      activation="ReLU", lr=0.1, batch_size=8, regularization="L2", reg_rate=0.01)
RACE = RaceConfig(dataset="digits", optimizers=("Momentum", "Adam"), learning_rates=(0.1, 0.002), hidden=(16,),
                  epochs=2, batch_size=64)
CNN = TrainConfig(dataset="digits", model="LeNet-5", epochs=2, max_train=200, batch_size=64)
OVERFIT = OverfitConfig(Setup(dataset="digits", n_train=60, hidden=(32, 32), epochs=3, batch_size=16), lam=2.0,
                        keep_prob=0.7)


def run_notebook(ex: Export, folder: Path) -> dict:
    """Execute the export's notebook in a fresh python3 kernel; the ``final`` its last cell prints."""
    nb = nbformat.reads(ex.notebook(), as_version=4)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return json.loads("".join(out.get("text", "") for out in nb.cells[-1].outputs))


def close(a: float, b: float) -> bool:
    return abs(a - b) <= REL * max(abs(b), 1e-12)


def test_the_playground_notebook_ends_where_the_tracked_run_ends(fresh_store, tmp_path):
    lab = play(None, PlayRequest(Playground(PG).state(), epochs=12))
    final = run_notebook(export(PG, epochs=12), tmp_path)
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        tracked = tracking.metric_history(lab.state.run_id, key)["value"].tolist()
        assert len(tracked) == 13  # epoch 0 and 12 epochs
        assert close(final[key], tracked[-1]), (key, final[key], tracked[-1])
    earlier = tracking.metric_history(lab.state.run_id, "test_loss")["value"].tolist()[-2]
    assert not close(final["test_loss"], earlier)  # one epoch less is outside the tolerance


def test_the_race_notebook_gives_each_optimizers_tracked_numbers(fresh_store, tmp_path):
    result = run_race(None, RACE, device=CPU)
    final = run_notebook(export(RACE, device="cpu"), tmp_path)
    runs = tracking.search_runs()
    assert sorted(final) == sorted(RACE.optimizers) and len(runs) == 2
    for _, run in runs.iterrows():
        mine = final[run["params.optimizer"]]
        for key in ("final_dev_loss", "final_dev_accuracy", "final_train_loss"):
            assert close(mine[key], run[f"metrics.{key}"]), (run["params.optimizer"], key)
    lane = next(ln for ln in result.lanes if ln.name == "Adam")
    assert not close(final["Adam"]["final_dev_loss"], lane.history.epochs[0]["dev_loss"])


def test_the_cnn_notebook_gives_the_tracked_runs_numbers(fresh_store, tmp_path):
    result = run_cnn(None, CNN, device=CPU)
    final = run_notebook(export(CNN, device="cpu"), tmp_path)
    run = tracking.search_runs().iloc[0]
    for key in ("final_dev_loss", "final_dev_accuracy", "final_train_loss", "final_train_accuracy"):
        assert close(final[key], run[f"metrics.{key}"]), key
    assert not close(final["final_dev_loss"], result.lane.history.epochs[0]["dev_loss"])


def test_the_overfitting_export_gives_both_runs_numbers(fresh_store):
    """L2 and inverted dropout: the masks come from the same seeded generator as in the lab's lanes."""
    result = run_overfit(None, OVERFIT, device=CPU)
    final = _exec_cells(export(OVERFIT, device="cpu"))["final"]
    runs = tracking.search_runs()
    assert sorted(final) == sorted(runs["params.lane"]) == ["no regularization", "λ=2, keep_prob=0.7"]
    for _, run in runs.iterrows():
        for key in ("final_dev_loss", "final_train_loss", "final_dev_accuracy"):
            assert close(final[run["params.lane"]][key], run[f"metrics.{key}"]), (run["params.lane"], key)
    lane = next(ln for ln in result.lanes if ln.name != "no regularization")
    assert not close(final[lane.name]["final_dev_loss"], lane.history.epochs[-2]["dev_loss"])


def _exec_cells(ex: Export) -> dict:
    """The export's code cells run one after the other in this process (as a kernel would); its scope."""
    threads, scope = torch.get_num_threads(), {}
    try:
        exec(compile("\n\n".join(c.text for c in ex.cells if c.kind == "code"), ex.name, "exec"), scope)  # noqa: S102
    finally:
        torch.set_num_threads(threads)
    return scope


@pytest.mark.parametrize("cfg", [
    PlaygroundConfig(dataset="multi-gaussian", points=120, hidden=(5, 3), activations=("ReLU", "tanh"), noise=0.1,
                     batch_size=10, features=("x1", "x2", "x1·x2")),
    PlaygroundConfig(dataset="csv", n_classes=3, hidden=(4,), regularization="L1", reg_rate=0.03, upload=PointSet(
        tuple((i % 7 - 3.0, i % 5 * 0.5) for i in range(40)), tuple(float(i % 3) for i in range(40)), "classification",
        ("a", "b", "c"), "mine.csv")),
])
def test_regression_sets_and_your_own_points_export_too(fresh_store, cfg):
    lab = play(None, PlayRequest(Playground(cfg).state(), epochs=6))
    final = _exec_cells(export(cfg, epochs=6))["final"]
    assert final.keys() == {k for k in lab.state.history[-1] if k != "epoch"}
    for key, value in final.items():
        assert close(value, lab.state.history[-1][key]), key
    assert not close(final["test_loss"], lab.state.history[-2]["test_loss"])


def test_the_script_is_the_notebook_as_one_file(fresh_store, tmp_path):
    """The .py runs on its own with Python and prints the same final numbers as the lab's run."""
    cfg = dataclasses.replace(PG, regularization="L1", batch_size=100, hidden=(4, 3), activations=("tanh", "sigmoid"))
    lab = play(None, PlayRequest(Playground(cfg).state(), epochs=5))
    ex = export(cfg, epochs=5)
    script = tmp_path / f"{ex.name}.py"
    script.write_text(ex.script(), encoding="utf-8")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    final = json.loads(out.stdout[out.stdout.rindex("{\n"):])
    assert close(final["test_loss"], lab.state.history[-1]["test_loss"])
    assert not close(final["test_loss"], lab.state.history[-2]["test_loss"])


@pytest.mark.parametrize("cfg", [PG, RACE, CNN, dataclasses.replace(CNN, model="ResNet-20", dataset="cifar10"),
                                 dataclasses.replace(RACE, dataset="moons", optimizers=("Gradient descent",),
                                                     learning_rates=(0.1,)), OVERFIT])
def test_every_export_is_a_valid_notebook_explained_step_by_step_without_the_lab(cfg):
    ex = export(cfg)
    nb = nbformat.reads(ex.notebook(), as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 5 and kinds.count("code") >= 5
    script = ex.script()
    tree = ast.parse(script)  # the .py is valid Python
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m and m.split(".")[0] in ("core", "ui", "pages")}, imported
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.source in script


def test_each_feature_in_the_notebook_is_the_labs_feature():
    x1, x2 = torch.randn(50), torch.randn(50)
    for name, fn in FEATURES.items():
        written = eval(f"lambda x1, x2: {FEATURE_CODE[name]}", {"torch": torch})  # noqa: S307 - our own constant
        assert torch.equal(written(x1, x2), fn(x1, x2)), name
    wrong = eval("lambda x1, x2: x1 * x2", {"torch": torch})  # noqa: S307
    assert not torch.equal(wrong(x1, x2), FEATURES["x1²"](x1, x2))


def _notebook_optimizer(name: str, params, lr: float, **kw):
    scope = {"torch": torch, "math": __import__("math")}
    exec(optimizer_cells([name])[1].text, scope)  # noqa: S102 - the export's own cell
    return scope["make_optimizer"](name, params, lr, **kw)


@pytest.mark.parametrize("name", ["Gradient descent", "Momentum", "Adagrad", "RMSprop", "Adam"])
def test_the_notebooks_update_rules_are_the_courses(name):
    torch.manual_seed(0)
    target = torch.randn(6)
    a, b = torch.randn(6, requires_grad=True), None
    b = a.detach().clone().requires_grad_(True)
    ours = make_optimizer(name, [a], 0.05, beta=0.8, beta1=0.7, beta2=0.99, eps=0.1)
    theirs = _notebook_optimizer(name, [b], 0.05, beta=0.8, beta1=0.7, beta2=0.99, eps=0.1)
    for _ in range(6):
        for p, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            ((p - target) ** 4).sum().backward()
            opt.step()
    assert torch.equal(a, b)


def test_pytorchs_own_rmsprop_would_not_match_the_course():
    """Why the notebook writes the rules out: torch.optim.RMSprop adds ε outside the root."""
    a = torch.ones(3, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    ours = make_optimizer("RMSprop", [a], 0.1, beta=0.9, eps=0.1)
    torch_rms = torch.optim.RMSprop([b], lr=0.1, alpha=0.9, eps=0.1)
    for p, opt in ((a, ours), (b, torch_rms)):
        (p * 2).sum().backward()
        opt.step()
    assert not torch.allclose(a, b, rtol=REL)


def test_values_enter_the_code_as_literals():
    cell = code("name = $v", v='x"; import os; "')
    tree = ast.parse(cell.text)
    assert len(tree.body) == 1 and isinstance(tree.body[0].value, ast.Constant)
    assert tree.body[0].value.value == 'x"; import os; "'
    with pytest.raises(ValueError, match=r"\$w"):
        code("a = $w")


def test_set_ups_the_export_cannot_reproduce_are_refused_plainly():
    with pytest.raises(ValueError, match="no export"):
        export(object())
    with pytest.raises(ValueError, match="epochs"):
        export(PG, epochs=0)
    with pytest.raises(ValueError, match="device"):
        export(CNN, device="tpu")

    @dataclasses.dataclass(frozen=True)
    class Newer(PlaygroundConfig):
        momentum: float = 0.0

    assert playground(Newer(momentum=0.0), epochs=3).cells  # a newer setting at its default is fine
    with pytest.raises(ValueError, match="momentum"):
        playground(Newer(momentum=0.9), epochs=3)
