"""Training encoder–decoders as tracked jobs, and using them: greedy translation with the
attention weights, beam search, exact match and BLEU on the dev set.

:func:`run_seq2seq` is a job function: it generates the task's data, then trains each
requested variant ("attention", "no attention", "transformer") as one lane of a comparison
(:func:`core.experiment.run_comparison`): one run of the MLflow experiment "seq2seq" each,
through the shared :func:`core.experiment.train_tracked` (so the one training loop). The
model sees ``X = cat([src, tgt_in], 1)`` and :func:`sequence_loss` is the token
cross-entropy without the <pad> positions. After training, inside the run, the dev set is
translated greedily and scored: exact match (the whole output right) and corpus BLEU
(:func:`core.seq2seq.bleu.bleu`: characters for dates, 13a words for number words), logged
with a text file of example translations, the model's parameter count, and exact match by
source length (:func:`exact_match_by_length`; the "breakdown length" is the shortest length
bucket where exact match falls below one half).

The job hands back plain data (:class:`Seq2SeqResult`: the codec, each variant's run id and
scores); the page rebuilds a trained network from its run's weights with :func:`load_seq2seq`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core import tracking
from core.data.vocab import EOS, PAD, SOS
from core.device import cpu_threads, pick_device, seed_everything
from core.experiment import FINISHED as LANE_FINISHED
from core.experiment import KILLED as LANE_KILLED
from core.experiment import Lane, LanePlan, LaneSlot, new_comparison, run_comparison, train_tracked
from core.identity import LOCAL_USER, User
from core.jobs import JobContext, Outcome
from core.nets import count_params
from core.optimizers.rules import OPTIMIZERS, make_optimizer
from core.seq2seq.beam import BeamResult, Hypothesis, beam_search, greedy_search
from core.seq2seq.bleu import bleu
from core.seq2seq.data import DIRECTIONS, MAX_INPUT_CHARS, TASKS, Codec, Seq2SeqData, check_source, make_data
from core.seq2seq.dates import LANGUAGES
from core.seq2seq.model import ENCODER_CELLS, Seq2Seq
from core.seq2seq.transformer import POSITIONS, Seq2SeqTransformer
from core.settings import Settings, setting

__all__ = [
    "LARGEST_NUMBERS",
    "PAGE",
    "TRAINING_PAIRS",
    "ATTENTION_VARIANTS",
    "EncoderDecoder",
    "Seq2SeqConfig",
    "Seq2SeqResult",
    "Translation",
    "VariantResult",
    "beam_translate",
    "breakdown_length",
    "build_seq2seq",
    "evaluate_dev",
    "exact_match_by_length",
    "load_seq2seq",
    "run_seq2seq",
    "sequence_loss",
    "translate",
    "translate_batch",
]

PAGE = "seq2seq"
ATTENTION_VARIANTS = ("attention", "no attention", "transformer")
TRANSFORMER = "transformer"
EncoderDecoder = Seq2Seq | Seq2SeqTransformer  # what build_seq2seq and load_seq2seq give
LENGTH_BUCKET = 5  # source tokens per bucket of the exact-match-by-length table


TRAINING_PAIRS = (500, 1000, 2000, 4000, 6000, 10000, 20000)  # the page's choices of ``n_train``
LARGEST_NUMBERS = (999, 9_999, 99_999, 999_999)  # the page's choices of ``high``
MANY = 10**6  # "at least one" of a multiple choice


@dataclass(frozen=True)
class Seq2SeqConfig(Settings):
    """One training job (also each tracked run's params)."""

    task: str = setting("dates", label="Task", choices=TASKS)
    # any of ATTENTION_VARIANTS, trained one after the other
    variants: tuple[str, ...] = setting(("attention",), label="Models to train", choices=ATTENTION_VARIANTS,
                                        count=(1, MANY), widget="segmented",
                                        help="Pick both to compare them on the same data in one job.")
    # dates: the languages of the written forms
    languages: tuple[str, ...] = setting(tuple(LANGUAGES), label="Languages of the written dates", choices=LANGUAGES,
                                         count=(1, MANY), labels=LANGUAGES)
    direction: str = setting("digits→words", label="Direction", choices=DIRECTIONS, widget="radio")  # numbers
    high: int = setting(9_999, label="Largest number", lo=10, hi=999_999, widget="select_slider")  # numbers
    n_train: int = setting(6_000, label="Training pairs", lo=8, hi=100_000, widget="select_slider")
    n_dev: int = setting(500, label="Dev pairs", lo=4, hi=10_000)
    cell: str = setting("GRU", label="Recurrent cell", choices=ENCODER_CELLS, widget="radio")
    embed_dim: int = setting(32, label="Embedding size", lo=2, hi=512)
    hidden: int = setting(64, label="Hidden units", options=(8, 16, 32, 64, 128, 256))
    # the probability of feeding the ground truth while training
    teacher_forcing: float = setting(
        1.0, label="Teacher-forcing ratio", lo=0.0, hi=1.0, step=0.05, widget="slider",
        help="While training, the decoder gets the true previous token with this probability and its own "
             "previous guess otherwise. 1 = always the truth (fast and stable); 0 = always its own guesses.")
    # the Transformer's own sizes (the recurrent settings above do not apply to it)
    layers: int = setting(2, label="Transformer layers", lo=1, hi=6, widget="slider",
                          help="Encoder layers, and as many decoder layers.")
    heads: int = setting(4, label="Attention heads", options=(1, 2, 4, 8),
                         help="Heads per attention; the model size must be a multiple of it.")
    d_model: int = setting(64, label="Model size d_model", options=(16, 32, 64, 128, 256),
                           help="The size of every token's vector inside the Transformer.")
    d_ff: int = setting(128, label="Feed-forward size", options=(32, 64, 128, 256, 512),
                        help="Hidden units of the position-wise feed-forward network of each layer.")
    positions: str = setting("sinusoidal", label="Positional encoding", choices=POSITIONS, widget="radio",
                             help="Sinusoids of the position (fixed), or one learned vector per position.")
    dropout: float = setting(0.1, label="Transformer dropout", lo=0.0, hi=0.5, step=0.05, widget="slider")
    transformer_epochs: int = setting(
        12, label="Transformer epochs", lo=1, hi=200, widget="slider",
        help="A Transformer learns the dates more slowly per epoch than the recurrent models (it has no built-in "
             "sense of order or alignment), but each epoch is quick; this replaces Epochs for it.")
    epochs: int = setting(3, label="Epochs", lo=1, hi=200, widget="slider")
    batch_size: int = setting(128, label="Mini-batch size", options=(16, 32, 64, 128, 256))
    lr: float = setting(5e-3, label="Learning rate (Adam)", lo=1e-5, hi=1e9, fmt="%g")
    optimizer: str = setting("Adam", label="Optimizer", choices=OPTIMIZERS)
    seed: int = setting(0, label="Seed", lo=0, hi=2**32 - 1)

    def check(self) -> None:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("Models to train: choose each model once")
        if TRANSFORMER in self.variants and self.d_model % self.heads:
            raise ValueError(f"Transformer: the model size ({self.d_model}) must be a multiple of the number of "
                             f"heads ({self.heads}).")
        if self.task == "numbers" and self.n_train + self.n_dev > self.high + 1:
            raise ValueError(f"There are only {self.high + 1:,} numbers up to {self.high:,}: "
                             "ask for fewer pairs or a larger largest number.")


@dataclass
class VariantResult:
    """One trained variant: its tracked lane (the run id of its weights) and its dev scores."""

    variant: str
    lane: Lane
    exact_match: float | None = None  # 0–1
    bleu: float | None = None  # 0–100 (sacrebleu's scale)
    predictions: list[dict[str, Any]] = field(default_factory=list)  # dev: source, reference, output, correct
    train_seconds: float | None = None
    parameters: int | None = None  # trainable weights
    seconds_per_epoch: float | None = None
    by_length: list[dict[str, Any]] = field(default_factory=list)  # see exact_match_by_length
    breakdown_length: int | None = None  # see breakdown_length; None: never below one half

    @property
    def run_id(self) -> str | None:
        return self.lane.run_id

    @property
    def finished(self) -> bool:
        """Trained to the end: the page can translate with it (:func:`load_seq2seq` of ``run_id``)."""
        return self.lane.status == LANE_FINISHED and self.run_id is not None


@dataclass
class Seq2SeqResult(Outcome):
    """What a job leaves for the page (plain data): the task's codec and each started variant's
    result (a variant after a Stop is not started); ``comparison`` tags the variants' runs."""

    cfg: Seq2SeqConfig
    codec: Codec
    variants: dict[str, VariantResult] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    device: str = "cpu"
    comparison: str = ""
    cut: bool = False  # Stop came between two variants: the rest were not started

    @property
    def stopped(self) -> bool:  # type: ignore[override]
        return self.cut or any(v.lane.status == LANE_KILLED for v in self.variants.values())

    def best(self) -> VariantResult | None:
        """The finished variant with the best exact match (attention first on a tie)."""
        done = [v for v in self.variants.values() if v.finished]
        return max(done, key=lambda v: (v.exact_match or 0.0, v.variant == "attention")) if done else None


def sequence_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean token cross-entropy of logits [N, T, V] against targets [N, T], <pad> left out."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=PAD)


def _model(variant: str, src_vocab: int, tgt_vocab: int, src_len: int, max_out: int, get: Any) -> EncoderDecoder:
    """The untrained network of ``variant``; ``get(name, type)`` reads one setting (a config's field or a run's param)."""
    if variant == TRANSFORMER:
        return Seq2SeqTransformer(src_vocab, tgt_vocab, src_len, max_len=max(src_len, max_out, MAX_INPUT_CHARS),
                                  d_model=get("d_model", int), heads=get("heads", int), layers=get("layers", int),
                                  d_ff=get("d_ff", int), positions=get("positions", str), dropout=get("dropout", float))
    return Seq2Seq(src_vocab, tgt_vocab, src_len, attention=variant == "attention", cell=get("cell", str),
                   embed_dim=get("embed_dim", int), hidden=get("hidden", int),
                   teacher_forcing=get("teacher_forcing", float))


def build_seq2seq(cfg: Seq2SeqConfig, codec: Codec, variant: str) -> EncoderDecoder:
    """The untrained encoder–decoder of ``variant`` (one of ATTENTION_VARIANTS) for the config's sizes
    and the codec's vocabularies."""
    if variant not in ATTENTION_VARIANTS:
        raise ValueError(f"unknown model {variant!r}: choose one of {', '.join(ATTENTION_VARIANTS)}")
    return _model(variant, len(codec.src_vocab), len(codec.tgt_vocab), codec.src_len, codec.max_out,
                  lambda name, kind: kind(getattr(cfg, name)))


def _greedy_ids(model: EncoderDecoder, src: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Greedy decoding of a batch: (ids [N, T], log-prob of each [N, T], attention [N, T, S])."""
    was = model.training
    model.eval()
    try:
        logits, weights = model.decode(src, max_len=max_len)
    finally:
        model.train(was)
    logp = F.log_softmax(logits.float(), -1)
    ids = logp.argmax(-1)
    return ids, logp.gather(-1, ids[..., None]).squeeze(-1), weights


def _cut(ids: Sequence[int]) -> list[int]:
    """Token ids up to and including the first <eos>."""
    out = []
    for i in ids:
        out.append(int(i))
        if int(i) == EOS:
            break
    return out


def translate_batch(model: EncoderDecoder, codec: Codec, sources: Sequence[str], batch_size: int = 1024) -> list[str]:
    """Greedy translations of already-clean source texts."""
    device = next(model.parameters()).device
    outputs: list[str] = []
    for i in range(0, len(sources), batch_size):
        src = codec.encode_sources(sources[i: i + batch_size]).to(device)
        ids, _, _ = _greedy_ids(model, src, codec.max_out)
        outputs += [codec.decode_output(row) for row in ids.tolist()]
    return outputs


def evaluate_dev(model: EncoderDecoder, codec: Codec, pairs: Sequence[tuple[str, str]]) -> tuple[float, float, list[dict]]:
    """(exact match 0–1, corpus BLEU 0–100, one row per pair) of greedy translations."""
    outputs = translate_batch(model, codec, [s for s, _ in pairs])
    rows = [{"source": s, "reference": t, "output": o, "correct": o == t} for (s, t), o in zip(pairs, outputs, strict=True)]
    exact = sum(r["correct"] for r in rows) / max(len(rows), 1)
    score = bleu(outputs, [t for _, t in pairs], tokenize=codec.bleu_tokenize) if rows else 0.0
    return exact, score, rows


def exact_match_by_length(rows: Sequence[dict], codec: Codec, width: int = LENGTH_BUCKET) -> list[dict[str, Any]]:
    """Exact match of scored dev rows (:func:`evaluate_dev`) per bucket of source length in tokens:
    ``[{"from": lo, "to": lo + width − 1, "pairs": n, "exact_match": 0–1}]``, shortest first, only
    buckets that hold pairs."""
    if width < 1:
        raise ValueError("the bucket width must be at least 1")
    counts: dict[int, list[int]] = {}
    for r in rows:
        lo = len(codec.src_tokens(r["source"])) // width * width
        c = counts.setdefault(lo, [0, 0])
        c[0] += 1
        c[1] += bool(r["correct"])
    return [{"from": lo, "to": lo + width - 1, "pairs": n, "exact_match": ok / n}
            for lo, (n, ok) in sorted(counts.items())]


def breakdown_length(by_length: Sequence[dict], threshold: float = 0.5, min_pairs: int = 5) -> int | None:
    """The shortest source length (a bucket's ``from``) from which exact match falls below ``threshold``,
    among buckets of at least ``min_pairs`` pairs; None when it never does."""
    for b in by_length:
        if b["pairs"] >= min_pairs and b["exact_match"] < threshold:
            return int(b["from"])
    return None


@dataclass
class Translation:
    """A typed source translated greedily: the tokens on both sides, the attention weights
    [T, S] (None without attention; row t = output token t), per-token log-probabilities."""

    source: str
    source_tokens: list[str]
    output: str
    output_tokens: list[str]  # with "<eos>" last when the model ended the sentence
    attention: list[list[float]] | None
    token_log_probs: list[float]
    unknown: list[str]
    heads: list[list[list[list[float]]]] | None = None  # a Transformer's cross-attention [layers][heads][T][S]


def translate(model: EncoderDecoder, codec: Codec, text: str) -> Translation:
    """Greedy translation of a typed ``text`` with its attention heatmap data. ``ValueError``
    with a plain message for an empty or too long text (see :func:`check_source`)."""
    clean, unknown = check_source(text, codec)
    src = codec.encode_sources([clean]).to(next(model.parameters()).device)
    ids, logp, weights = _greedy_ids(model, src, codec.max_out)
    kept = _cut(ids[0].tolist())
    tokens = [codec.tgt_vocab.tokens[i] for i in kept]
    att = weights[0, : len(kept)].float().cpu().tolist() if weights is not None else None
    heads = None
    if isinstance(model, Seq2SeqTransformer):
        was = model.training
        model.eval()
        try:
            heads = model.cross_attention(src, len(kept))[:, :, : len(kept)].float().cpu().tolist()
        finally:
            model.train(was)
    return Translation(clean, codec.src_tokens(clean), codec.decode_output(kept), tokens, att,
                       logp[0, : len(kept)].tolist(), unknown, heads)


def beam_translate(model: EncoderDecoder, codec: Codec, text: str, beam_width: int, alpha: float,
                   record_tree: bool = False) -> tuple[BeamResult, Hypothesis, str]:
    """Beam search and greedy search on a typed ``text``: (beam result, greedy hypothesis, cleaned text)."""
    clean, _ = check_source(text, codec)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            src = codec.encode_sources([clean]).to(next(model.parameters()).device)
            step, state = model.step_function(src)
            result = beam_search(step, state, SOS, EOS, beam_width, codec.max_out, alpha, record_tree=record_tree)
            step, state = model.step_function(src)
            greedy = greedy_search(step, state, SOS, EOS, codec.max_out)
    finally:
        model.train(was)
    return result, greedy, clean


def _examples(rows: Sequence[dict], k: int = 25) -> str:
    lines = [f"{'ok ' if r['correct'] else 'ERR'} {r['source']!r} -> {r['output']!r} (reference {r['reference']!r})"
             for r in rows[:k]]
    wrong = [r for r in rows if not r["correct"]][:k]
    if wrong:
        lines += ["", "Some mistakes:"] + [f"ERR {r['source']!r} -> {r['output']!r} (reference {r['reference']!r})"
                                           for r in wrong]
    return "\n".join(lines) + "\n"


def run_seq2seq(ctx: JobContext | None, cfg: Seq2SeqConfig, device: torch.device | None = None,
                data: Seq2SeqData | None = None) -> Seq2SeqResult:
    """Generate the task's data and train each of ``cfg.variants`` as one tracked run of a
    comparison (a job function). A diverged variant ends FAILED with its sentence and the next
    one still trains; a Stop ends the current variant KILLED (its weights logged) and the later
    ones never start: the result then says ``stopped``."""
    device = device or pick_device()
    if ctx is not None:
        ctx.report(0.0, f"generating the {cfg.task} data")
    data = data or make_data(cfg.task, cfg.n_train, cfg.n_dev, cfg.seed, cfg.languages, cfg.direction, cfg.high)
    if ctx is not None:
        ctx.check_cancel()  # Stop while the data were generated: nothing was trained
    codec = data.codec
    sizes = {"train_pairs": len(data.train_pairs), "dev_pairs": len(data.dev_pairs), "src_vocab": len(codec.src_vocab),
             "tgt_vocab": len(codec.tgt_vocab), "src_len": codec.src_len, "max_out": codec.max_out}
    result = Seq2SeqResult(cfg, codec, sizes=sizes, device=str(device))
    plans = [_plan(ctx, cfg, data, result, device, variant) for variant in cfg.variants]
    # a small recurrent network is a long chain of tiny ops: one CPU thread is faster than
    # two spinning ones (on a busy 2-core machine, 25 ms a step instead of over a second);
    # the setting stays in the job's worker process
    with cpu_threads(1) if device.type == "cpu" else contextlib.nullcontext():
        done = run_comparison(ctx, plans, comparison=new_comparison("seq2seq"))
    result.comparison, result.cut = done.comparison, done.cut
    return result


def _plan(ctx: JobContext | None, cfg: Seq2SeqConfig, data: Seq2SeqData, result: Seq2SeqResult,
          device: torch.device, variant: str) -> LanePlan:
    """One variant's lane: trained, then scored on the dev set inside its run."""
    codec, sizes = data.codec, result.sizes

    def finish(run: tracking.TrackedRun, model: nn.Module, hist: Any) -> None:
        vr = result.variants[variant]
        if ctx is not None:
            ctx.report(None, f"{variant}: translating the dev set")
        vr.exact_match, vr.bleu, vr.predictions = evaluate_dev(model, codec, data.dev_pairs)
        vr.by_length = exact_match_by_length(vr.predictions, codec)
        vr.breakdown_length = breakdown_length(vr.by_length)
        metrics = {"dev_exact_match": vr.exact_match, "dev_bleu": vr.bleu, "parameters": vr.parameters,
                   **{f"exact_match_len_{b['from']:02d}": b["exact_match"] for b in vr.by_length}}
        if vr.breakdown_length is not None:
            metrics["breakdown_length"] = vr.breakdown_length
        run.log_metrics(metrics, hist.steps_done)
        run.log_text(_examples(vr.predictions), "dev_translations.txt")
        run.log_text(json.dumps({"bucket_width": LENGTH_BUCKET, "breakdown_length": vr.breakdown_length,
                                 "buckets": vr.by_length}, indent=1), "exact_match_by_length.json")

    def train(slot: LaneSlot) -> Lane:
        seed_everything(cfg.seed)
        model = build_seq2seq(cfg, codec, variant).to(device)
        opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
        vr = result.variants[variant] = VariantResult(variant, Lane(variant), parameters=count_params(model))
        params = {**asdict(cfg), "variant": variant, **sizes, "device": str(device)}
        epochs = cfg.transformer_epochs if variant == TRANSFORMER else cfg.epochs
        t0 = time.perf_counter()
        vr.lane = train_tracked(slot, PAGE, params, model, data.train, opt, name=variant, dev=data.dev,
                                epochs=epochs, batch_size=cfg.batch_size, loss_fn=sequence_loss,
                                run_name=f"{cfg.task}: {variant}", tags={tracking.TAG_KIND: cfg.task, tracking.TAG_VARIANT: variant},
                                device=device, seed=cfg.seed, finish=finish,
                                figure_title=f"{cfg.task}, {variant}: token cross-entropy",
                                measure_accuracy=False)  # logits are [N, T, V], not [N, K]
        vr.seconds_per_epoch = vr.lane.seconds_per_epoch
        if not vr.lane.stopped:
            vr.train_seconds = time.perf_counter() - t0
        return vr.lane

    return LanePlan(variant, train, label=f"the {variant} model")


def load_seq2seq(run_id: str, user: User = LOCAL_USER) -> EncoderDecoder:
    """The network (:class:`Seq2Seq` or :class:`Seq2SeqTransformer`) a tracked :func:`run_seq2seq`
    variant trained (finished or stopped), rebuilt from the run's params with its saved weights, on
    the CPU in eval mode. ValueError with a plain message when it cannot be (no such run, or it saved
    no weights)."""
    params = tracking.run_params(run_id, user=user)
    state = tracking.saved_weights(run_id, user=user)
    try:
        model = _model(params["variant"], int(params["src_vocab"]), int(params["tgt_vocab"]), int(params["src_len"]),
                       int(params["max_out"]), lambda name, kind: kind(params[name]))
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ValueError("this run is not an encoder–decoder of this lab (its weights do not fit)") from exc
    return model.eval()
