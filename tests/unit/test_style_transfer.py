"""The style transfer engine: image preparation, settings, costs, the closure step in the one loop, the tracked jobs.

Everything runs on tiny images (32 px) with a seeded random-init VGG-19 passed in explicitly (no weights
file is needed). References: the course's costs recomputed here in numpy from the extractor's activations
(never through ``core.style.costs``), pixel geometry worked out by hand, and the tracking store read back
through ``core.tracking``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core import artifacts, tracking
from core.device import fast_bf16, seed_everything
from core.jobs import FINISHED, KILLED, Outcome, Recorder, run_job
from core.style import transfer as T
from core.style import vgg
from core.style.reconstruct import ReconstructConfig, ReconstructRequest, run_reconstructions
from core.training import Callback, CancelToken, Loop, Step, TrainingCancelled, TrainingDiverged
from tests.contexts import StopAfter
from tests.plain import assert_plain

CPU = torch.device("cpu")
NOTE = "VGG-19 runs with random weights in this test."

@pytest.fixture(scope="module")
def net() -> torch.nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return vgg.build_features()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One empty tracking store for this module's jobs, like ``fresh_store`` but shared: creating an MLflow store
    costs seconds, so the tests share it and find their own run by its id (or count the runs a call adds)."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("style-store")
        mp.setenv("DLL_DATA_DIR", str(path))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield path


def _run(run_id: str):
    df = tracking.search_runs()
    rows = df[df["run_id"] == run_id]
    assert len(rows) == 1
    return rows.iloc[0]


def _content() -> Image.Image:
    img = Image.new("RGB", (48, 32), (40, 90, 160))
    draw = ImageDraw.Draw(img)
    draw.rectangle((5, 5, 20, 25), fill=(230, 60, 40))
    draw.ellipse((26, 6, 44, 28), fill=(250, 230, 80))
    return img


def _style() -> Image.Image:
    a = np.full((40, 60, 3), 230, np.uint8)
    a[:, ::4] = (20, 200, 60)
    a[::5, :] = (200, 20, 200)
    return Image.fromarray(a)


def _tensor(img: Image.Image) -> torch.Tensor:
    """[1, 3, H, W] in [0, 1], straight from the pixels (not through core's image_tensor)."""
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def _pair(size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    c, s = T.prepare_pair(_content(), _style(), size)
    return _tensor(c), _tensor(s)


def _config(**kw) -> T.StyleConfig:
    base = dict(content_layer="conv2_2", style_layers=(("conv1_1", 0.3), ("conv2_1", 0.7)), alpha=1.0, beta=0.0,
                style_strength=None, steps=15, size=32, optimizer="L-BFGS", learning_rate=1.0, init="noise",
                precision="fp32")
    return T.StyleConfig(**{**base, **kw})


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


def _gram(a: np.ndarray) -> np.ndarray:
    """G_kk' = Σ_i Σ_j a_ijk a_ijk' of one image's [1, C, H, W] activations."""
    f = a[0].reshape(a.shape[1], -1)
    return np.einsum("km,lm->kl", f, f)


def _course_costs(acts_c, acts_s, acts_g, cfg: T.StyleConfig, beta: float) -> dict[str, float]:
    """J_content, J_style (λ-weighted) and J = α J_content + β J_style with the course formulas, in numpy."""
    out: dict[str, float] = {}
    jc = 0.5 * float(((_np(acts_c[cfg.content_layer]) - _np(acts_g[cfg.content_layer])) ** 2).sum()) if cfg.alpha else 0.0
    js = 0.0
    for name, lam in cfg.style_weights.items():
        a_s, a_g = _np(acts_s[name]), _np(acts_g[name])
        _, n_c, n_h, n_w = a_g.shape
        j = float(((_gram(a_s) - _gram(a_g)) ** 2).sum()) / (2.0 * n_h * n_w * n_c) ** 2
        out[f"J_style/{name}"] = j
        js += lam * j
    out.update(J_content=jc, J_style=js, J_total=cfg.alpha * jc + beta * js)
    return out


def _request(cfg: T.StyleConfig) -> T.StyleRequest:
    return T.StyleRequest(cfg, _content(), _style(), content_name="shapes", style_name="stripes")


# ========================================================================================== images


def test_fit_size_keeps_the_aspect_with_the_longer_side_at_size():
    wide, tall = Image.new("RGB", (300, 200)), Image.new("L", (200, 300))
    assert T.fit_size(wide, 64).size == (64, 43)  # 200 · 64/300 = 42.7
    assert T.fit_size(tall, 64).size == (43, 64) and T.fit_size(tall, 64).mode == "RGB"
    assert T.fit_size(Image.new("RGB", (20, 10)), 64).size == (64, 32)  # small images are scaled up
    assert T.fit_size(Image.new("RGBA", (64, 40)), 64).size == (64, 40)
    w, h = T.fit_size(Image.new("RGB", (333, 121)), 100).size
    assert w == 100 and abs(w / h - 333 / 121) < 333 / 121 / h


def test_prepare_pair_crops_the_style_to_the_contents_exact_size():
    content, style = Image.new("RGB", (300, 200), (10, 20, 30)), Image.new("RGB", (100, 300), (200, 100, 0))
    c, s = T.prepare_pair(content, style, 64)
    assert c.size == s.size == (64, 43) and c.mode == s.mode == "RGB"
    c2, none = T.prepare_pair(content, None, 48)
    assert c2.size == (48, 32) and none is None


def test_cover_crop_fills_the_target_with_the_centre_and_leaves_no_border():
    # uniform pictures of any shape: every pixel of the crop is that colour (no padding anywhere)
    for src in ((200, 50), (50, 200), (7, 9), (64, 43)):
        for target in ((40, 40), (64, 20), (20, 64)):
            out = T.cover_crop(Image.new("RGB", src, (200, 30, 90)), target)
            arr = np.asarray(out).astype(int)
            assert out.size == target and np.abs(arr - (200, 30, 90)).max() <= 1, (src, target)
    # a 200x50 picture, left half red, right half blue, covering 40x40: scaled to 160x40, columns 60..100 kept
    a = np.zeros((50, 200, 3), np.uint8)
    a[:, :100] = (255, 0, 0)
    a[:, 100:] = (0, 0, 255)
    out = np.asarray(T.cover_crop(Image.fromarray(a), (40, 40))).astype(int)
    assert (np.abs(out[:, :17] - (255, 0, 0)).max(), np.abs(out[:, 23:] - (0, 0, 255)).max()) == (0, 0)
    # a vertical ramp: the central band (rows 1/4 .. 3/4 of a 64x256 scaled copy) for a 64x20 target
    ramp = np.repeat(np.linspace(0, 255, 200)[:, None], 50, axis=1)
    out = np.asarray(T.cover_crop(Image.fromarray(np.stack([ramp] * 3, -1).astype(np.uint8)), (64, 20)))
    assert abs(out.mean() - 127.5) < 2 and out[:, :, 0].std(axis=1).max() < 1  # centred, rows stay uniform


def test_to_tensor_and_to_uint8_round_trip():
    img = _content()
    x = T.image_tensor(img)
    assert x.shape == (1, 3, 32, 48) and x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1
    torch.testing.assert_close(x, _tensor(img))
    assert np.array_equal(T.to_uint8(x), np.asarray(img))
    out = T.to_uint8(x[0] * 2 - 0.5)  # [3, H, W] too; values outside [0, 1] are clipped
    expected = (np.asarray(img) / 255 * 2 - 0.5).clip(0, 1) * 255
    assert out.dtype == np.uint8 and out.shape == (32, 48, 3) and np.abs(out - expected).max() <= 0.5 + 1e-4


def test_progress_frames_are_the_first_last_and_evenly_picked_snapshots_tiled_side_by_side():
    snaps = [(k, np.full((10, 6, 3), k, np.uint8)) for k in range(11)]
    frames = T.progress_frames(snaps, most=4)
    assert frames.shape == (4, 10, 6, 3) and frames.dtype == np.uint8
    assert [int(f[0, 0, 0]) for f in frames] == [0, 3, 7, 10]  # indices round(i · 10 / 3)
    strip = artifacts.image_grid(frames / 255, len(frames), **T.PROGRESS_TILES)  # as the run logs and the page shows it
    assert strip.shape == (10, 4 * 6 + 3 * 4, 3)
    assert [round(float(strip[5, i * 10, 0]) * 255) for i in range(4)] == [0, 3, 7, 10]
    assert (strip[:, 6:10] == 1).all()  # 4-px white gaps
    assert T.progress_frames(snaps[:1]).shape == (1, 10, 6, 3)
    with pytest.raises(ValueError):
        T.progress_frames([])


# ======================================================================================== settings


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(content_layer="conv9_9"), "Content layer: 'conv9_9' is not one of"),
        (dict(style_layers=(("conv1_1", 0.5), ("conv0_1", 0.5))), "unknown VGG-19 layer 'conv0_1'"),
        (dict(style_layers=(("conv1_1", 0.5), ("conv1_1", 0.5))), "listed once"),
        (dict(style_layers=(("conv1_1", -0.5),)), "λ must be finite and at least 0"),
        (dict(style_layers=(("conv1_1", math.inf),)), "λ must be finite and at least 0"),
        (dict(alpha=-1.0), "α (content weight) must be between 0 and 1,000,000"),
        (dict(beta=math.nan), "β must be a number between 0 and"),
        (dict(style_strength=0.0), "style strength must be a positive number"),
        (dict(style_strength=-2.0), "style strength must be a positive number"),
        (dict(alpha=0.0, beta=0.0), "α and β are both 0"),
        (dict(content_layer=""), "α > 0 needs a content layer"),
        (dict(beta=1.0, style_layers=(("conv1_1", 0.0),)), "at least one style layer with a weight above 0"),
        (dict(steps=0), "Steps must be above 0 and at most 1,000"),
        (dict(steps=1001), "Steps must be above 0 and at most 1,000"),
        (dict(size=16), "Image size (longer side, px) must be between 32 and 1,024"),
        (dict(size=2048), "Image size (longer side, px) must be between 32 and 1,024"),
        (dict(size=300, max_size=256), "Image size (longer side, px) must be between 32 and 256 pixels on this device, got 300"),
        (dict(optimizer="SGD"), "Optimizer: 'SGD' is not one of L-BFGS, Adam"),
        (dict(learning_rate=0.0), "Learning rate must be between 0.0001 and 10"),
        (dict(learning_rate=math.inf), "Learning rate must be a number between 0.0001 and 10"),
        (dict(init="zeros"), "Start from: 'zeros' is not one of content, noise"),
        (dict(pooling="min"), "Pooling in VGG-19: 'min' is not one of max, avg"),
        (dict(precision="fp16"), "Precision: 'fp16' is not one of auto, fp32"),
        (dict(every=0), "Show the image every … steps must be between 1 and 50"),
    ],
)
def test_style_config_rejects_bad_settings_with_a_plain_message(kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _config(**kw)


def test_style_config_defaults_and_derived_properties():
    cfg = T.StyleConfig()
    assert cfg.content_layer == "conv4_2" and [n for n, _ in cfg.style_layers] == list(vgg.STYLE_LAYERS_GATYS)
    assert cfg.style_on and cfg.layers == ("conv4_2", *vgg.STYLE_LAYERS_GATYS)
    default, cap = T.size_limits("cpu")
    assert 32 <= default <= cap and cfg.size <= cap
    cfg = _config(style_layers=(("conv1_1", 0.0), ("conv3_1", 2.0)), beta=5.0)
    assert cfg.style_weights == {"conv3_1": 2.0} and cfg.layers == ("conv2_2", "conv3_1")
    assert _config(alpha=0.0, beta=1.0).layers == ("conv1_1", "conv2_1")  # style only: no content layer read
    assert _config(beta=0.0).layers == ("conv2_2",) and not _config(beta=0.0).style_on
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.steps = 3


# ============================================================================================ costs


def test_transfer_costs_equal_the_course_costs_computed_independently(net):
    cfg = _config(alpha=2.0, beta=50.0)
    c, s = _pair()
    tr = T.Transfer(cfg, c, s, net, CPU)
    assert tr.beta == 50.0 and not tr.bf16
    x = torch.rand(c.shape, generator=torch.Generator().manual_seed(3)).requires_grad_(True)
    got = tr.costs(x)
    ext = vgg.Extractor(net, cfg.layers)
    with torch.no_grad():
        ref = _course_costs(ext(c), ext(s), ext(x), cfg, beta=50.0)
    row = got.row()
    assert set(row) == set(ref)
    for key, value in ref.items():
        assert row[key] == pytest.approx(value, rel=1e-4), key
    assert got.total.dtype == torch.float32 and ref["J_content"] > 0 and ref["J_style"] > 0
    got.total.backward()  # differentiable in the pixels
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # the content image scores 0 content cost; the style image scores 0 style cost
    assert float(tr.costs(c).content) == pytest.approx(0.0, abs=1e-6)
    assert float(tr.costs(s).style) == pytest.approx(0.0, abs=1e-9)


def test_balanced_beta_is_r_alpha_jcontent_of_style_over_jstyle_of_content(net):
    cfg = _config(alpha=3.0, style_strength=0.3)
    c, s = _pair()
    tr = T.Transfer(cfg, c, s, net, CPU)
    ext = vgg.Extractor(net, cfg.layers)
    with torch.no_grad():
        a_c, a_s = ext(c), ext(s)
    j_content_cs = _course_costs(a_c, a_s, a_s, cfg, 0.0)["J_content"]  # J_content(C, S): the style image as G
    j_style_sc = _course_costs(a_c, a_s, a_c, cfg, 0.0)["J_style"]  # J_style(S, C): the content image as G
    expected = 0.3 * 3.0 * j_content_cs / j_style_sc
    assert tr.balanced_beta(0.3) == pytest.approx(expected, rel=1e-4)
    assert tr.balance() == pytest.approx(expected, rel=1e-4) and tr.beta == pytest.approx(expected, rel=1e-4)
    assert tr.balanced_beta(0.6) == pytest.approx(2 * expected, rel=1e-4)  # linear in r
    # nothing to balance: style only (α = 0), or a style image with the content's own statistics
    assert T.Transfer(_config(alpha=0.0, style_strength=0.3), c, s, net, CPU).balance() == 1.0
    assert T.Transfer(cfg, c, c.clone(), net, CPU).balance() == 1.0
    # β as given when there is no style strength
    assert T.Transfer(_config(beta=7.0), c, s, net, CPU).balance() == 7.0


def test_transfer_rejects_missing_or_mismatched_style_images(net):
    c, s = _pair()
    with pytest.raises(ValueError, match="needs a style image"):
        T.Transfer(_config(beta=1.0), c, None, net, CPU)
    with pytest.raises(ValueError, match="differ in shape"):
        T.Transfer(_config(beta=1.0), c, s[..., :-2], net, CPU)


@pytest.mark.skipif(not fast_bf16(CPU), reason="this CPU has no native bf16 units: precision 'auto' is fp32 here")
def test_bf16_costs_are_within_a_few_percent_of_fp32(net):
    c, s = _pair()
    x = torch.rand(c.shape, generator=torch.Generator().manual_seed(5))
    fp32 = T.Transfer(_config(beta=10.0), c, s, net, CPU)
    auto = T.Transfer(_config(beta=10.0, precision="auto"), c, s, net, CPU)
    assert auto.bf16 and not fp32.bf16
    a, b = auto.costs(x), fp32.costs(x)
    assert a.total.dtype == torch.float32  # the costs themselves stay in float32
    for key, value in b.row().items():
        assert a.row()[key] == pytest.approx(value, rel=0.05), key


# ======================================================================================== optimise


class _Seen(Callback):
    """Records every step the loop reports: (step, values, the image after the step)."""

    def __init__(self, stop_at: int | None = None, token: CancelToken | None = None):
        self.rows: list[tuple[int, dict, torch.Tensor]] = []
        self.loop: Loop | None = None
        self.stop_at, self.token = stop_at, token

    def on_step(self, step, epoch, values):
        self.rows.append((step, dict(values), self.loop.step.image.clone()))
        if step == self.stop_at:
            self.token.cancel()


def _record(transfer, **kw):
    seen = _Seen()
    loop = T.style_loop(transfer, callbacks=[seen], **kw)
    seen.loop = loop
    loop.run(1)
    return loop.step.image, seen.rows


def test_the_style_step_is_a_closure_step_of_the_one_loop(net):
    c, s = _pair()
    tr = T.Transfer(_config(beta=5.0), c, s, net, CPU)
    loop = T.style_loop(tr, steps=7)
    step = loop.step
    assert isinstance(step, T.StyleStep) and isinstance(step, Step) and loop.sync_every == 1
    assert step.monitor == "J_total" and step.bound is None  # NaN/inf only: no explosion bound
    assert step.advice == "try a smaller learning rate or β, or Adam instead of L-BFGS"
    assert isinstance(step.opt, torch.optim.LBFGS) and step.opt.defaults["max_iter"] == 1
    assert isinstance(T.StyleStep(T.Transfer(_config(optimizer="Adam", learning_rate=0.1), c, s, net, CPU)).opt,
                      torch.optim.Adam)
    hist = loop.run(1)
    assert hist.steps_done == 7 and len(hist.epochs) == 1  # one epoch of `steps` steps
    assert set(hist.step_values) == {"J_content", "J_style", "J_style/conv1_1", "J_style/conv2_1"}
    with pytest.raises(ValueError, match="at least 1"):
        T.StyleStep(tr, steps=0)


@pytest.mark.parametrize("optimizer, lr", [("L-BFGS", 1.0), ("Adam", 0.05)])
def test_optimize_lowers_the_cost_from_noise_and_reports_the_course_j(net, optimizer, lr):
    c, _ = _pair()
    cfg = _config(optimizer=optimizer, learning_rate=lr, steps=15)
    tr = T.Transfer(cfg, c, None, net, CPU)
    start = tr.start_image(torch.Generator().manual_seed(0))
    image, seen = _record(tr, generator=torch.Generator().manual_seed(0))
    assert [k for k, _, _ in seen] == list(range(1, 16))  # on_step once per step
    js = [row["J_total"] for _, row, _ in seen]
    assert js[-1] < 0.6 * js[0], js
    assert image.shape == c.shape and 0 <= float(image.min()) and float(image.max()) <= 1
    assert all(0 <= float(img.min()) and float(img.max()) <= 1 for _, _, img in seen)
    # the optimiser minimises J / J(start) inside, but what it reports is the course's J at the image it is at:
    # step 1 reports J(start image), step k + 1 reports J of the image after step k
    with torch.no_grad():
        assert js[0] == pytest.approx(float(tr.costs(start).total), rel=1e-5)
        for (_, _, img), j_next in zip(seen[:-1], js[1:]):
            assert j_next == pytest.approx(float(tr.costs(img).total), rel=1e-5)
    assert torch.equal(image, seen[-1][2])


def test_lbfgs_rebuilds_the_content_from_conv1_2(net):
    """Content only at conv1_2 (two convolutions): L-BFGS should find the content image again from noise."""
    c, _ = _pair()
    tr = T.Transfer(_config(content_layer="conv1_2", steps=15), c, None, net, CPU)
    image, seen = _record(tr, generator=torch.Generator().manual_seed(0))
    assert seen[-1][1]["J_total"] < 0.01 * seen[0][1]["J_total"]
    assert float(((image - c) ** 2).mean()) < 0.01


def test_every_lbfgs_step_minimises_j_over_j_start(net, monkeypatch):
    """The documented objective J / J(start) holds on every step, the first one included."""
    objectives: list[float] = []
    original = torch.optim.LBFGS.step

    def step(self, closure):
        out = original(self, closure)  # L-BFGS returns the objective of its first closure call
        objectives.append(float(out.detach()))
        return out

    monkeypatch.setattr(torch.optim.LBFGS, "step", step)
    c, _ = _pair()
    tr = T.Transfer(_config(steps=4), c, None, net, CPU)
    _, seen = _record(tr, generator=torch.Generator().manual_seed(0))
    j_start = seen[0][1]["J_total"]
    assert objectives == pytest.approx([row["J_total"] / j_start for _, row, _ in seen], rel=1e-5)


def test_content_start_with_content_only_cost_starts_at_zero(net):
    c, s = _pair()
    tr = T.Transfer(_config(init="content", steps=3), c, s, net, CPU)
    assert torch.equal(tr.start_image(), c)
    image, seen = _record(tr)
    assert seen[0][1]["J_content"] == pytest.approx(0.0, abs=1e-6) and seen[0][1]["J_style"] == 0.0
    assert all(row["J_total"] == pytest.approx(0.0, abs=1e-6) for _, row, _ in seen)
    torch.testing.assert_close(image, c)  # already at the minimum: the image does not move


def test_a_cancel_after_three_steps_stops_with_the_image_so_far(net):
    c, _ = _pair()
    tr = T.Transfer(_config(optimizer="Adam", learning_rate=0.05, steps=10), c, None, net, CPU)
    token = CancelToken()
    seen = _Seen(stop_at=3, token=token)
    loop = T.style_loop(tr, callbacks=[seen], cancel=token, generator=torch.Generator().manual_seed(0))
    seen.loop = loop
    with pytest.raises(TrainingCancelled) as info:
        loop.run(1)
    assert [k for k, _, _ in seen.rows] == [1, 2, 3] and info.value.history.steps_done == 3
    assert not hasattr(info.value, "image")  # the image stays with the step, never on the exception
    image = loop.step.image
    assert torch.equal(image, seen.rows[-1][2]) and bool(torch.isfinite(image).all())
    assert 0 <= float(image.min()) and float(image.max()) <= 1
    assert not torch.equal(image, tr.start_image(torch.Generator().manual_seed(0)))  # three steps were taken


def _nan_from_second_step(monkeypatch):
    """Transfer.costs gives a NaN total from the second optimiser step on (the cost evaluations with gradients)."""
    original = T.Transfer.costs
    calls = {"grad": 0}

    def costs(self, x):
        out = original(self, x)
        if torch.is_grad_enabled() and x.requires_grad:
            calls["grad"] += 1
            if calls["grad"] >= 2:
                out.total = out.total * float("nan")
        return out

    monkeypatch.setattr(T.Transfer, "costs", costs)


NAN_AT_2 = "the cost became NaN at step 2 — try a smaller learning rate or β, or Adam instead of L-BFGS"


def test_a_nan_cost_stops_the_loop_with_the_sentence_and_keeps_the_last_good_image(net, monkeypatch):
    _nan_from_second_step(monkeypatch)
    c, _ = _pair()
    tr = T.Transfer(_config(optimizer="Adam", learning_rate=0.05, steps=6), c, None, net, CPU)
    seen = _Seen()
    loop = T.style_loop(tr, callbacks=[seen], generator=torch.Generator().manual_seed(0))
    seen.loop = loop
    with pytest.raises(TrainingDiverged) as info:
        loop.run(1)
    exc = info.value
    assert exc.step == 2 and [k for k, _, _ in seen.rows] == [1]
    assert str(exc) == NAN_AT_2
    assert not hasattr(exc, "image")
    assert torch.equal(loop.step.before, seen.rows[0][2])  # the image after step 1, the last good one
    assert bool(torch.isfinite(loop.step.before).all())


def test_pixels_that_turn_nan_are_a_divergence_even_when_the_cost_is_finite(net):
    """A NaN gradient (the cost itself finite) makes Adam's pixels NaN: the one rule catches it at that step."""
    c, _ = _pair()
    tr = T.Transfer(_config(optimizer="Adam", learning_rate=0.05, steps=6), c, None, net, CPU)
    seen = _Seen()
    loop = T.style_loop(tr, callbacks=[seen], generator=torch.Generator().manual_seed(0))
    seen.loop = loop
    step = loop.step
    calls = {"n": 0}

    def poison(grad):
        calls["n"] += 1
        return grad * float("nan") if calls["n"] == 3 else grad

    step.x.register_hook(poison)
    with pytest.raises(TrainingDiverged) as info:
        loop.run(1)
    assert str(info.value) == NAN_AT_2.replace("step 2", "step 3")
    assert [k for k, _, _ in seen.rows] == [1, 2]
    assert math.isfinite(loop.history.step_values["J_content"][-1])  # the cost of step 3 itself was finite
    assert not bool(torch.isfinite(step.image).all())
    assert torch.equal(step.before, seen.rows[-1][2])  # kept: the image after step 2


# ============================================================================================= jobs


def _reference_image(net, cfg: T.StyleConfig, steps: int) -> np.ndarray:
    """The image the job should hold after ``steps`` steps: the same set-up, optimised directly."""
    c, s = T.prepare_pair(_content(), _style() if cfg.style_on else None, cfg.size)
    tr = T.Transfer(cfg, _tensor(c), _tensor(s) if s is not None else None, net, CPU)
    tr.balance()
    loop = T.style_loop(tr, steps=steps, generator=seed_everything(cfg.seed))
    loop.run(1)
    return T.to_uint8(loop.step.image)


def _job(net):
    """run_style as a job function with this module's VGG-19 (what the worker would load)."""
    return functools.partial(T.run_style, features_module=(net, False, NOTE), device=CPU)


def test_run_style_tracks_one_finished_run_with_everything(net, store):
    cfg = _config(init="content", steps=4, every=2, beta=0.0, style_strength=0.3)
    ctx = Recorder("style")
    before = len(tracking.search_runs())
    request = _request(cfg)
    assert_plain(request, "config")
    assert request.content.dtype == np.uint8 and request.content.shape == (32, 48, 3)  # plain pixels cross over
    res = T.run_style(ctx, request, features_module=(net, False, NOTE), device=CPU)
    assert isinstance(res, Outcome) and not res.stopped and res.error is None and not res.diverged
    assert res.steps_done == 4 and not res.pretrained and res.note == NOTE and not res.bf16
    snap = ctx.snapshot()
    assert snap.warnings == (NOTE,) and [r["step"] for r in snap.metrics["costs"]] == [1, 2, 3, 4]
    assert snap.diverged == ()
    assert [r["J_total"] for r in snap.metrics["costs"]] == [r["J_total"] for r in res.history]
    assert np.array_equal(snap.images["current"], res.image)  # the live view's last image is the result
    assert res.image.shape == res.content.shape == res.style.shape == (21, 32, 3) and res.image.dtype == np.uint8
    assert [k for k, _ in res.snapshots] == [0, 2, 4]
    assert np.array_equal(res.image, _reference_image(net, cfg, 4))
    copy = assert_plain(res)
    assert np.array_equal(copy.image, res.image) and copy.history == res.history

    assert len(tracking.search_runs()) == before + 1  # one tracked run per call
    run = _run(res.run_id)
    assert run["experiment"] == "style" and run["status"] == "FINISHED"
    assert run["params.content_layer"] == "conv2_2" and run["params.optimizer"] == "L-BFGS"
    assert float(run["params.beta_used"]) == pytest.approx(res.beta) and res.beta > 0
    assert run["tags.dll.weights"] == "random" and run["tags.dll.precision"] == "fp32"
    assert run["tags.dll.content_image"] == "shapes" and run["tags.dll.style_image"] == "stripes"
    for key in ("J_content", "J_style", "J_total", "J_style/conv1_1"):
        hist = tracking.metric_history(res.run_id, key)
        assert hist["step"].tolist() == [1, 2, 3, 4]
        assert hist["value"].tolist() == pytest.approx([r[key] for r in res.history], rel=1e-6)
    assert math.isfinite(run["metrics.final_J_total"]) and run["metrics.final_J_total"] < res.history[0]["J_total"]
    names = {path for path, _ in tracking.image_artifacts(res.run_id)}
    assert names == {f"images/{n}.png" for n in ("content", "style", "result", "progress", "costs")}

    # the style Gram matrices: the style image's, recomputed here from its activations
    assert set(res.grams) == {"conv1_1", "conv2_1"}
    ext = vgg.Extractor(net, ["conv1_1", "conv2_1"])
    with torch.no_grad():
        acts = ext(_tensor(Image.fromarray(res.style)))
    for name, (g_style, g_result) in res.grams.items():
        n_c = vgg.channels(name)
        assert g_style.shape == g_result.shape == (n_c, n_c)
        np.testing.assert_allclose(g_style, _gram(_np(acts[name])), rtol=1e-4, atol=1e-3)
        assert not np.allclose(g_result, g_style, rtol=1e-3)  # four steps do not reach the style yet


def test_run_style_stopped_mid_way_ends_killed_with_the_steps_so_far(net, store):
    cfg = _config(optimizer="Adam", learning_rate=0.05, steps=10, every=5, beta=1.0, style_strength=0.3)
    ctx = StopAfter("costs", 3, "style")
    ending = run_job(_job(net), ctx, _request(cfg))
    assert ending.status == KILLED and ending.error is None  # the job hands back its typed partial outcome
    res = ending.result
    assert isinstance(res, T.StyleResult) and res.stopped and res.error is None
    assert res.steps_done == 3 and res.image.shape == (21, 32, 3)
    assert np.array_equal(res.image, _reference_image(net, cfg, 3))  # the image after the third step
    assert ctx.snapshot().diverged == ()
    assert_plain(res)
    assert _run(res.run_id)["status"] == "KILLED"
    hist = tracking.metric_history(res.run_id, "J_total")
    assert hist["step"].tolist() == [1, 2, 3]
    assert hist["value"].tolist() == pytest.approx([r["J_total"] for r in res.history], rel=1e-6)
    names = {path for path, _ in tracking.image_artifacts(res.run_id)}
    assert {"images/result.png", "images/content.png", "images/style.png"} <= names


def test_run_style_with_a_nan_cost_ends_failed_with_the_sentence_and_the_last_good_image(net, store, monkeypatch):
    cfg = _config(optimizer="Adam", learning_rate=0.05, steps=6)
    after_one = _reference_image(net, cfg, 1)
    _nan_from_second_step(monkeypatch)
    ctx = Recorder("style")
    ending = run_job(_job(net), ctx, _request(cfg))
    assert ending.status == FINISHED  # a diverged training is not a failed job: its run is FAILED
    res = ending.result
    assert res.error == NAN_AT_2 and res.diverged and not res.stopped
    assert res.steps_done == 1 and np.array_equal(res.image, after_one)
    assert ctx.snapshot().diverged == (("Style transfer", NAN_AT_2),)  # said once, for the job panel
    assert_plain(res)
    run = _run(res.run_id)
    assert run["status"] == "FAILED" and run["tags.dll.error"] == NAN_AT_2
    assert "images/result.png" in {path for path, _ in tracking.image_artifacts(res.run_id)}


def _reconstruct(net, ctx=None, **kw):
    cfg = ReconstructConfig(**{**dict(content_layers=("conv1_2",), style_depths=(1, 2), steps=15, size=32,
                                      precision="fp32", seed=0), **kw})
    req = ReconstructRequest(cfg, _content(), _style(), content_name="shapes", style_name="stripes")
    assert_plain(req, "config")
    return cfg, run_reconstructions(ctx, req, features_module=(net, False, NOTE), device=CPU)


def test_run_reconstructions_tracks_one_run_with_every_image(net, store):
    before = len(tracking.search_runs())
    ctx = Recorder("style.reconstruct")
    _, res = _reconstruct(net, ctx, steps=3)
    assert [(r.kind, r.label) for r in res.items] == [
        ("content", "conv1_2"), ("style", "conv1_1"), ("style", "conv1_1 … conv2_1")]
    assert isinstance(res, Outcome) and not res.pretrained and res.note == NOTE and not res.stopped
    assert res.error is None
    assert all(r.image.shape == (21, 32, 3) and r.image.dtype == np.uint8 for r in res.items)
    assert all(math.isfinite(r.first_cost) and r.final_cost <= r.first_cost for r in res.items)
    assert_plain(res)
    snap = ctx.snapshot()
    assert set(snap.images) == {"content conv1_2", "style conv1_1", "style conv1_1 … conv2_1"}
    assert [r["step"] for r in snap.metrics["style conv1_1"]] == [1, 2, 3]
    assert len(tracking.search_runs()) == before + 1
    run = _run(res.run_id)
    assert run["status"] == "FINISHED" and run["experiment"] == "style"
    assert run["tags.dll.kind"] == "reconstruction" and run["tags.dll.weights"] == "random"
    names = {path for path, _ in tracking.image_artifacts(res.run_id)}
    assert names == {"images/content.png", "images/style.png", "images/content_conv1_2.png",
                     "images/style_conv1_1.png", "images/style_conv1_1-conv2_1.png"}
    hist = tracking.metric_history(res.run_id, "J/content/conv1_2")
    assert hist["step"].tolist() == [1, 2, 3]
    assert hist["value"].iloc[0] == pytest.approx(res.items[0].first_cost, rel=1e-6)
    assert hist["value"].iloc[-1] == pytest.approx(res.items[0].final_cost, rel=1e-6)
    assert len(tracking.metric_history(res.run_id, "J/style/conv1_1-conv2_1")) == 3


def test_run_reconstructions_stopped_keeps_what_was_finished(net, store):
    ctx = StopAfter("style conv1_1", 2, "style.reconstruct")
    cfg = ReconstructConfig(content_layers=("conv1_2",), style_depths=(1, 2), steps=4, size=32, precision="fp32")
    req = ReconstructRequest(cfg, _content(), _style())
    ending = run_job(functools.partial(run_reconstructions, features_module=(net, False, NOTE), device=CPU), ctx, req)
    assert ending.status == KILLED
    res = ending.result
    assert res.stopped and res.error is None
    assert [(r.kind, r.label) for r in res.items] == [("content", "conv1_2")]  # the second one was stopped
    assert len(ctx.snapshot().metrics["style conv1_1"]) == 2 and "style conv1_1 … conv2_1" not in ctx.snapshot().metrics
    assert_plain(res)
    assert _run(res.run_id)["status"] == "KILLED"
    names = {path for path, _ in tracking.image_artifacts(res.run_id)}
    assert names == {"images/content.png", "images/style.png", "images/content_conv1_2.png"}


def test_run_reconstructions_with_a_nan_cost_ends_failed_with_the_sentence(net, store, monkeypatch):
    _nan_from_second_step(monkeypatch)
    ctx = Recorder("style.reconstruct")
    _, res = _reconstruct(net, ctx, steps=4)
    assert res.error == NAN_AT_2 and not res.stopped and res.items == []  # the rest is not run
    assert ctx.snapshot().diverged == (("Reconstruction (content conv1_2)", NAN_AT_2),)
    assert_plain(res)
    run = _run(res.run_id)
    assert run["status"] == "FAILED" and run["tags.dll.error"] == NAN_AT_2


def test_content_reconstruction_from_conv1_2_comes_close_to_the_content(net, store):
    cfg, res = _reconstruct(net, style_depths=())
    content = res.content.astype(np.float64) / 255
    noise = torch.rand((1, 3, *content.shape[:2]), generator=torch.Generator().manual_seed(cfg.seed))
    start_mse = float(((noise[0].permute(1, 2, 0).numpy() - content) ** 2).mean())
    (item,) = res.items
    mse = float(((item.image / 255 - content) ** 2).mean())
    assert mse < 0.1 * start_mse, (mse, start_mse)
