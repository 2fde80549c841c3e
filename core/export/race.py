"""The optimizer race (:func:`core.optimizers.race.run_race`) as a notebook: the same data, split and
initial network, trained once per optimizer with the course's update rules."""

from __future__ import annotations

from dataclasses import asdict

from core.data import DATASETS
from core.export import snippets
from core.export.notebook import Cell, Export, code, md
from core.optimizers.race import RaceConfig

SPLIT = (0.7, 0.15, 0.15)  # what run_race splits with


def race(cfg: RaceConfig, *, device: str = "auto") -> Export:
    """The race ``cfg`` as code; ``final`` maps each optimizer to its run's ``final_*`` metrics."""
    if not isinstance(cfg, RaceConfig):
        raise ValueError("the race's export needs a RaceConfig")
    toy = {"n": cfg.toy_points, "noise": cfg.toy_noise, "seed": cfg.seed}
    points = DATASETS[cfg.dataset].kind == "points"
    cells: list[Cell] = [
        snippets.settings_table(asdict(cfg), (
            "The optimizer race of the lab's Optimizers page, as plain PyTorch: one network, one set of initial "
            "weights, trained once per optimizer on the same mini-batches. Run the cells from the top; the "
            "numbers at the end are those of the lab's tracked runs with the same set-up (on the same kind of "
            "device).")),
        snippets.device_cell(device),
        *snippets.dataset_cells(cfg.dataset, toy=toy if points else None),
        *snippets.split_cell(SPLIT, cfg.seed),
        code("train, dev = [(a.to(DEVICE), b.to(DEVICE)) for a, b in (train, dev)]  # the data stay on the device"),
        md("""
            ## The network
            A fully connected network: the input flattened, then per hidden layer a linear layer and ReLU,
            then a linear layer to one score per class. Seeding first makes its initial weights the lab's;
            every optimizer starts from a copy of these same weights."""),
        code("""
            random.seed($seed)
            np.random.seed($seed)
            torch.manual_seed($seed)
            layers, width = [nn.Flatten()], X[0].numel()
            for h in $hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            base = nn.Sequential(*layers, nn.Linear(width, N_CLASSES))
            print(base)
        """, seed=cfg.seed, hidden=tuple(cfg.hidden)),
        *snippets.optimizer_cells(cfg.optimizers),
        *snippets.fit_cells(),
        md("""
            ## The race
            Each optimizer trains its own copy of the initial network, with the same shuffles (the
            generator is seeded again for each)."""),
        code("""
            RACE = $race
            final = {}
            for name, lr in RACE:
                print(name, "α =", lr)
                model = copy.deepcopy(base).to(DEVICE)
                opt = make_optimizer(name, model.parameters(), lr, beta=$beta, beta1=$beta1, beta2=$beta2, eps=$eps)
                final[name] = fit(model, opt, train, dev, epochs=$epochs, batch_size=$bs, seed=$seed)
        """, race=list(zip(cfg.optimizers, cfg.learning_rates, strict=True)), beta=cfg.beta, beta1=cfg.beta1,
             beta2=cfg.beta2, eps=cfg.eps, epochs=cfg.epochs, bs=cfg.effective_batch_size, seed=cfg.seed),
        *snippets.final_cell("each optimizer's final training and dev loss and accuracy"),
    ]
    return Export(f"optimizer_race_{cfg.dataset}", f"Optimizer race on {cfg.dataset}", tuple(cells))
