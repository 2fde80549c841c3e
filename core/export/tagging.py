"""The RNN page's tagging task for the bidirectional RNN (:func:`core.rnn.tagging.run_tagging`) as a
notebook: the random digit strings and their "is the next digit larger?" tags, the course's recurrent cells
(the lab's module, copied as it is), and the unidirectional and bidirectional taggers trained alike."""

from __future__ import annotations

import inspect
import re

from core.export import snippets
from core.export.notebook import Cell, Export, code, md
from core.rnn import cells as course_cells
from core.rnn.tagging import LANES, TaggingConfig, make_tagging_data, masked_accuracy, tagging_loss


def _cells_source() -> str:
    """The lab's recurrent cells module without its docstring and ``from __future__`` line (the middle of a
    script cannot hold that import), a method's return annotation of its own class written as a string
    (without that import Python reads annotations when it defines the method, before the class exists)."""
    body = inspect.getsource(course_cells).split("from __future__ import annotations\n", 1)[1]
    classes = [name for name, obj in vars(course_cells).items()
               if inspect.isclass(obj) and obj.__module__ == course_cells.__name__]
    return re.sub(rf"-> ({'|'.join(map(re.escape, classes))}):", r'-> "\1":', body).strip()


def tagging(cfg: TaggingConfig, *, device: str = "auto") -> Export:
    """The comparison ``cfg`` as code; ``final`` maps "unidirectional" and "bidirectional" to their run's final
    train and dev loss and their dev and train accuracy over the scored positions."""
    if not isinstance(cfg, TaggingConfig):
        raise ValueError("the tagging task's export needs a TaggingConfig")
    cells: list[Cell] = [
        snippets.settings_table({k: getattr(cfg, k) for k in cfg.__dataclass_fields__}, (
            "The RNN page's tagging task as plain PyTorch: tag each digit of a string with 1 when the next digit "
            "is larger. A left-to-right RNN cannot see the next digit; a bidirectional one can. Run the cells from "
            "the top; the numbers at the end are those of the lab's two tracked runs (on the same kind of "
            "device).")),
        snippets.device_cell(device),
        md("""
            ## The data
            Strings of random digits drawn from a seeded generator; the tag at t is 1 when x⟨t+1⟩ > x⟨t⟩, and
            the last position (no next digit) is marked -100 so the loss and the accuracy skip it. The lab's
            function, copied as it is; the dev strings come from the seed + 10007."""),
        code("from torch import Tensor  # the functions below name it in their signatures"),
        snippets.source_of(make_tagging_data, tagging_loss, masked_accuracy),
        code("""
            train = make_tagging_data($n_train, $length, $k, $seed)
            dev = make_tagging_data($n_dev, $length, $k, $seed + 10_007)
            train, dev = tuple(t.to(DEVICE) for t in train), tuple(t.to(DEVICE) for t in dev)
            print(train[0][0].tolist(), "→", train[1][0].tolist())
        """, n_train=cfg.n_train, n_dev=cfg.n_dev, length=cfg.length, k=cfg.n_symbols, seed=cfg.seed),
        md("""
            ## The course's recurrent cells
            The lab does not use `nn.GRU` here but the cells written from the course's equations, one weight
            matrix per gate on [a⟨t−1⟩, x⟨t⟩]; `Recurrent` runs a cell over the string (and, bidirectional,
            a second one from the end), and `BidirectionalTagger` puts the output layer on top. The lab's
            module, copied as it is:"""),
        Cell("code", _cells_source()),
        *snippets.optimizer_cells([cfg.optimizer]),
        *snippets.fit_cells(),
        md("""
            ## The two taggers
            Both seeded alike (Python, NumPy and PyTorch) before they are built, trained on the same strings;
            only the direction differs. After training, the accuracy counts the scored positions only.
            **Try:** a longer string or fewer training strings."""),
        code("""
            final = {}
            for name in $lanes:
                print(name)
                random.seed($seed)
                np.random.seed($seed)
                torch.manual_seed($seed)
                model = BidirectionalTagger($k, 2, $hidden, $cell, bidirectional=name == "bidirectional").to(DEVICE)
                optimizer = make_optimizer($opt, model.parameters(), $lr)
                final[name] = fit(model, optimizer, train, dev, epochs=$epochs, batch_size=$bs, seed=$seed,
                                  loss_fn=tagging_loss)
                model.eval()
                with torch.no_grad():
                    final[name]["dev_accuracy"] = masked_accuracy(model(dev[0]).argmax(1), dev[1])
                    final[name]["train_accuracy"] = masked_accuracy(model(train[0]).argmax(1), train[1])
        """, lanes=LANES, seed=cfg.seed, k=cfg.n_symbols, hidden=cfg.hidden_size, cell=cfg.cell, opt=cfg.optimizer,
             lr=float(cfg.lr), epochs=cfg.epochs, bs=cfg.batch_size),
        *snippets.final_cell("each tagger's final training and dev loss and its accuracy on the scored positions"),
    ]
    return Export(f"tagging_{cfg.cell}", f"Tagging with a unidirectional and a bidirectional {cfg.cell}", tuple(cells))
