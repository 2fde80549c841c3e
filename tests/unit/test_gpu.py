"""CUDA paths (run on a lent GPU machine; skipped elsewhere): device choice, bf16 autocast,
fit() on device tensors, and the course's optimizers on GPU tensors against torch.optim."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from core.data import load_dataset, split_dataset
from core.device import autocast, device_info, pick_device
from core.optimizers.rules import Adam, Momentum
from core.training import TrainingDiverged, evaluate, fit

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")]
CUDA = torch.device("cuda")


def test_cuda_is_chosen_and_described():
    assert pick_device().type == "cuda"
    info = device_info()
    assert info.kind == "cuda" and info.memory_gb > 1 and info.name == torch.cuda.get_device_name()
    with autocast(CUDA):
        out = torch.randn(4, 4, device=CUDA) @ torch.randn(4, 4, device=CUDA)
    assert out.dtype == torch.bfloat16


def test_fit_on_gpu_with_bf16_learns_and_starts_like_the_cpu():
    split = split_dataset(load_dataset("digits"), seed=0)
    torch.manual_seed(0)
    base = nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    cpu_model, gpu_model = base, copy.deepcopy(base)
    h_cpu = fit(cpu_model, split.train, torch.optim.SGD(cpu_model.parameters(), lr=0.1), epochs=1, batch_size=64,
                device=torch.device("cpu"))
    gpu = split.to(CUDA)
    h_gpu = fit(gpu_model, gpu.train, torch.optim.SGD(gpu_model.parameters(), lr=0.1), dev=gpu.dev, epochs=15,
                batch_size=64, device=CUDA)
    assert h_gpu.step_loss[0] == pytest.approx(h_cpu.step_loss[0], rel=2e-2)  # bf16 matmuls
    assert h_gpu.epochs[-1]["dev_accuracy"] > 0.9
    assert evaluate(gpu_model, *gpu.test)["accuracy"] > 0.9


def test_nan_detected_on_gpu_with_step_number():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
    X, y = torch.randn(64, 5, device=CUDA), torch.randint(0, 3, (64,), device=CUDA)
    with pytest.raises(TrainingDiverged, match=r"at step \d+ — try a smaller learning rate") as info:
        fit(model, (X, y), torch.optim.SGD(model.parameters(), lr=1e4), epochs=50, batch_size=8, device=CUDA, amp=False)
    assert info.value.step == len(info.value.history.step_loss)


@pytest.mark.parametrize("ours,ref", [
    (lambda p: Adam(p, 1e-2, 0.9, 0.99, 1e-3), lambda p: torch.optim.Adam(p, 1e-2, betas=(0.9, 0.99), eps=1e-3)),
    (lambda p: Momentum(p, 1e-2, 0.8), lambda p: torch.optim.SGD(p, 1e-2, momentum=0.8, dampening=0.8)),
])
def test_rules_on_gpu_tensors_match_torch(ours, ref):
    torch.manual_seed(0)
    a = torch.randn(300, 7, device=CUDA, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    oa, ob = ours([a]), ref([b])
    if isinstance(ob, torch.optim.SGD):
        ob.state[b]["momentum_buffer"] = torch.zeros_like(b)  # start from v = 0 as the course does
    for _ in range(25):
        for p, o in ((a, oa), (b, ob)):
            o.zero_grad()
            F.mse_loss(p.sin(), torch.ones_like(p)).backward()
            o.step()
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_cnn_fast_path_on_gpu_trains_lenet_in_channels_last_bf16():
    from core.cnn import models
    from core.cnn.data import prepare_images
    from core.cnn.training import class_probabilities, use_fast_path

    data = prepare_images("mnist_sample", seed=0)
    torch.manual_seed(0)
    model = models.lenet5(in_channels=1, n_classes=10, input_size=28, activation="relu").to(CUDA)
    model, xt = use_fast_path(model, data.train[0].to(CUDA), CUDA)
    assert xt.is_contiguous(memory_format=torch.channels_last) and torch.backends.cudnn.benchmark
    with autocast(CUDA):
        assert model(xt[:2]).dtype == torch.bfloat16
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    hist = fit(model, (xt, data.train[1].to(CUDA)), opt, dev=(data.dev[0].to(CUDA), data.dev[1].to(CUDA)), epochs=4,
               batch_size=64, device=CUDA)
    assert hist.epochs[-1]["dev_accuracy"] > 0.93
    probs = class_probabilities(model, data.dev[0][:8].to(CUDA))
    torch.testing.assert_close(probs.sum(1), torch.ones(8), atol=1e-3, rtol=0)


def test_style_transfer_on_gpu_runs_bf16_and_agrees_with_the_cpu_costs():
    from core.style import vgg
    from core.style.transfer import StyleConfig, Transfer, style_loop

    torch.manual_seed(0)
    net = vgg.build_features()
    content, style = torch.rand(1, 3, 96, 128), torch.rand(1, 3, 96, 128)
    cfg = StyleConfig(steps=15, size=128, precision="fp32", style_strength=None, beta=1e4)
    cpu = Transfer(cfg, content, style, net, "cpu")
    gpu = Transfer(cfg, content, style, net, CUDA)
    x = torch.rand(1, 3, 96, 128)
    c_cpu, c_gpu = cpu.costs(x), gpu.costs(x.to(CUDA))
    assert float(c_gpu.total) == pytest.approx(float(c_cpu.total), rel=1e-3)
    fast = Transfer(StyleConfig(steps=15, size=128, style_strength=None, beta=1e4), content, style, net, CUDA)
    assert fast.bf16  # precision "auto" on a GPU with bf16
    loop = style_loop(fast)
    rows = loop.run(1).step_loss  # J_total per step, read back through the one loop
    image = loop.step.image
    assert len(rows) == 15 and image.device.type == "cuda" and torch.isfinite(image).all()
    assert rows[-1] < rows[0]
