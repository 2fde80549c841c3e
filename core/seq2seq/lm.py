"""A tiny decoder-only Transformer language model ("GPT"), trained as one tracked run of the
Sequence models page (MLflow experiment "seq2seq", tag kind "transformer-lm").

The model reads characters: embedding + position (learned by default, or the sinusoids) →
N blocks → LayerNorm → a linear head, ``forward(x [N, T]) → logits [N, T, V]``. Each block is
pre-norm: x + SelfAttention(LN(x)) with the **causal mask** (position t looks at 0 … t only),
then x + FeedForward(LN(x)) (d → 4d → d, ReLU): the encoder–decoder's
:class:`core.seq2seq.transformer.EncoderLayer` under a causal mask. The attention is the lab's own
:class:`core.seq2seq.attention.MultiHeadAttention` (checked against torch's), so every head's
weights can be drawn for a typed text. (Radford et al., 2018/2019, "Improving Language
Understanding by Generative Pre-Training"; Karpathy's nanoGPT.)

It trains exactly like the RNNs page's character model (:mod:`core.rnn.charlm`): the same
corpora, the same vocabulary (the text's characters), the same train/dev split with the same
defaults — so the dev text is the same and the perplexities compare — through the one loop
(:func:`core.experiment.train_tracked`), with samples after every epoch pushed to the live view.

Sampling: the next character is drawn from softmax(logits / T), keeping only the ``top_k``
most likely characters (renormalised) when ``top_k`` is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from core import tracking
from core.data.vocab import Vocab
from core.device import pick_device, seed_everything
from core.experiment import Lane, train_tracked
from core.identity import LOCAL_USER, User
from core.jobs import JobContext
from core.nets import count_params
from core.rnn.charlm import (
    CORPORA,
    UPLOAD,
    CharLMConfig,
    CharLMResult,
    corpus_label,
    log_lm_extras,
    make_windows,
    perplexities,
    prepare_text,
    sequence_cross_entropy,
    split_train_dev,
    unigram_entropy,
)
from core.rnn.corpora import MIN_TEXT_CHARS, NEWLINE
from core.seq2seq.attention import LearnedPositions, causal_mask, sinusoidal_positions
from core.seq2seq.transformer import EncoderLayer
from core.settings import Settings, setting
from core.training import Callback

__all__ = [
    "KIND",
    "MAX_PROMPT_CHARS",
    "POSITIONS",
    "CharLMRun",
    "TinyGPT",
    "TransformerLMConfig",
    "TransformerLMResult",
    "UnknownCharacters",
    "attention_weights",
    "generate",
    "latest_charlm",
    "load_lm",
    "next_token_probs",
    "perplexity_comparison",
    "probabilities",
    "run_transformer_lm",
    "sample_text_file",
]

PAGE = "seq2seq"
KIND = "transformer-lm"
CHARLM_PAGE, CHARLM_KIND = "rnn", "char-lm"
POSITIONS = ("learned", "sinusoidal")
MAX_PROMPT_CHARS = 400  # a typed text longer than this is refused (only the last `context` characters are read)


class UnknownCharacters(ValueError):
    """A typed text holds characters the model never saw in training (``chars``, in order)."""

    def __init__(self, chars: list[str]) -> None:
        self.chars = chars
        shown = ", ".join(repr(c) for c in chars)
        super().__init__(f"the model never saw {shown} in its training text: remove "
                         f"{'them' if len(chars) > 1 else 'it'} or train on a text that has "
                         f"{'them' if len(chars) > 1 else 'it'}")


# --------------------------------------------------------------------------- the model


class TinyGPT(nn.Module):
    """Character embedding + positions → ``num_layers`` causal blocks → LayerNorm → linear head.

    ``forward(x [N, T])`` → logits [N, T, V] for T ≤ ``context``; ``positions`` "learned" (a
    vector per position) or "sinusoidal" (the fixed sinusoids, not trained)."""

    def __init__(self, vocab_size: int, context: int = 32, d_model: int = 64, num_heads: int = 4,
                 num_layers: int = 2, dropout: float = 0.1, positions: str = "learned") -> None:
        super().__init__()
        if positions not in POSITIONS:
            raise ValueError(f"unknown positions {positions!r}: choose one of {', '.join(POSITIONS)}")
        if vocab_size < 1 or context < 1 or num_layers < 1:
            raise ValueError("the vocabulary, the context and the number of layers must be at least 1")
        if not 0.0 <= dropout < 1.0:
            raise ValueError("the dropout must be at least 0 and below 1")
        self.context, self.positions = context, positions
        self.embed = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.embed.weight, std=0.02)
        if positions == "learned":
            self.pos: nn.Module | None = LearnedPositions(context, d_model)
        else:
            self.pos = None
            self.register_buffer("sinusoids", sinusoidal_positions(context, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        # a decoder-only block is the encoder–decoder's encoder layer (pre-norm, d → 4d → d) under a causal mask
        self.blocks = nn.ModuleList(EncoderLayer(d_model, num_heads, 4 * d_model, dropout, norm_first=True)
                                    for _ in range(num_layers))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def _run(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        length = x.shape[1]
        if length > self.context:
            raise ValueError(f"the model reads at most {self.context} characters at once, got {length}")
        h = self.embed(x)
        h = self.pos(h) if self.pos is not None else h + self.sinusoids[:length]
        h = self.drop(h)
        mask = causal_mask(length, device=x.device)
        maps = []
        for block in self.blocks:
            h, w = block(h, mask)
            maps.append(w)
        return self.head(self.ln(h)), maps

    def forward(self, x: Tensor) -> Tensor:
        return self._run(x)[0]

    def attention(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits [N, T, V], every layer's and head's weights [layers, N, heads, T, T])."""
        logits, maps = self._run(x)
        return logits, torch.stack(maps)


# --------------------------------------------------------------------------- reading typed text, sampling


def _check_text(vocab: Vocab, text: str) -> None:
    if not text:
        raise ValueError("type at least one character")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"the text has {len(text):,} characters; type at most {MAX_PROMPT_CHARS}")
    unknown = vocab.unknown(text)
    if unknown:
        raise UnknownCharacters(unknown)


def _check_sampling(temperature: float, top_k: int | None) -> None:
    if not temperature > 0:  # also NaN
        raise ValueError(f"the temperature must be above 0 (got {temperature}); a small one such as 0.05 is "
                         "nearly greedy")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top-k must be at least 1 (got {top_k}), or off")


def probabilities(logits: Tensor, temperature: float = 1.0, top_k: int | None = None) -> Tensor:
    """softmax(logits / T) over the last dimension; with ``top_k`` only the k largest logits keep their
    probability (the others become 0) and the k are renormalised to sum to 1."""
    _check_sampling(temperature, top_k)
    scaled = logits.float() / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = torch.topk(scaled, top_k, dim=-1).indices
        keep = torch.zeros_like(scaled, dtype=torch.bool).scatter_(-1, kth, True)
        scaled = scaled.masked_fill(~keep, float("-inf"))
    return torch.softmax(scaled, dim=-1)


def _window(model: TinyGPT, ids: list[int]) -> Tensor:
    return torch.tensor(ids[-model.context:], dtype=torch.int64)[None]


@torch.no_grad()
def next_token_probs(model: TinyGPT, vocab: Vocab, text: str, temperature: float = 1.0,
                     top_k: int | None = None) -> Tensor:
    """P(next character | ``text``) [V] (the last ``model.context`` characters are read), with the
    temperature and top-k of :func:`probabilities`. ``ValueError`` with a plain sentence for an
    empty or too long text, characters the model never saw (:class:`UnknownCharacters`), a
    temperature ≤ 0 or a top-k below 1."""
    _check_text(vocab, text)
    _check_sampling(temperature, top_k)
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    logits = model(_window(model, vocab.ids(text)).to(device))[0, -1].cpu()
    model.train(was)
    return probabilities(logits, temperature, top_k)


@torch.no_grad()
def attention_weights(model: TinyGPT, vocab: Vocab, text: str) -> Tensor:
    """Every layer's and head's causal attention weights for ``text`` (its last ``model.context``
    characters): [layers, heads, T, T], row t = where character t looked (0 right of the diagonal)."""
    _check_text(vocab, text)
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    _, maps = model.attention(_window(model, vocab.ids(text)).to(device))
    model.train(was)
    return maps[:, 0].cpu()


@torch.no_grad()
def generate(model: TinyGPT, vocab: Vocab, prompt: str = NEWLINE, *, n: int = 1, max_len: int = 40,
             temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
             stop_at_newline: bool = True) -> list[str]:
    """``n`` continuations of ``prompt``, drawn one character at a time from :func:`probabilities`
    (the model reads the last ``model.context`` characters each step). A continuation ends at a newline
    (with ``stop_at_newline``) or after ``max_len`` characters; the prompt is not repeated. The same
    ``seed`` gives the same texts."""
    _check_text(vocab, prompt)
    _check_sampling(temperature, top_k)
    if not 1 <= n <= 1000 or not 1 <= max_len <= 10_000:
        raise ValueError("draw 1 to 1,000 samples of 1 to 10,000 characters")
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator(device="cpu").manual_seed(seed)
    ids = torch.tensor(vocab.ids(prompt), dtype=torch.int64)[None].repeat(n, 1)
    out = torch.zeros(n, max_len, dtype=torch.int64)
    for t in range(max_len):
        logits = model(ids[:, -model.context:].to(device))[:, -1].cpu()
        nxt = torch.multinomial(probabilities(logits, temperature, top_k), 1, generator=gen)
        out[:, t] = nxt[:, 0]
        ids = torch.cat([ids, nxt], dim=1)
    model.train(was)
    texts = [vocab.decode(row) for row in out.tolist()]
    return [s.split(NEWLINE)[0] for s in texts] if stop_at_newline else texts


# --------------------------------------------------------------------------- the tracked job


@dataclass(frozen=True)
class TransformerLMConfig(Settings):
    """One Transformer language-model training (also the tracked run's params, without ``text``).
    The text, its cut and its train/dev split are the character model's (:class:`CharLMConfig`):
    with the same corpus, dev fraction, kept characters and seed the dev text is the same."""

    corpus: str = setting("first names", label="Text to learn", choices=lambda: (*CORPORA, UPLOAD),
                          labels=lambda key: corpus_label(key))
    context: int = setting(16, label="Context (characters it reads at once)", options=(8, 16, 24, 32, 48, 64, 128))
    num_layers: int = setting(2, label="Layers (blocks)", options=(1, 2, 3, 4))
    num_heads: int = setting(4, label="Heads per layer", options=(1, 2, 4, 8))
    d_model: int = setting(32, label="Model size d_model", options=(16, 32, 64, 128),
                           help="The size of every character's vector; each head gets d_model / heads of it.")
    positions: str = setting("learned", label="Positions", choices=POSITIONS, widget="radio",
                             help="A learned vector per position, or the fixed sinusoids of the original paper.")
    dropout: float = setting(0.2, label="Dropout", lo=0.0, hi=0.5, step=0.05)
    epochs: int = setting(30, label="Epochs", lo=1, hi=200, widget="slider")
    batch_size: int = setting(32, label="Batch size", lo=1, hi=4096)
    lr: float = setting(0.003, label="Learning rate", lo=1e-5, hi=1.0, fmt="%g")
    temperature: float = setting(0.8, label="Temperature of the samples shown while training", lo=0.05, hi=2.0,
                                 step=0.05, widget="slider")
    n_samples: int = setting(8, label="Samples drawn after each epoch", lo=1, hi=50)
    max_chars: int = setting(CharLMConfig.max_chars, label="Characters of text kept", lo=1000)
    dev_fraction: float = setting(CharLMConfig.dev_fraction, label="Dev fraction", lo=0.0, hi=0.5)
    seed: int = 0
    text: str = field(default="", repr=False, compare=False)
    text_name: str = ""

    def check(self) -> None:
        if self.d_model % self.num_heads:
            raise ValueError(f"the model size ({self.d_model}) must be a multiple of the number of heads "
                             f"({self.num_heads})")
        if self.corpus == UPLOAD and len(self.text.strip()) < MIN_TEXT_CHARS:
            raise ValueError(f"upload a text of at least {MIN_TEXT_CHARS} characters first")

    def params(self) -> dict[str, Any]:
        """The run's params: the config without the uploaded text itself (its size and hash instead)."""
        return CharLMConfig.params(self)  # type: ignore[arg-type]  # the same fields for the text


@dataclass
class TransformerLMResult(CharLMResult):
    """What a finished (or stopped) training leaves for the page (plain data), as the character
    model's result (lane, vocabulary, every epoch's samples, unigram entropy, sizes) plus the corpus
    and the uploaded text's hash; :func:`load_lm` rebuilds the network from the run."""

    cell: str = "Transformer"
    corpus: str = "first names"
    text_sha1: str = ""


class _EpochSamples(Callback):
    """After every epoch: draw samples, push them and the perplexities to the live view, keep them."""

    def __init__(self, ctx: JobContext | None, cfg: TransformerLMConfig, vocab: Vocab, rows: list[dict[str, Any]],
                 lines: bool) -> None:
        self.ctx, self.cfg, self.vocab, self.rows, self.lines = ctx, cfg, vocab, rows, lines

    def on_epoch_end(self, epoch: int, record: dict[str, float], model: nn.Module) -> None:
        texts = generate(model, self.vocab, NEWLINE, n=self.cfg.n_samples, temperature=self.cfg.temperature,
                         seed=self.cfg.seed + epoch, max_len=30 if self.lines else 120, stop_at_newline=self.lines)
        self.rows.append({"epoch": epoch, "samples": texts})
        if self.ctx is not None:
            self.ctx.push("samples", epoch=epoch, text="\n".join(texts))
            self.ctx.push("perplexity", epoch=epoch, **perplexities(record))


def run_transformer_lm(ctx: JobContext | None, cfg: TransformerLMConfig,
                       device: torch.device | None = None) -> TransformerLMResult:
    """Train a :class:`TinyGPT` on the config's corpus as one tracked run (a job function); the live
    view gets the lane's series ("Transformer", "Transformer/epochs"), "samples" and "perplexity" per
    epoch. Logs the config, the sizes, per-epoch perplexities, every epoch's samples as text artifacts
    and the unigram entropy; a NaN loss ends it FAILED, Stop ends it KILLED with its weights."""
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, "preparing the text")
    text, lines = prepare_text(cfg)  # type: ignore[arg-type]  # the same text fields as CharLMConfig
    vocab = Vocab.of(text + NEWLINE)
    train_text, dev_text = split_train_dev(text, lines, cfg.dev_fraction, cfg.seed)
    train_ids = vocab.encode(train_text)
    X, y = make_windows(train_ids, cfg.context, stride=max(cfg.context // 2, 1))
    dev = make_windows(vocab.encode(dev_text), cfg.context) if len(dev_text) > cfg.context + 1 else None
    seed_everything(cfg.seed)
    model = TinyGPT(len(vocab), cfg.context, cfg.d_model, cfg.num_heads, cfg.num_layers, cfg.dropout,
                    cfg.positions).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sizes = {"train_chars": len(train_text), "dev_chars": len(dev_text), "vocab_size": len(vocab),
             "train_windows": len(y), "dev_windows": 0 if dev is None else len(dev[1]),
             "parameters": count_params(model)}
    params = {**cfg.params(), **sizes, "device": str(device)}
    result = TransformerLMResult(Lane("Transformer"), vocab, corpus=cfg.corpus,
                                 unigram=unigram_entropy(train_ids, len(vocab)), sizes=sizes, lines=lines,
                                 text_sha1=str(params.get("text_sha1", "")))
    samples = _EpochSamples(ctx, cfg, vocab, result.samples, lines)

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        log_lm_extras(run, hist, result.unigram, result.samples)

    name = f"Transformer LM on {cfg.text_name or cfg.corpus}"
    result.lane = train_tracked(ctx, PAGE, params, model, (X, y), opt, name="Transformer", dev=dev,
                                epochs=cfg.epochs, batch_size=cfg.batch_size, loss_fn=sequence_cross_entropy,
                                callbacks=[samples], run_name=name, tags={tracking.TAG_KIND: KIND}, device=device,
                                seed=cfg.seed, finish=finish, figure_title=name, measure_accuracy=False)
    return result


def load_lm(run_id: str, user: User = LOCAL_USER) -> TinyGPT:
    """The :class:`TinyGPT` a tracked :func:`run_transformer_lm` trained (finished or stopped), rebuilt from
    the run's params and saved weights, on the CPU in eval mode; ``ValueError`` with a plain message when
    it cannot be (no such run, no weights, or another kind of run)."""
    params = tracking.run_params(run_id, user=user)
    state = tracking.saved_weights(run_id, user=user)
    try:
        model = TinyGPT(int(params["vocab_size"]), int(params["context"]), int(params["d_model"]),
                        int(params["num_heads"]), int(params["num_layers"]), float(params["dropout"]),
                        params["positions"])
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ValueError("this run is not a Transformer language model of this lab (its weights do not fit)") from exc
    return model.eval()


def sample_text_file(result: TransformerLMResult) -> str:
    """Every epoch's samples as one text (for the download)."""
    return "\n\n".join(f"# epoch {row['epoch']}\n" + "\n".join(row["samples"]) for row in result.samples) + "\n"


# --------------------------------------------------------------------------- comparison with the RNNs page


@dataclass(frozen=True)
class CharLMRun:
    """The learner's latest finished character model (RNNs page) on a corpus: its run, cell and dev
    perplexity, and whether its dev text is the Transformer's (same dev fraction, kept characters,
    seed and uploaded text)."""

    run_id: str
    run_name: str
    cell: str
    dev_perplexity: float | None
    same_dev_text: bool


def _float(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def latest_charlm(corpus: str, user: User, *, like: TransformerLMConfig | None = None) -> CharLMRun | None:
    """``user``'s own latest FINISHED char-LM run (tag kind "char-lm") trained on ``corpus`` (never another
    learner's, also for an instructor), or None. ``like``: the Transformer's config, to say whether the
    dev texts are the same. ``ValueError`` for an unknown corpus."""
    if corpus != UPLOAD and corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}")
    if not tracking.store_ready():
        return None
    exp = next((e["id"] for e in tracking.list_experiments() if e["name"] == CHARLM_PAGE), None)
    if exp is None:
        return None
    where = (f"tags.`{tracking.TAG_KIND}` = '{CHARLM_KIND}' and attributes.status = 'FINISHED' "
             f"and params.corpus = '{corpus}'")
    df = tracking.search_runs([exp], where, max_results=50, user=user, owner=user.id)
    rows = [r for r in df.to_dict("records") if r["owner"] == user.id]
    if not rows:
        return None
    row = rows[0]  # newest first
    loss = _float(row.get("metrics.final_dev_loss"))
    ppl = math.exp(min(loss, 50)) if loss is not None else _float(row.get("metrics.dev_perplexity"))
    same = like is not None and all(
        str(row.get(f"params.{k}")) == str(v) for k, v in like.params().items()
        if k in ("dev_fraction", "max_chars", "seed", "text_sha1"))
    return CharLMRun(row["run_id"], str(row.get("run_name") or ""), str(row.get("params.cell") or "RNN"), ppl, same)


def perplexity_comparison(result: TransformerLMResult, charlm: CharLMRun | None) -> dict[str, float]:
    """{model name: dev perplexity} for the Transformer and (when there is one) the character RNN."""
    out: dict[str, float] = {}
    if result.final_perplexity is not None:
        out["Transformer"] = result.final_perplexity
    if charlm is not None and charlm.dev_perplexity is not None:
        out[f"{charlm.cell} (RNNs page)"] = charlm.dev_perplexity
    return out
