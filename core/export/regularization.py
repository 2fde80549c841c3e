"""The Regularization page's experiments (:mod:`core.regularization.experiments`) as notebooks: the small
training subset, the network with inverted dropout and/or batch norm, the L2 penalty, and each variant of
the experiment trained from the same initial weights — the overfitting experiment (:func:`overfit`), the
λ and keep_prob sweep (:func:`sweep`), batch norm at several learning rates (:func:`batch_norm`) and
augmented copies of the training images (:func:`augmentation`) and early stopping (:func:`early_stopping`)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from core.export import snippets
from core.export.notebook import Cell, Export, code, md
from core.regularization.augment import augmented_training_set
from core.regularization.experiments import (
    AugmentConfig,
    BatchNormConfig,
    EarlyStopConfig,
    OverfitConfig,
    SweepConfig,
    describe,
)
from core.regularization.formulas import InvertedDropout
from core.regularization.lab import DEV_SIZE, MONITORS, SPLIT, Setup

Training = tuple[str, float, float, bool, float, str]  # (name, λ, keep_prob, batch norm, α, training set)


def lanes(cfg: OverfitConfig) -> list[tuple[str, float, float]]:
    """``(name, λ, keep_prob)`` of each training, as :func:`run_overfit` plans them."""
    regularized = cfg.lam > 0 or cfg.keep_prob < 1
    out = [("no regularization", 0.0, 1.0)] if cfg.baseline or not regularized else []
    if regularized:
        out.append((describe(cfg.lam, cfg.keep_prob), float(cfg.lam), float(cfg.keep_prob)))
    return out


def _settings(cfg: Any) -> dict[str, Any]:
    """The config's values as one flat table (the set-up's fields first)."""
    values = asdict(cfg)
    return {**values.pop("setup"), **values}


def _experiment(cfg: Any, s: Setup, trainings: Sequence[Training], *, name: str, title: str, intro: str,
                device: str, extra: Sequence[Cell] = (), stoppers: Mapping[str, tuple[str, str, int]] | None = None
                ) -> Export:
    """The cells every experiment of the page shares, around ``extra`` (cells that add training sets to
    ``SETS`` or define ``EarlyStopping``) and the ``trainings`` loop; ``stoppers``: the trainings that stop
    early, name → (measure, "min" or "max", patience)."""
    stop = ("\n                stopper = EarlyStopping(*STOPPERS[name]) if name in STOPPERS else None"
            if stoppers else "")  # indented as the loop's body in the cell below
    cells: list[Cell] = [
        snippets.settings_table(_settings(cfg), (
            f"{intro} Run the cells from the top; the numbers at the end are those of the lab's tracked runs (on "
            "the same kind of device).")),
        snippets.device_cell(device),
        *snippets.dataset_cells(s.dataset),
        *snippets.split_cell(SPLIT, s.seed),
        md(f"""
            ### A small training set
            Only the first {s.n_train} training images are kept (so the network can memorise them) and at
            most {DEV_SIZE:,} dev images."""),
        code("""
            train = train[0][:$n_train], train[1][:$n_train]
            dev = dev[0][:$dev_size].to(DEVICE), dev[1][:$dev_size].to(DEVICE)
            SETS = {"original": (train[0].to(DEVICE), train[1].to(DEVICE))}
            N_FEATURES = X[0].numel()
        """, n_train=s.n_train, dev_size=DEV_SIZE),
        *extra,
        md("""
            ## Inverted dropout
            In training, each unit is kept with probability keep_prob and the kept ones are divided by
            keep_prob, so the next layer sees the same expected values; in eval mode it does nothing. The lab's
            module, copied as it is:"""),
        Cell("code", inspect.getsource(InvertedDropout).strip()),
        md("""
            ## The network and the L2 penalty
            Per hidden layer a linear layer, (with batch norm) a BatchNorm1d on its output Z — the layer then
            needs no bias, β replaces it —, ReLU and (with keep_prob < 1) dropout; seeding just before building
            it gives each training the same initial weights. The L2 penalty λ/(2m)·Σ‖W‖² over the weight
            matrices (m = the number of training images) is added to every mini-batch's loss."""),
        code("""
            def network(keep_prob, batch_norm=False):
                torch.manual_seed($seed)
                layers, width = [nn.Flatten()], N_FEATURES
                for h in $hidden:
                    layers.append(nn.Linear(width, h, bias=not batch_norm))
                    if batch_norm:
                        layers.append(nn.BatchNorm1d(h))
                    layers.append(nn.ReLU())
                    if keep_prob < 1.0:
                        layers.append(InvertedDropout(keep_prob))
                    width = h
                return nn.Sequential(*layers, nn.Linear(width, N_CLASSES)).to(DEVICE)


            def l2_penalty(model, lam, m):
                weights = [mod.weight for mod in model.modules() if isinstance(mod, nn.Linear)]
                def penalty():
                    total = weights[0].pow(2).sum()
                    for w in weights[1:]:
                        total = total + w.pow(2).sum()
                    return total * (lam / (2 * m))
                return penalty
        """, seed=s.seed, hidden=tuple(s.hidden)),
        *snippets.optimizer_cells([s.optimizer]),
        *snippets.fit_cells(),
        md("""
            ## The trainings
            Each row of TRAININGS is one tracked run of the lab: its name, λ, keep_prob, batch norm or not,
            the learning rate α and the training set it learns from. All start from the same initial
            weights."""),
        code("""
            TRAININGS = $trainings""" + ("""
            STOPPERS = $stoppers  # name → (measure, "min" or "max", patience)""" if stoppers else "") + """
            final = {}
            for name, lam, keep_prob, batch_norm, lr, train_set in TRAININGS:
                print(name)
                data = SETS[train_set]
                model = network(keep_prob, batch_norm)
                optimizer = make_optimizer($opt, model.parameters(), lr)
                penalty = l2_penalty(model, lam, len(data[1])) if lam > 0 else None""" + stop + """
                final[name] = fit(model, optimizer, data, dev, epochs=$epochs, batch_size=$bs, seed=$seed,
                                  penalty=penalty""" + (", stopper=stopper" if stoppers else "") + """)
        """, trainings=list(trainings), stoppers=dict(stoppers or {}), opt=s.optimizer, epochs=s.epochs,
             bs=s.batch_size, seed=s.seed),
        *snippets.final_cell("each training's final training and dev loss and accuracy"),
    ]
    return Export(f"{name}_{s.dataset}", f"{title} on {s.dataset}", tuple(cells))


def overfit(cfg: OverfitConfig, *, device: str = "auto") -> Export:
    """The experiment ``cfg`` as code; ``final`` maps each training's name to its run's ``final_*`` metrics."""
    if not isinstance(cfg, OverfitConfig):
        raise ValueError("the overfitting experiment's export needs an OverfitConfig")
    s = cfg.setup
    trainings = [(n, lam, kp, False, float(s.lr), "original") for n, lam, kp in lanes(cfg)]
    return _experiment(cfg, s, trainings, name="overfitting", title="Overfitting and regularization", device=device,
                       intro=("The overfitting set-up of the lab's Regularization page, as plain PyTorch: a large "
                              "network on a few training images, with L2 and/or inverted dropout, beside the same "
                              "network without them."))


def sweep(cfg: SweepConfig, *, device: str = "auto") -> Export:
    """The λ and keep_prob sweep: one training per λ (no dropout), then one per keep_prob (no L2)."""
    if not isinstance(cfg, SweepConfig):
        raise ValueError("the sweep's export needs a SweepConfig")
    s = cfg.setup
    trainings = [(f"λ={lam:g}", float(lam), 1.0, False, float(s.lr), "original") for lam in cfg.lambdas]
    trainings += [(f"keep_prob={kp:g}", 0.0, float(kp), False, float(s.lr), "original") for kp in cfg.keep_probs]
    return _experiment(cfg, s, trainings, name="regularization_sweep", title="A sweep of λ and keep_prob",
                       device=device, intro=(
                           "The Regularization page's sweep as plain PyTorch: the overfitting set-up trained once for "
                           "each L2 strength λ (without dropout) and once for each keep_prob (without L2). **Try:** "
                           "add a value between the best two."))


def batch_norm(cfg: BatchNormConfig, *, device: str = "auto") -> Export:
    """Batch norm against none at each learning rate (with the comparison's optimizer, size and epochs)."""
    if not isinstance(cfg, BatchNormConfig):
        raise ValueError("the batch-norm comparison's export needs a BatchNormConfig")
    cfg.check()
    s = replace(cfg.setup, n_train=cfg.n_train, epochs=cfg.epochs, optimizer=cfg.optimizer)
    trainings = []
    for lr in cfg.learning_rates:
        trainings += [(f"no BN, α={lr:g}", 0.0, 1.0, False, float(lr), "original"),
                      (f"BN, α={lr:g}", 0.0, 1.0, True, float(lr), "original")]
    return _experiment(cfg, s, trainings, name="batch_norm", title="Batch normalization and the learning rate",
                       device=device, intro=(
                           "The Regularization page's batch-norm comparison as plain PyTorch: the same network without "
                           "and with batch normalization at each learning rate. **Try:** a larger α, where only the "
                           "network with batch norm still learns."))


def augmentation(cfg: AugmentConfig, *, device: str = "auto") -> Export:
    """The small training set alone, then with modified copies of every image (the lab's augmentation code)."""
    if not isinstance(cfg, AugmentConfig):
        raise ValueError("the augmentation experiment's export needs an AugmentConfig")
    cfg.check()
    s, a = cfg.setup, cfg.augment
    spec = {**asdict(a), "transforms": a.transforms}
    extra = [
        md(f"""
            ## Augmented copies
            Each training image gets {a.copies} modified copies ({", ".join(a.transforms)}), each with its own
            random strength drawn from a generator seeded with the seed; the labels stay the same. The lab's
            own functions, copied as they are:"""),
        code("""
            from types import SimpleNamespace

            AugmentSpec = SimpleNamespace  # the lab keeps these settings in a dataclass; a namespace does here
            spec = AugmentSpec(**$spec)
        """, spec=spec),
        snippets.source_of(augmented_training_set),
        code("""
            augmented = augmented_training_set(*train, spec, seed=$seed)
            SETS["augmented"] = augmented[0].to(DEVICE), augmented[1].to(DEVICE)
            print(len(augmented[1]), "training images with their copies")
        """, seed=s.seed),
    ]
    lr = float(s.lr)
    trainings = [("without augmentation", 0.0, 1.0, False, lr, "original"),
                 ("with augmentation", 0.0, 1.0, False, lr, "augmented")]
    return _experiment(cfg, s, trainings, name="augmentation", title="Data augmentation", device=device, extra=extra,
                       intro=("The Regularization page's augmentation experiment as plain PyTorch: the small training "
                              "set alone, then with modified copies of every image added to it."))


def early_stopping(cfg: EarlyStopConfig, *, device: str = "auto") -> Export:
    """All epochs (when compared) and stopping once the watched dev measure stops improving."""
    if not isinstance(cfg, EarlyStopConfig):
        raise ValueError("the early-stopping experiment's export needs an EarlyStopConfig")
    s, (monitor, mode) = cfg.setup, MONITORS[cfg.monitor]
    lr = float(s.lr)
    trainings = ([("all epochs", 0.0, 1.0, False, lr, "original")] if cfg.compare else [])
    trainings.append(("early stopping", 0.0, 1.0, False, lr, "original"))
    extra = [
        md(f"""
            ## Early stopping
            After each epoch the dev set's {cfg.monitor} is compared with the best so far; after
            {cfg.patience} epochs without improvement the training ends and the weights of the best epoch come
            back. **Try:** a smaller patience, and see how much earlier it ends."""),
        code("""
            class EarlyStopping:
                \"\"\"Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best epoch's weights.\"\"\"

                def __init__(self, monitor, mode, patience):
                    self.monitor, self.mode, self.patience = monitor, mode, patience
                    self.best, self.bad_epochs, self.best_state = None, 0, None

                def stop(self, model, measures):
                    value = measures[self.monitor]
                    if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
                        self.best, self.bad_epochs = value, 0
                        self.best_state = copy.deepcopy(model.state_dict())
                        return False
                    self.bad_epochs += 1
                    return self.bad_epochs >= self.patience

                def restore(self, model):
                    if self.best_state is not None:
                        model.load_state_dict(self.best_state)
        """),
    ]
    return _experiment(cfg, s, trainings, name="early_stopping", title="Early stopping", device=device, extra=extra,
                       stoppers={"early stopping": (monitor, mode, int(cfg.patience))},
                       intro=("The Regularization page's early-stopping experiment as plain PyTorch: the overfitting "
                              "set-up trained for all its epochs, and again stopped when the dev set stops improving."))
