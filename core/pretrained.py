"""Pretrained torchvision weights through torch hub's cache: downloaded once, read from disk after.

Every page that uses ImageNet or COCO weights (style transfer's VGG-19, the COCO detectors, transfer
learning's backbones) goes through :func:`load_state_dict`. The file lives at
``torch.hub.get_dir()/checkpoints/<last part of the weights URL>`` (``TORCH_HOME`` moves it). When it
is missing and cannot be downloaded, is unreadable, or is not what the caller expects,
:class:`WeightsUnavailable` carries one sentence the page can show. A model with random weights is
never handed out as pretrained: callers decide what to do without the weights and say so.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import torch

from core.data import DOWNLOAD_TIMEOUT_S


class WeightsUnavailable(RuntimeError):
    """The pretrained weights cannot be had here; ``str(exc)`` is one sentence for the page."""

    plain_message = True  # a failed job shows the sentence without the class name

    def __init__(self, message: str, *, name: str = "", path: Path | None = None, reason: str = ""):
        super().__init__(message)
        self.name = name
        self.path = path
        self.reason = reason  # the underlying error, for logs; not meant for the page


class TorchvisionWeights:
    """What a spec of a torchvision model with published weights knows about them (mixin for a
    dataclass with a ``weights: torchvision.models.WeightsEnum`` field)."""

    weights: object

    @property
    def url(self) -> str:
        return self.weights.url

    @property
    def file_name(self) -> str:
        """The file name torch hub gives the download: the last part of the URL."""
        return os.path.basename(urlparse(self.url).path)

    @property
    def size_mb(self) -> float:
        return float(self.weights.meta["_file_size"])

    @property
    def cached(self) -> bool:
        """True when the file is already in the torch hub cache (using it needs no internet)."""
        return hub_path(self.url).is_file()


def hub_path(url: str) -> Path:
    """Where torch hub keeps (or will keep) the weights downloaded from ``url``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


_download_lock = threading.Lock()


def load_state_dict(url: str, *, what: str, fallback: str, allow_download: bool = True) -> dict[str, torch.Tensor]:
    """The state dict at ``url``, from the torch hub cache (downloaded there first when missing).

    ``what`` names the weights in messages ("the ImageNet weights of VGG-19"); ``fallback`` ends every
    message with what the page offers instead ("the page runs with random weights"). The download
    uses a socket timeout of ``DOWNLOAD_TIMEOUT_S`` and checks the file's hash; the file is read with
    ``weights_only=True`` (tensors only, no pickled code). Raises :class:`WeightsUnavailable`.
    """
    path = hub_path(url)
    name = what
    if not path.is_file() and not allow_download:
        raise WeightsUnavailable(
            f"{what[0].upper()}{what[1:]} are not on this machine; {fallback}.", name=name, path=path,
            reason="download not allowed",
        )
    with _download_lock:
        downloading = not path.is_file()
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # urllib would otherwise wait forever offline
        try:
            return torch.hub.load_state_dict_from_url(
                url, model_dir=str(path.parent), map_location="cpu", progress=False, check_hash=True,
                file_name=path.name, weights_only=True,
            )
        except Exception as exc:  # noqa: BLE001 - any failure means "not available here"
            reason = f"{type(exc).__name__}: {exc}"[:300]
            if downloading:
                raise WeightsUnavailable(
                    f"{what[0].upper()}{what[1:]} are not on this machine and could not be downloaded "
                    f"(no internet?); {fallback}.", name=name, path=path, reason=reason,
                ) from exc
            raise WeightsUnavailable(
                f"The file holding {what} in the torch cache cannot be read (delete {path} to download it "
                f"again); {fallback}.", name=name, path=path, reason=reason,
            ) from exc
        finally:
            socket.setdefaulttimeout(old)


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], *, url: str, what: str, fallback: str,
              strict: bool = True, assign: bool = False) -> None:
    """``model.load_state_dict(state)``; keys or shapes that do not fit raise :class:`WeightsUnavailable`.
    ``assign=True`` hands the tensors over instead of copying them (for checking against a meta-device model)."""
    try:
        model.load_state_dict(state, strict=strict, assign=assign)
    except Exception as exc:  # noqa: BLE001 - wrong keys or shapes: not these weights
        path = hub_path(url)
        raise WeightsUnavailable(
            f"The file {path} in the torch cache does not hold {what} (delete it to download them again); "
            f"{fallback}.", name=what, path=path, reason=f"{type(exc).__name__}: {exc}"[:300],
        ) from exc
