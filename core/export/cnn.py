"""The CNNs page's "Train a CNN" (:func:`core.cnn.training.run_cnn`) as a notebook: the images prepared
as the lab prepares them (:func:`core.cnn.data.prepare_images`), the network written out layer by layer,
the course's update rule and the lab's loop."""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import asdict

from core.cnn import models
from core.cnn.data import SPLIT, UPSAMPLE
from core.cnn.training import TrainConfig
from core.export import snippets
from core.export.notebook import Cell, Export, code, md

LENET = md("""
    ## The network: LeNet-5
    LeCun et al. (1998): a 5×5 convolution to 6 maps, 2×2 average pooling, a 5×5 convolution to 16 maps,
    pooling again, then fully connected layers of 120, 84 and one score per class, with tanh between
    them. A 28-pixel image gets 2 pixels of zero padding first, so every later shape is the paper's.""")
LENET_CODE = """
    pad = max(0, (32 - SIZE + 1) // 2)  # 28 → 2, 32 → 0
    side = ((SIZE + 2 * pad - 5 + 1) // 2 - 5 + 1) // 2  # the maps' side before the fully connected part
    model = nn.Sequential(
        nn.Conv2d(CHANNELS, 6, 5, padding=pad), nn.Tanh(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120), nn.Tanh(),
        nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, N_CLASSES),
    )
"""
VGG = md("""
    ## The network: a small VGG
    After Simonyan & Zisserman (2015): three blocks of two 3×3 convolutions (16, 32 and 64 channels), each
    convolution followed by batch norm and ReLU and each block by 2×2 max pooling; then global average
    pooling and one linear layer. The convolutions start from He initialisation.""")
VGG_CODE = """
    layers, c = [], CHANNELS
    for v in (16, 16, "M", 32, 32, "M", 64, 64, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            c = v
    model = nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, N_CLASSES))
    he_init(model)
"""
RESNET = md("""
    ## The network: ResNet-20
    He et al. (2016, §4.2): a 3×3 convolution with 16 filters, then three stages of three residual blocks
    (16, 32, 64 filters; the first block of stages 2 and 3 halves the maps with stride 2). A block computes
    ReLU(F(x) + x) with F two 3×3 convolutions with batch norm; where the shape changes the shortcut takes
    every other pixel and pads the new channels with zeros (the paper's option A, no weights). Global
    average pooling and one linear layer end it.""")
RESNET_CODE = """
    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.stride, self.extra = stride, c_out - c_in

        def shortcut(self, x):
            if self.stride > 1:
                x = x[:, :, :: self.stride, :: self.stride]
            if self.extra:
                x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))  # zero channels
            return x

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


    class ResNet20(nn.Module):
        def __init__(self, channels, n_classes):
            super().__init__()
            self.conv1 = nn.Conv2d(channels, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.relu = nn.ReLU(inplace=True)
            stages, c = [], 16
            for i, planes in enumerate((16, 32, 64)):
                blocks = []
                for j in range(3):
                    blocks.append(Block(c, planes, 2 if i > 0 and j == 0 else 1))
                    c = planes
                stages.append(nn.Sequential(*blocks))
            self.layer1, self.layer2, self.layer3 = stages
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(c, n_classes)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))  # (B, 16, S, S)
            x = self.layer3(self.layer2(self.layer1(x)))  # (B, 64, S/4, S/4)
            return self.fc(torch.flatten(self.avgpool(x), 1))


    model = ResNet20(CHANNELS, N_CLASSES)
    he_init(model)
"""
# the lab's He initialisation, copied from its source (so the notebook's stays the lab's)
HE_INIT = "\n\n" + textwrap.indent(inspect.getsource(models._kaiming).replace("def _kaiming(", "def he_init("), "    ") + "\n"
SEEDING = """\
random.seed($seed)
np.random.seed($seed)
torch.manual_seed($seed)  # the initial weights are the lab's
"""
NETWORKS = {"LeNet-5": (LENET, LENET_CODE), "Small VGG": (VGG, HE_INIT + VGG_CODE), "ResNet-20": (RESNET, HE_INIT + RESNET_CODE)}


def cnn(cfg: TrainConfig, *, device: str = "auto") -> Export:
    """The training ``cfg`` as code; ``final`` holds the run's ``final_*`` metrics."""
    if not isinstance(cfg, TrainConfig):
        raise ValueError("the CNN training's export needs a TrainConfig")
    if cfg.model not in NETWORKS:
        raise ValueError(f"the export does not know the network {cfg.model!r} yet")
    size = UPSAMPLE.get(cfg.dataset)
    explain, net = NETWORKS[cfg.model]
    cells: list[Cell] = [
        snippets.settings_table(asdict(cfg), (
            "A convolutional network trained on images, as on the lab's CNNs page, in plain PyTorch. Run the "
            "cells from the top; the numbers at the end are those of the lab's tracked run with the same set-up "
            "(on the same kind of device).")),
        snippets.device_cell(device),
        *snippets.dataset_cells(cfg.dataset),
        *snippets.split_cell(SPLIT, cfg.seed),
        md("""
            ### Ready for the network
            """ + ("Only the first `MAX_TRAIN` training images are kept. " if cfg.max_train else "") +
           ("The 8×8 digits are enlarged to 28×28 (bilinear): LeNet's 5×5 convolutions and two poolings need "
            "room. " if size else "") +
           "Each channel is then standardised with the mean and standard deviation of the training images."),
        code("""
            MAX_TRAIN, SIZE = $max_train, $size
            (xt, yt), (xd, yd) = train, dev
            if MAX_TRAIN:
                xt, yt = xt[:MAX_TRAIN], yt[:MAX_TRAIN]
            SIZE = SIZE or xt.shape[-1]
            if xt.shape[-1] != SIZE:
                xt, xd = [F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False,
                                        antialias=SIZE < x.shape[-1]).clamp_(0, 1) for x in (xt, xd)]
            mean = xt.mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
            std = xt.std(dim=(0, 2, 3)).clamp_min(1e-6).view(1, -1, 1, 1)
            xt, xd = (xt - mean) / std, (xd - mean) / std
            CHANNELS = xt.shape[1]
            print(xt.shape, xd.shape)
        """, max_train=cfg.max_train, size=size),
        explain,
        code(SEEDING + textwrap.dedent(net) + "print(sum(p.numel() for p in model.parameters()), 'parameters')",
             seed=cfg.seed),
        md("""
            ### The fast path
            With it, the weights and the images are stored channels-last (NHWC), the layout the fast
            convolution kernels of CPUs and GPUs read directly; the numbers stay the same up to rounding."""),
        code("""
            model = model.to(DEVICE)
            xt, xd = xt.to(DEVICE), xd.to(DEVICE)
            FAST_PATH = $fast
            if FAST_PATH:
                model = model.to(memory_format=torch.channels_last)
                xt, xd = xt.contiguous(memory_format=torch.channels_last), xd.contiguous(memory_format=torch.channels_last)
                torch.backends.cudnn.benchmark = DEVICE.type == "cuda"
            train, dev = (xt, yt.to(DEVICE)), (xd, yd.to(DEVICE))
        """, fast=cfg.fast_path),
        *snippets.optimizer_cells([cfg.optimizer]),
        *snippets.fit_cells(),
        code("""
            optimizer = make_optimizer($opt, model.parameters(), $lr)
            final = fit(model, optimizer, train, dev, epochs=$epochs, batch_size=$bs, seed=$seed)
        """, opt=cfg.optimizer, lr=cfg.lr, epochs=cfg.epochs, bs=cfg.batch_size, seed=cfg.seed),
        *snippets.final_cell("the final training and dev loss and accuracy"),
    ]
    stem = cfg.model.lower().replace(" ", "_").replace("-", "")
    return Export(f"{stem}_{cfg.dataset}", f"{cfg.model} on {cfg.dataset}", tuple(cells))
