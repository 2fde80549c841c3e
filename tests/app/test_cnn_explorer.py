"""The CNNs page's convolution explorer through AppTest: the worked-out output size follows
stride and padding, one output value equals PyTorch's conv2d there, and bad settings give
plain messages instead of exceptions."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ui.upload
from core.cnn.conv import KERNELS, prepare_image
from core.data.images import DecodedImage
from tests.app.helpers import by_label, page, texts

FORMULA = re.compile(r"Height: ⌊\((\d+) \+ 2·(\d+) − (\d+)\) / (\d+)⌋ \+ 1 = (\d+) · width: "
                     r"⌊\((\d+) \+ 2·(\d+) − (\d+)\) / (\d+)⌋ \+ 1 = (\d+)")


def _photo(width: int, height: int) -> Image.Image:
    """A smooth colour picture with a vertical and a horizontal edge (so every filter has something to say)."""
    yy, xx = np.mgrid[0:height, 0:width]
    r = np.where(xx < width // 3, 220, 40)
    g = np.where(yy < height // 2, 180, 60)
    b = (xx * 255 // max(1, width - 1))
    return Image.fromarray(np.stack([r, g, b], axis=-1).astype(np.uint8))


@pytest.fixture
def picture(monkeypatch):
    """Replace the image widget's answer with a known picture of the given size."""
    def use(width: int, height: int) -> Image.Image:
        img = _photo(width, height)
        monkeypatch.setattr(ui.upload, "image_input", lambda *a, **k: DecodedImage(img, "test", img.size))
        return img
    return use


def _formula(at) -> tuple[tuple[int, ...], tuple[int, ...]]:
    match = FORMULA.search(texts(at))
    assert match, texts(at)
    nums = tuple(int(v) for v in match.groups())
    return nums[:5], nums[5:]


def test_defaults_render_with_the_output_size_worked_out():
    at = page("cnn").run()
    assert not at.exception
    for n, p, f, s, out in _formula(at):
        assert (p, f, s) == (0, 3, 1) and out == (n + 2 * p - f) // s + 1  # valid padding, 3×3, stride 1
    latex = " ".join(str(e.value) for e in at.get("latex"))
    assert r"\left\lfloor" in latex and "+ 2\\cdot 0 - 3" in latex
    assert "the same number" in texts(at)
    assert len(at.get("plotly_chart")) >= 6  # input, kernel, map, window, map before pooling, pooled


def test_stride_and_padding_change_the_formula(picture):
    picture(64, 48)  # the working image stays 64×48 (the long side is below 128)
    at = page("cnn").run()
    assert _formula(at) == ((48, 0, 3, 1, 46), (64, 0, 3, 1, 62))
    by_label(at.slider, "Convolution stride s").set_value(2).run()
    assert "⌊(48 + 2·0 − 3) / 2⌋ + 1 = 23" in texts(at)
    assert _formula(at) == ((48, 0, 3, 2, 23), (64, 0, 3, 2, 31))
    by_label(at.radio, "Convolution padding").set_value("same").run()
    assert _formula(at) == ((48, 1, 3, 2, 24), (64, 1, 3, 2, 32))
    assert "'Same' padding keeps the size only at stride 1" in texts(at)
    by_label(at.slider, "Convolution stride s").set_value(1).run()
    assert _formula(at) == ((48, 1, 3, 1, 48), (64, 1, 3, 1, 64))  # same padding keeps the size
    by_label(at.radio, "Convolution padding").set_value("custom").run()
    by_label(at.number_input, "Custom padding p").set_value(5).run()
    assert _formula(at) == ((48, 5, 3, 1, 56), (64, 5, 3, 1, 72))
    by_label(at.slider, "Working size (long side, px)").set_value(32).run()
    assert _formula(at) == ((24, 5, 3, 1, 32), (32, 5, 3, 1, 40))
    assert not at.exception


def test_one_output_value_equals_torch_conv2d(picture):
    img = picture(40, 30)
    at = page("cnn").run()
    by_label(at.selectbox, "Kernel (filter)").set_value("Sobel (vertical edges)")
    by_label(at.slider, "Convolution stride s").set_value(2)
    by_label(at.radio, "Convolution padding").set_value("same").run()
    by_label(at.slider, "Output row i").set_value(3)
    by_label(at.slider, "Output column j").set_value(9).run()
    assert not at.exception
    x = torch.tensor(prepare_image(img, 128, gray=True))[None, None]
    k = torch.tensor(KERNELS["Sobel (vertical edges)"])[None, None]
    ref = F.conv2d(x, k, stride=2, padding=1)[0, 0]
    assert tuple(ref.shape) == (15, 20)
    success = " ".join(str(e.value) for e in at.success)
    assert f"= {ref[3, 9].item():.4f}, and the feature map holds {ref[3, 9].item():.4f} at row 3, column 9" in success
    assert "Σ of the 9 products" in success

    by_label(at.radio, "Filter depth").set_value("Colour image, 3×f×f filter").run()
    by_label(at.number_input, "Green weight").set_value(-1.0).run()
    assert not at.exception
    rgb = torch.tensor(prepare_image(img, 128, gray=False))[None]
    k3 = torch.tensor(np.stack([KERNELS["Sobel (vertical edges)"], -KERNELS["Sobel (vertical edges)"], 0 * k[0, 0]]))[None]
    ref3 = F.conv2d(rgb, k3, stride=2, padding=1)[0, 0]
    success = " ".join(str(e.value) for e in at.success)
    assert "Σ of the 27 products" in success and f"holds {ref3[3, 9].item():.4f}" in success

    by_label(at.selectbox, "Pooling kind").set_value("global max").run()
    assert f"becomes one value, {ref3.max().item():.4f}" in texts(at)


def test_bad_settings_show_messages_not_exceptions(picture):
    picture(64, 48)
    at = page("cnn").run()
    by_label(at.slider, "Working size (long side, px)").set_value(8).run()  # 8×6 image → 6×4 map
    by_label(at.slider, "Pooling window").set_value(5).run()
    assert not at.exception
    assert any("pooling window does not fit" in str(e.value) for e in at.error)

    picture(600, 3)  # a thin strip: 128×1 after shrinking, too thin for a 3×3 kernel without padding
    at = page("cnn").run()
    assert not at.exception
    assert any("The kernel does not fit" in str(e.value) for e in at.error)
    by_label(at.radio, "Convolution padding").set_value("same").run()
    assert not at.exception and not any("The kernel does not fit" in str(e.value) for e in at.error)
    assert _formula(at) == ((1, 1, 3, 1, 1), (128, 1, 3, 1, 128))
    assert "Output row i: 0 (the only one)" in texts(at)
    assert any("the map's height is only 1" in str(e.value) for e in at.error)  # 2×2 pooling of a 1×128 map


def test_editable_kernel_starts_as_the_vertical_edge(picture):
    picture(20, 20)
    at = page("cnn").run()
    before = " ".join(str(e.value) for e in at.success)
    by_label(at.selectbox, "Kernel (filter)").set_value("Editable 3×3").run()
    assert not at.exception
    assert [d.key for d in at.dataframe].count("cnn.kernel_edit") == 1
    assert " ".join(str(e.value) for e in at.success) == before
