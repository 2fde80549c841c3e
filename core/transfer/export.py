"""Take the trained network out of the lab: TorchScript and ONNX files, the labels, how to use them.

Both files hold the whole classifier *with* its ImageNet normalisation and a softmax at the end: they
take a batch of RGB pictures [B, 3, S, S] with values in [0, 1] (preprocessed as in
:func:`core.transfer.data.to_tensor`) and return class probabilities [B, K] in the order of
``labels.txt``. The augmentation module is left out (it only acts in training). TorchScript is
traced (``torch.jit.trace``); ONNX goes through ``torch.onnx.export`` (the ``torch.export`` path,
opset 18) with a dynamic batch dimension.
"""

from __future__ import annotations

import copy
import io
import json
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.transfer.backbones import MEAN, STD, TransferNet

OPSET = 18


class Probabilities(nn.Module):
    """The exported graph: a trained :class:`TransferNet` (without augmentation) followed by a softmax."""

    def __init__(self, model: TransferNet) -> None:
        super().__init__()
        net = copy.deepcopy(model).cpu().float()
        net.augment = None
        self.net = net
        self.eval()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).softmax(1)  # (B, K)


def torchscript_bytes(model: TransferNet, size: int) -> bytes:
    """The traced TorchScript file of :class:`Probabilities` (load with ``torch.jit.load``)."""
    wrapped = Probabilities(model)
    example = torch.rand(1, 3, size, size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream but still what most tools load
        traced = torch.jit.trace(wrapped, example, check_trace=False)
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
    return buf.getvalue()


def onnx_bytes(model: TransferNet, size: int) -> bytes:
    """The ONNX file of :class:`Probabilities`, input ``image`` [batch, 3, size, size], output ``probabilities``."""
    wrapped = Probabilities(model)
    example = (torch.rand(2, 3, size, size),)
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.onnx.export(wrapped, example, dynamo=True, input_names=["image"], output_names=["probabilities"],
                                dynamic_shapes={"image": {0: batch}}, opset_version=OPSET, external_data=False,
                                verbose=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        program.save(str(path), external_data=False)
        return path.read_bytes()


def usage(names: tuple[str, ...], size: int) -> str:
    """The README of the bundle: what the files are and a few lines that use them."""
    return f"""# A classifier trained in Deep Learning Lab

Classes ({len(names)}), in the order of the model's outputs: {", ".join(names)}.

Files: `model.pt` (TorchScript), `model.onnx` (ONNX, opset {OPSET}), `labels.txt` (one class per line),
`preprocessing.json`. Both models take RGB pictures as a float tensor [batch, 3, {size}, {size}] with values
in [0, 1] and return class probabilities [batch, {len(names)}]; the ImageNet normalisation is inside.

## PyTorch (needs torch, torchvision and Pillow)

```python
import torch
import torchvision.transforms.functional as TF
from PIL import Image

model = torch.jit.load("model.pt").eval()
labels = open("labels.txt", encoding="utf-8").read().splitlines()
image = Image.open("photo.jpg").convert("RGB")
x = TF.to_tensor(TF.center_crop(TF.resize(image, {size}), [{size}, {size}]))[None]
with torch.no_grad():
    probabilities = model(x)[0]
print(labels[int(probabilities.argmax())], float(probabilities.max()))
```

## ONNX Runtime (needs onnxruntime, numpy and Pillow; no PyTorch)

```python
import numpy as np
import onnxruntime
from PIL import Image

session = onnxruntime.InferenceSession("model.onnx")
labels = open("labels.txt", encoding="utf-8").read().splitlines()
image = Image.open("photo.jpg").convert("RGB")
width, height = image.size  # shorter side to {size} (the longer one truncated), then the centre square
new = ({size}, int({size} * height / width)) if width <= height else (int({size} * width / height), {size})
image = image.resize(new, Image.BILINEAR)
left, top = round((image.width - {size}) / 2), round((image.height - {size}) / 2)
image = image.crop((left, top, left + {size}, top + {size}))
x = (np.asarray(image, dtype=np.float32) / 255).transpose(2, 0, 1)[None]
probabilities = session.run(["probabilities"], {{"image": x}})[0][0]
print(labels[int(probabilities.argmax())], float(probabilities.max()))
```
"""


@dataclass
class ExportBundle:
    """Everything the page offers for download, as bytes."""

    names: tuple[str, ...]
    size: int
    files: dict[str, bytes] = field(default_factory=dict)

    def zip_bytes(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in self.files.items():
                z.writestr(name, data)
        return buf.getvalue()


def export_bundle(model: TransferNet, names: tuple[str, ...], size: int, *, onnx: bool = True) -> ExportBundle:
    """TorchScript, ONNX (unless ``onnx=False``), labels, preprocessing and README of a trained network."""
    if len(names) != model.head.out_features:
        raise ValueError(f"{len(names)} labels for a network with {model.head.out_features} outputs")
    bundle = ExportBundle(tuple(names), size)
    bundle.files["model.pt"] = torchscript_bytes(model, size)
    if onnx:
        bundle.files["model.onnx"] = onnx_bytes(model, size)
    bundle.files["labels.txt"] = ("\n".join(names) + "\n").encode()
    prep = {"input": [3, size, size], "range": [0, 1], "resize_shorter_side": size, "center_crop": size,
            "normalisation_inside_model": {"mean": MEAN, "std": STD}, "output": "probabilities",
            "labels": list(names)}
    bundle.files["preprocessing.json"] = json.dumps(prep, indent=2).encode()
    bundle.files["README.md"] = usage(tuple(names), size).encode()
    return bundle
