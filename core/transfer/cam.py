"""Where the network looked: class activation maps over a picture.

:func:`grad_cam` is Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep
Networks via Gradient-based Localization") on the body's last feature map A [F, h, w]: the weight
of channel k for class c is α_k = mean over positions of ∂y_c/∂A_k, and the map is
ReLU(Σ_k α_k·A_k), scaled up to the picture and to [0, 1].

With this lab's head — global average pooling then one linear layer, y_c = Σ_k w_ck·mean(A_k) + b_c —
the gradient is w_ck/(h·w) everywhere, so Grad-CAM is exactly the original CAM (Zhou et al. 2016,
"Learning Deep Features for Discriminative Localization"), ReLU(Σ_k w_ck·A_k), up to a positive
factor; :func:`cam` computes that closed form and the tests hold the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.transfer.backbones import TransferNet
from core.transfer.data import to_tensor


@dataclass
class Prediction:
    """One picture through a trained network."""

    probabilities: np.ndarray  # [K], sums to 1
    target: int  # the class the map explains (the predicted one unless asked otherwise)
    heatmap: np.ndarray  # [S, S] in [0, 1], over the centre square the network saw
    view: Image.Image  # that centre square, S×S RGB

    @property
    def predicted(self) -> int:
        return int(self.probabilities.argmax())


def _normalise(raw: torch.Tensor, size: int) -> torch.Tensor:
    """ReLU, bilinear upsampling of [h, w] to [size, size], scaled to [0, 1] (all zeros stays zeros)."""
    m = F.relu(raw)[None, None]
    m = F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)[0, 0]
    top = m.max()
    return m / top if top > 0 else m


def grad_cam(model: TransferNet, x: torch.Tensor, target: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM of one image ``x`` [3, S, S] in [0, 1]: (map [S, S] in [0, 1], class probabilities [K]).

    ``target``: the class to explain (default: the predicted one). The model is put in eval mode and
    left so; its weights get no gradients.
    """
    if x.dim() != 3 or x.shape[0] != 3:
        raise ValueError(f"expected one RGB image [3, S, S], got {tuple(x.shape)}")
    model.eval()
    device = next(model.parameters()).device
    with torch.enable_grad():
        a = model.feature_map(x[None].to(device)).detach().requires_grad_(True)  # (1, F, h, w)
        logits = model.head(a.mean((2, 3)))  # (1, K)
        c = int(logits.argmax(1)) if target is None else int(target)
        if not 0 <= c < logits.shape[1]:
            raise ValueError(f"target must be a class index below {logits.shape[1]}, got {target}")
        (grad,) = torch.autograd.grad(logits[0, c], a)
    alpha = grad[0].mean((1, 2))  # (F,): α_k = mean_ij ∂y_c/∂A_k(i, j)
    raw = torch.einsum("k,khw->hw", alpha, a[0].detach())
    return _normalise(raw, x.shape[-1]).cpu(), logits.detach().softmax(1)[0].cpu()


def cam(model: TransferNet, x: torch.Tensor, target: int) -> torch.Tensor:
    """The closed-form CAM ReLU(Σ_k w_ck·A_k) of one image [3, S, S], upsampled and scaled to [0, 1]."""
    model.eval()
    with torch.no_grad():
        a = model.feature_map(x[None].to(next(model.parameters()).device))[0]  # (F, h, w)
        raw = torch.einsum("k,khw->hw", model.head.weight[target], a)
    return _normalise(raw, x.shape[-1]).cpu()


def predict(model: TransferNet, image: Image.Image, size: int, target: int | None = None) -> Prediction:
    """Class probabilities of a picture (preprocessed as in training) and the Grad-CAM of ``target``."""
    x = to_tensor(image, size)
    heat, probs = grad_cam(model, x, target)
    c = int(probs.argmax()) if target is None else int(target)
    view = Image.fromarray((x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    return Prediction(probs.numpy().astype(np.float64), c, heat.numpy(), view)
