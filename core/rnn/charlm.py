"""A character-level language model, trained as one tracked run (MLflow experiment "rnn").

The text is cut into windows: X = [N, T] character ids, y = [N, T] the next character at
each position; the model (embedding → ``torch.nn.RNN``/``LSTM``/``GRU``, 1–3 layers → a
linear layer) returns [N, T, V] logits and the loss is the cross-entropy of every position.
It trains through :func:`core.experiment.train_tracked` (the one training loop), and samples
a few lines after every epoch (``ctx.push("samples", ...)`` and a text artifact per epoch).
The job hands back plain data (:class:`CharLMResult`: the run id, the vocabulary, the curves,
the samples); the page rebuilds the trained network from the run's weights with
:func:`load_charlm`.

The trained model uses PyTorch's recurrent layers for speed: ``nn.LSTM`` computes exactly
the course's LSTM (tests/unit/test_rnn.py checks :class:`core.rnn.cells.LSTMCell` against
``nn.LSTMCell`` with the same weights) and ``nn.RNN`` the course's RNN; ``nn.GRU`` is
PyTorch's variant of the GRU (see :class:`core.rnn.cells.TorchGRUCell`).

Corpora (:mod:`core.rnn.corpora`) that work offline: first names, last names and German or Italian city names from
the Faker package, docstrings of Python's standard library, or an uploaded .txt file
(:func:`decode_text`). For list corpora each entry is one line, and a sample is one line.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core import tracking
from core.data.vocab import Vocab
from core.device import pick_device, seed_everything
from core.experiment import FAILED, Lane, train_tracked
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.rnn.corpora import CORPORA, MAX_UPLOAD_BYTES, MIN_TEXT_CHARS, NEWLINE, CorpusError, decode_text, load_corpus
from core.settings import Settings, setting
from core.training import Callback

__all__ = [
    "CORPORA",
    "LM_CELLS",
    "MAX_UPLOAD_BYTES",
    "UPLOAD",
    "CharLM",
    "CharLMConfig",
    "CharLMResult",
    "CorpusError",
    "Vocab",
    "decode_text",
    "load_charlm",
    "load_corpus",
    "make_windows",
    "run_charlm",
    "sample",
    "sample_text_file",
    "sequence_cross_entropy",
    "unigram_entropy",
]

PAGE = "rnn"
UPLOAD = "upload"  # the corpus of an uploaded text


def corpus_label(key: str) -> str:
    """How the page names a corpus (or the upload)."""
    return "Your own text (.txt upload)" if key == UPLOAD else CORPORA[key].label
LM_CELLS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


# --------------------------------------------------------------------------- data


def make_windows(ids: Tensor, seq_len: int, stride: int | None = None) -> tuple[Tensor, Tensor]:
    """Windows of a 1-D id sequence: X [N, T] = ids[s : s+T], y [N, T] = ids[s+1 : s+T+1]
    (the next character at every position) for s = 0, stride, 2·stride, …"""
    if seq_len < 1:
        raise ValueError("the sequence length must be at least 1")
    stride = stride or seq_len
    n = (len(ids) - 1 - seq_len) // stride + 1
    if n < 1:
        raise ValueError(f"the text is too short for windows of {seq_len} characters")
    starts = torch.arange(n) * stride
    offsets = torch.arange(seq_len)
    X = ids[starts[:, None] + offsets]  # (N, T)
    y = ids[starts[:, None] + offsets + 1]
    return X, y


def unigram_entropy(ids: Tensor, n_symbols: int | None = None) -> float:
    """H = −Σ p(c) ln p(c) of the character frequencies, in nats: the loss of the best
    model that ignores context."""
    counts = torch.bincount(ids, minlength=n_symbols or 0).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def sequence_cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy over every position: logits [N, T, V], y [N, T]."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


# --------------------------------------------------------------------------- the model


class CharLM(nn.Module):
    """Embedding (V → E) → RNN/LSTM/GRU (1–3 layers, hidden H) → linear (H → V).

    ``forward(x [N, T])`` → logits [N, T, V]; ``step`` carries the recurrent state for
    sampling one character at a time. PyTorch's layers are used for speed: ``nn.LSTM``
    computes the course's LSTM equations exactly and ``nn.RNN`` the course's RNN
    (tests/unit/test_rnn.py checks our cells against them with the same weights);
    ``nn.GRU`` is PyTorch's GRU variant (r applied after the recurrent matrix). (Karpathy, "The Unreasonable Effectiveness of
    Recurrent Neural Networks", 2015; Graves, "Generating Sequences With Recurrent Neural
    Networks", 2013.)"""

    def __init__(self, vocab_size: int, cell: str = "LSTM", embedding_size: int = 16, hidden_size: int = 64,
                 num_layers: int = 1) -> None:
        super().__init__()
        if cell not in LM_CELLS:
            raise ValueError(f"unknown cell {cell!r}: choose one of {', '.join(LM_CELLS)}")
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.rnn = LM_CELLS[cell](embedding_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def step(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.rnn(self.embed(x), state)  # (N, T, H)
        return self.head(out), state

    def forward(self, x: Tensor) -> Tensor:
        return self.step(x)[0]  # (N, T, V)


@torch.no_grad()
def sample(model: CharLM, vocab: Vocab, *, n: int = 5, temperature: float = 1.0, seed: int = 0, start: str = NEWLINE,
           max_len: int = 40, stop_at_newline: bool = True) -> list[str]:
    """``n`` samples drawn one character at a time from softmax(logits / temperature).

    Each sample is primed with ``start`` (a newline: "the beginning of a line") and ends at
    the next newline or after ``max_len`` characters. ``temperature`` ≤ 1e-6 (or 0) takes the
    arg-max at every step (greedy: always the same sample). The same ``seed`` gives the
    same samples."""
    if temperature < 0:
        raise ValueError("the temperature must not be negative")
    if not start:
        raise ValueError("give at least one character to start from")
    if temperature <= 1e-6 and n > 1:  # greedy: one sample, n times (rows of a batch may differ in the last bit)
        return sample(model, vocab, n=1, temperature=0.0, seed=seed, start=start, max_len=max_len,
                      stop_at_newline=stop_at_newline) * n
    device = next(model.parameters()).device
    was = model.training
    model.eval()
    gen = torch.Generator(device="cpu").manual_seed(seed)
    prime = vocab.encode(start).to(device)[None].repeat(n, 1)  # (n, len(start))
    logits, state = model.step(prime)
    last = logits[:, -1].float().cpu()  # (n, V)
    out = torch.zeros(n, max_len, dtype=torch.int64)
    for t in range(max_len):
        if temperature <= 1e-6:
            nxt = last.argmax(1)
        else:
            probs = torch.softmax(last / temperature, dim=1)
            nxt = torch.multinomial(probs, 1, generator=gen)[:, 0]
        out[:, t] = nxt
        logits, state = model.step(nxt[:, None].to(device), state)
        last = logits[:, -1].float().cpu()
    model.train(was)
    texts = []
    for row in out.tolist():
        s = vocab.decode(row)
        texts.append(s.split(NEWLINE)[0] if stop_at_newline else s)
    return texts


# --------------------------------------------------------------------------- the tracked job


@dataclass(frozen=True)
class CharLMConfig(Settings):
    """One character-model training (also the tracked run's params, without ``text``)."""

    # a key of CORPORA, or UPLOAD (then ``text`` holds the text)
    corpus: str = setting("first names", label="Text to learn", choices=lambda: (*CORPORA, UPLOAD),
                          labels=lambda key: corpus_label(key))
    cell: str = setting("LSTM", label="Cell", choices=("LSTM", "GRU", "RNN"))
    num_layers: int = setting(1, label="Layers", options=(1, 2, 3))
    embedding_size: int = setting(16, label="Embedding size", options=(4, 8, 16, 32, 64))
    hidden_size: int = setting(128, label="Hidden size", options=(16, 32, 64, 128, 256))
    seq_len: int = setting(24, label="Sequence length (characters)", options=(8, 16, 24, 32, 48, 64, 128))
    epochs: int = setting(20, label="Epochs", lo=1, hi=200, widget="slider")
    batch_size: int = setting(64, label="Batch size", lo=1, hi=4096)
    # the page offers up to 10; tests use absurd rates to overflow float32
    lr: float = setting(0.005, label="Learning rate", lo=1e-5, hi=1e36, fmt="%g")
    optimizer: str = setting("Adam", label="Optimizer", choices=OPTIMIZERS)
    temperature: float = setting(0.8, label="Temperature of the samples shown while training", lo=0.0, hi=2.0,
                                 step=0.1, widget="slider")  # for the samples drawn after each epoch
    n_samples: int = setting(8, label="Samples drawn after each epoch", lo=1, hi=50)
    # a longer text is cut (a few epochs must fit in a minute)
    max_chars: int = setting(300_000, label="Characters of text kept", lo=1000)
    dev_fraction: float = setting(0.1, label="Dev fraction", lo=0.0, hi=0.5)
    seed: int = 0
    text: str = field(default="", repr=False, compare=False)
    text_name: str = ""

    def check(self) -> None:
        if self.corpus == UPLOAD and len(self.text.strip()) < MIN_TEXT_CHARS:
            raise ValueError(f"upload a text of at least {MIN_TEXT_CHARS} characters first")

    def params(self) -> dict[str, Any]:
        """The run's params: the config without the uploaded text itself (its size and hash instead)."""
        p = {k: v for k, v in asdict(self).items() if k != "text"}
        if self.corpus == UPLOAD:
            p["text_chars"] = len(self.text)
            p["text_sha1"] = hashlib.sha1(self.text.encode()).hexdigest()[:12]
        return p


@dataclass
class CharLMResult(Outcome):
    """What a finished (or stopped) character-model training leaves for the page (plain data):
    the tracked lane (its run id, status, history), the vocabulary, every epoch's samples and
    the sizes. The trained network is in the run's weights: :func:`load_charlm` rebuilds it."""

    lane: Lane
    vocab: Vocab
    samples: list[dict[str, Any]] = field(default_factory=list)  # per epoch: {"epoch", "samples": [...]}
    unigram: float = float("nan")  # the unigram entropy of the training text (nats)
    sizes: dict[str, int] = field(default_factory=dict)
    lines: bool = True
    cell: str = "LSTM"

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.lane.stopped

    @property
    def run_id(self) -> str | None:
        return self.lane.run_id

    @property
    def has_model(self) -> bool:
        """Whether the run saved weights to sample from (a finished or stopped training; not a diverged one)."""
        return self.run_id is not None and self.lane.status != FAILED

    @property
    def final_perplexity(self) -> float | None:
        loss = self.lane.dev_loss if self.lane.dev_loss is not None else self.lane.history.last("train_loss")
        return math.exp(loss) if loss is not None else None


def split_train_dev(text: str, lines: bool, dev_fraction: float, seed: int) -> tuple[str, str]:
    """Train and dev text: lines shuffled with the seed for list corpora, else the last part."""
    if lines:
        items = [s for s in text.split(NEWLINE) if s.strip()]
        random.Random(seed).shuffle(items)
        k = int(round(len(items) * dev_fraction))
        return NEWLINE + NEWLINE.join(items[k:]) + NEWLINE, NEWLINE + NEWLINE.join(items[:k]) + NEWLINE
    k = int(len(text) * (1 - dev_fraction))
    return text[:k], text[k:]


def perplexities(record: dict[str, float]) -> dict[str, float]:
    """e^loss of an epoch's record: {"train": …, "dev": … (when it has a dev loss)} (capped at e^50)."""
    out = {"train": math.exp(min(record["train_loss"], 50))}
    if "dev_loss" in record:
        out["dev"] = math.exp(min(record["dev_loss"], 50))
    return out


def log_lm_extras(run: tracking.TrackedRun, hist: Any, unigram: float, samples: list[dict[str, Any]]) -> None:
    """What a character language model's run records besides its curves: the train and dev perplexity of
    every epoch, the unigram entropy (the no-context baseline) and each epoch's samples as a text file."""
    for row in hist.epochs:
        run.log_metrics({f"{k}_perplexity": v for k, v in perplexities(row).items()}, int(row["epoch"]))
    run.log_metrics({"unigram_entropy": unigram}, hist.steps_done)
    for row in samples:
        run.log_text("\n".join(row["samples"]) + "\n", f"samples_epoch_{row['epoch']:03d}.txt")


class _EpochSamples(Callback):
    """After every epoch: draw samples, push them to the live view and keep them."""

    def __init__(self, ctx: JobContext | None, cfg: CharLMConfig, vocab: Vocab, rows: list[dict[str, Any]],
                 lines: bool) -> None:
        self.ctx, self.cfg, self.vocab, self.rows, self.lines = ctx, cfg, vocab, rows, lines

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        texts = sample(model, self.vocab, n=self.cfg.n_samples, temperature=self.cfg.temperature,
                       seed=self.cfg.seed + epoch, max_len=30 if self.lines else 120, stop_at_newline=self.lines)
        row = {"epoch": epoch, "samples": texts}
        self.rows.append(row)
        if self.ctx is not None:
            self.ctx.push("samples", epoch=epoch, text="\n".join(texts))
            self.ctx.push("perplexity", epoch=epoch, **perplexities(record))


def prepare_text(cfg: CharLMConfig) -> tuple[str, bool]:
    """(the corpus text, whether it is a list of lines), cut to ``cfg.max_chars``."""
    if cfg.corpus == UPLOAD:
        text, lines = cfg.text, False
    else:
        text, lines = load_corpus(cfg.corpus), CORPORA[cfg.corpus].lines
    return text[: cfg.max_chars], lines


def run_charlm(ctx: JobContext | None, cfg: CharLMConfig, device: torch.device | None = None) -> CharLMResult:
    """Train a :class:`CharLM` on the config's corpus as one tracked run (a job function); the live
    view gets the lane's series (named by the cell), ``"samples"`` and ``"perplexity"`` per epoch.

    Logs the config, the sizes, per-epoch train/dev loss and perplexity, the samples of
    every epoch as text artifacts (``samples/epoch_NNN.txt``) and the unigram-entropy
    reference. A NaN loss ends the run FAILED (the lane carries the sentence, the job reports
    it); Stop ends it KILLED with its weights logged, and the result then says ``stopped``."""
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, "preparing the text")
    text, lines = prepare_text(cfg)
    vocab = Vocab.of(text + NEWLINE)
    train_text, dev_text = split_train_dev(text, lines, cfg.dev_fraction, cfg.seed)
    train_ids = vocab.encode(train_text)
    X, y = make_windows(train_ids, cfg.seq_len, stride=max(cfg.seq_len // 2, 1))
    dev = None
    if len(dev_text) > cfg.seq_len + 1:
        dev = make_windows(vocab.encode(dev_text), cfg.seq_len)
    seed_everything(cfg.seed)
    model = CharLM(len(vocab), cfg.cell, cfg.embedding_size, cfg.hidden_size, cfg.num_layers).to(device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    sizes = {"train_chars": len(train_text), "dev_chars": len(dev_text), "vocab_size": len(vocab),
             "train_windows": len(y), "dev_windows": 0 if dev is None else len(dev[1])}
    result = CharLMResult(Lane(cfg.cell), vocab, unigram=unigram_entropy(train_ids, len(vocab)), sizes=sizes,
                          lines=lines, cell=cfg.cell)
    samples = _EpochSamples(ctx, cfg, vocab, result.samples, lines)

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        log_lm_extras(run, hist, result.unigram, result.samples)

    params = {**cfg.params(), **sizes, "device": str(device)}
    name = f"{cfg.cell} char-LM on {cfg.text_name or cfg.corpus}"
    # the lane is named by its cell: its live series are "LSTM" and "LSTM/epochs", and a divergence reads
    # "LSTM diverged: the loss became NaN at step 12 — …" in the job panel
    result.lane = train_tracked(ctx, PAGE, params, model, (X, y), opt, name=cfg.cell, dev=dev, epochs=cfg.epochs,
                                batch_size=cfg.batch_size, loss_fn=sequence_cross_entropy, callbacks=[samples],
                                run_name=name, tags={tracking.TAG_KIND: "char-lm"}, device=device, seed=cfg.seed,
                                finish=finish, figure_title=name, measure_accuracy=False)  # [N, T, V] logits
    return result


def load_charlm(run_id: str, user: User = LOCAL_USER) -> CharLM:
    """The :class:`CharLM` a tracked :func:`run_charlm` trained (finished or stopped), rebuilt from
    the run's params with its saved weights, on the CPU in eval mode. ValueError with a plain
    message when it cannot be (no such run, or it saved no weights)."""
    params = tracking.run_params(run_id, user=user)
    state = tracking.saved_weights(run_id, user=user)
    try:
        model = CharLM(int(params["vocab_size"]), params["cell"], int(params["embedding_size"]),
                       int(params["hidden_size"]), int(params["num_layers"]))
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ValueError("this run is not a character language model of this lab (its weights do not fit)") from exc
    return model.eval()


def sample_text_file(result: CharLMResult) -> str:
    """Every epoch's samples as one text (for the download)."""
    parts = [f"# epoch {row['epoch']}\n" + "\n".join(row["samples"]) for row in result.samples]
    return "\n\n".join(parts) + "\n"
