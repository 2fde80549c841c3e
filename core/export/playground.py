"""The playground (:class:`core.basics.playground.Playground`) as a notebook: the data (a toy set, a
regression set or your own CSV points), the input features, the network and plain mini-batch gradient
descent, epoch by epoch as Play trains it."""

from __future__ import annotations

import textwrap
from dataclasses import fields

from core.basics.playground import CSV, PlaygroundConfig
from core.data import toy
from core.export import snippets
from core.export.notebook import Cell, Export, code, md

# Each input feature as code over the coordinates x1, x2 (tensors); a test checks each against the lab's.
FEATURE_CODE = {"x1": "x1", "x2": "x2", "x1²": "x1 * x1", "x2²": "x2 * x2", "x1·x2": "x1 * x2",
                "sin(x1)": "torch.sin(x1)", "sin(x2)": "torch.sin(x2)"}
ACTIVATION_CODE = {"ReLU": "nn.ReLU", "tanh": "nn.Tanh", "sigmoid": "nn.Sigmoid", "linear": "nn.Identity",
                   "leaky ReLU": "nn.LeakyReLU"}
# The set-up's fields this export reproduces; any other field (a newer playground setting) must keep its default.
COVERED = {"dataset", "n_classes", "points", "noise", "train_ratio", "batch_size", "hidden", "activation", "lr",
           "regularization", "reg_rate", "features", "seed", "activations", "upload"}
DEFAULT_EPOCHS = 100  # when nothing was trained yet


def uncovered(cfg: PlaygroundConfig) -> list[str]:
    """The settings of ``cfg`` away from their defaults that the export cannot reproduce (empty = all fine)."""
    base = type(cfg)()
    return [f.name for f in fields(cfg) if f.name not in COVERED and getattr(cfg, f.name) != getattr(base, f.name)]


def _settings(cfg: PlaygroundConfig, epochs: int) -> dict[str, object]:
    shown = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name != "upload"}
    if cfg.dataset == CSV and cfg.upload is not None:
        shown["upload"] = f"{cfg.upload.name or 'your CSV'} ({len(cfg.upload)} points)"
    return {**shown, "task": cfg.task, "epochs": epochs}


def _data_cells(cfg: PlaygroundConfig) -> list[Cell]:
    """Cells leaving the points (scaled to [-3, 3]²) in ``X_np`` and the labels or targets in ``y_np``."""
    if cfg.dataset == CSV:
        pts = cfg.upload
        if pts is None:
            raise ValueError("choose a CSV file with your points first")
        return [
            md(f"""
                ## The data
                Your own {len(pts)} points from the CSV, as the lab read them: the coordinates are scaled so
                that the largest one is 3{", and the targets so that the largest is 1" if pts.task == "regression"
                                           else ", the labels numbered 0, 1, … in sorted order"}."""),
            code("""
                XY = $xy
                VALUES = $values
                X_np = np.asarray(XY, dtype=np.float64)
                X_np = (X_np * (SCALE / (float(np.abs(X_np).max()) or 1.0))).astype(np.float32)
                if $regression:
                    t = np.asarray(VALUES, dtype=np.float64)
                    y_np = (t / (float(np.abs(t).max()) or 1.0)).astype(np.float32)
                else:
                    y_np = np.asarray(VALUES, dtype=np.int64)
            """, xy=[list(p) for p in pts.xy], values=list(pts.values), regression=pts.task == "regression"),
        ]
    if cfg.dataset in toy.REGRESSION_KINDS:
        return [
            md("""
                ## The data
                A regression, as in TensorFlow Playground: each point carries a number to predict. The lab's
                own generator is copied below as it is; the points are stretched to [-3, 3]²."""),
            snippets.source_of(toy.make_regression),
            code("""
                X_np, y_np = make_regression($kind, n=$points, noise=$noise, seed=SEED)
                X_np = X_np * SCALE
            """, kind=cfg.dataset, points=cfg.points, noise=cfg.noise),
        ]
    return [
        md("""
            ## The data
            The lab's toy-set generator, copied as it is. The playground halves the noise slider's value and
            stretches the points to [-3, 3]²."""),
        snippets.toy_source(),
        code("""
            X_np, y_np = make_toy($kind, n=$points, noise=$noise / 2, seed=SEED, n_classes=$classes)
            X_np = X_np * SCALE
        """, kind=cfg.dataset, points=cfg.points, noise=cfg.noise, classes=cfg.n_classes),
    ]


def playground(cfg: PlaygroundConfig, *, epochs: int = DEFAULT_EPOCHS, device: str = "cpu") -> Export:
    """``epochs`` epochs of the playground set-up ``cfg`` as code (on one CPU thread, as the lab trains it);
    ``final`` holds the last epoch's ``train_loss`` and ``test_loss`` (and, for classes, ``train_accuracy``
    and ``test_accuracy``), the names of the tracked run's metrics."""
    if not isinstance(cfg, PlaygroundConfig):
        raise ValueError("the playground's export needs a PlaygroundConfig")
    if not 1 <= epochs <= 100_000:
        raise ValueError("the export trains between 1 and 100,000 epochs")
    missing = uncovered(cfg)
    if missing:
        raise ValueError(f"the export does not cover the setting {missing[0]!r} yet: set it back to its default")
    acts = cfg.layer_activations
    unknown = [f for f in cfg.features if f not in FEATURE_CODE] + [a for a in acts if a not in ACTIVATION_CODE]
    if unknown:
        raise ValueError(f"the export does not know {unknown[0]!r} yet")
    regression = cfg.task == "regression"
    feats = "FEATURES = {\n" + "".join(f"    {n!r}: lambda x1, x2: {FEATURE_CODE[n]},\n" for n in cfg.features) + "}"
    act_list = "[" + ", ".join(ACTIVATION_CODE[a] for a in acts) + "]"
    loss = ("F.mse_loss(out.float().squeeze(1), target)  # one output unit, mean squared error" if regression
            else "F.cross_entropy(out.float(), target)  # softmax and cross-entropy in one")
    cells: list[Cell] = [
        snippets.settings_table(_settings(cfg, epochs), (
            "The lab's playground, as plain PyTorch: a small network learns from points in the plane. This "
            "notebook trains the set-up below for `EPOCHS` epochs in one go, as pressing Play and pausing after "
            "that many epochs would. (If you changed the learning rate, batch size or regularization while it "
            "played, or set a weight by hand, the lab's run differs: this notebook uses the last set-up "
            "throughout.)")),
        snippets.device_cell(device),
        code("""
            torch.set_num_threads(1)  # these networks are tiny: one thread is fastest (the lab does the same)
            EPOCHS = $epochs
            SEED = $seed
            SCALE = 3.0  # the points live in [-3, 3]²
        """, epochs=epochs, seed=cfg.seed),
        *_data_cells(cfg),
        md("""
            ### Training and test points
            A second generator, seeded with the seed + 1, shuffles the points; the first share trains the
            network, the rest only measure it."""),
        code("""
            n_points = len(y_np)
            perm = np.random.default_rng(SEED + 1).permutation(n_points)
            n_train = max(1, min(n_points - 1, round(n_points * $ratio)))
            tr, te = perm[:n_train], perm[n_train:]
            print(n_train, "training and", len(te), "test points")
        """, ratio=cfg.train_ratio),
        md("""
            ## The input features
            The network does not see the points directly but the features you ticked, computed from the two
            coordinates. With x1² and x2², a circle becomes a straight line for the first layer."""),
        code(feats + textwrap.dedent("""


            def feature_matrix(points):
                \"\"\"[N, 2] coordinates → [N, number of features].\"\"\"
                x1, x2 = points[:, 0], points[:, 1]
                return torch.stack([f(x1, x2) for f in FEATURES.values()], 1)


            X_train, y_train = feature_matrix(torch.from_numpy(X_np[tr])), torch.from_numpy(y_np[tr])
            X_test, y_test = feature_matrix(torch.from_numpy(X_np[te])), torch.from_numpy(y_np[te])
        """)),
        md(f"""
            ## The network
            Per hidden layer a linear layer and its activation, then a linear layer to
            {"one output unit: the predicted number" if regression else "one score per class"}. Seeding just
            before building it gives the lab's initial weights."""),
        code("""
            random.seed(SEED)
            np.random.seed(SEED)
            torch.manual_seed(SEED)
            layers, width = [nn.Flatten()], len(FEATURES)
            for h, activation in zip($hidden, $acts):
                layers += [nn.Linear(width, h), activation()]
                width = h
            model = nn.Sequential(*layers, nn.Linear(width, $n_out))
            print(model)
        """.replace("$acts", act_list), hidden=tuple(cfg.hidden), n_out=cfg.n_out),
        md(f"""
            ## The training
            Plain gradient descent (`torch.optim.SGD` without momentum: θ := θ − α·dθ) on mini-batches of
            {cfg.batch_size}, in a new order every epoch, drawn from a generator seeded with the seed and the
            epoch (so pausing and playing on gives the same network)."""
            + (f" The cost adds the {cfg.regularization} penalty λ/(2m)·Σ "
               + ("‖W‖²" if cfg.regularization == "L2" else "|W|")
               + " over the weight matrices (not the biases), m being the number of training points."
               if cfg.regularization != "none" else "")
            + " After each epoch the loss" + ("" if regression else " and accuracy")
            + " on the whole training and test sets are measured in eval mode: the rows of the lab's loss chart."),
        code("""
            optimizer = torch.optim.SGD(model.parameters(), lr=$lr)
            REGULARIZATION, LAMBDA, m = $reg, $rate, len(y_train)
            weights = [mod.weight for mod in model if isinstance(mod, nn.Linear)]


            def cost(out, target):
                return $loss


            def penalty():
                if REGULARIZATION == "L2":
                    return sum((w.pow(2).sum() for w in weights[1:]), weights[0].pow(2).sum()) * (LAMBDA / (2 * m))
                if REGULARIZATION == "L1":
                    return sum((w.abs().sum() for w in weights), torch.zeros(())) * (LAMBDA / (2 * m))
                return None


            def measure(epoch):
                model.eval()
                row = {"epoch": epoch}
                with torch.no_grad():
                    for part, (Xp, yp) in (("train", (X_train, y_train)), ("test", (X_test, y_test))):
                        out = model(Xp).float()
                        row[f"{part}_loss"] = cost(out, yp).item()
                        if not $regression:
                            row[f"{part}_accuracy"] = (out.argmax(1) == yp).sum().item() / len(yp)
                model.train()
                return row


            history = [measure(0)]
            n, bs = len(y_train), min($batch, len(y_train))
            for epoch in range(EPOCHS):
                model.train()
                if bs >= n:
                    batches = [(X_train, y_train)]
                else:
                    order = torch.randperm(n, generator=torch.Generator().manual_seed(SEED * 100_003 + epoch))
                    batches = [(X_train[idx], y_train[idx]) for idx in order.split(bs)]
                for xb, yb in batches:
                    loss = cost(model(xb), yb)
                    extra = penalty()
                    if extra is not None:
                        loss = loss + extra
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    if not math.isfinite(loss.item()):
                        raise RuntimeError(f"the loss became {loss.item()} in epoch {epoch + 1}: try a smaller learning rate")
                history.append(measure(epoch + 1))
                if (epoch + 1) % max(1, EPOCHS // 10) == 0:
                    print(history[-1])
            final = {k: v for k, v in history[-1].items() if k != "epoch"}
        """.replace("$loss", loss), lr=cfg.lr, reg=cfg.regularization, rate=cfg.reg_rate, batch=cfg.batch_size,
             regression=regression),
        *snippets.final_cell(f"the last epoch's training and test loss{'' if regression else ' and accuracy'}"),
    ]
    return Export(f"playground_{cfg.dataset.replace('-', '_')}", f"Playground: {cfg.dataset}", tuple(cells))
