"""The small encoder–decoder Transformer against the RNN with attention (the baseline, measured in
the same run) on the same generated dates, batch size and device: seconds per epoch, parameters,
exact match and BLEU on the dev set, and the source length where exact match falls below one half.

Both train through the lab's one loop (:func:`core.training.fit`, no tracking) with the page's
defaults unless told otherwise. Prints one JSON object.

    PYTHONPATH=. .venv/bin/python bench/transformer.py [--n-train 6000] [--epochs 3] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from core.device import device_info, pick_device, seed_everything, synchronize
from core.nets import count_params
from core.optimizers.rules import make_optimizer
from core.seq2seq.data import make_data
from core.seq2seq.training import (
    Seq2SeqConfig,
    breakdown_length,
    build_seq2seq,
    evaluate_dev,
    exact_match_by_length,
    sequence_loss,
)
from core.training import fit

BASELINE, CANDIDATE = "attention", "transformer"


def measure(cfg: Seq2SeqConfig, data, variant: str, device: torch.device) -> dict:
    """Train one variant from the seed and score it."""
    seed_everything(cfg.seed)
    model = build_seq2seq(cfg, data.codec, variant).to(device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    synchronize(device)
    t0 = time.perf_counter()
    epochs = cfg.transformer_epochs if variant == CANDIDATE else cfg.epochs
    hist = fit(model, data.train, opt, dev=data.dev, loss_fn=sequence_loss, epochs=epochs,
               batch_size=cfg.batch_size, device=device, seed=cfg.seed, measure_accuracy=False)
    synchronize(device)
    seconds = time.perf_counter() - t0
    exact, score, rows = evaluate_dev(model, data.codec, data.dev_pairs)
    by_length = exact_match_by_length(rows, data.codec)
    per_epoch = [r["seconds"] for r in hist.epochs]
    return {
        "epochs": epochs,
        "parameters": count_params(model),
        "seconds_per_epoch": round(sum(per_epoch) / len(per_epoch), 3),
        "epoch_seconds": [round(s, 3) for s in per_epoch],
        "train_seconds": round(seconds, 2),
        "final_dev_loss": round(float(hist.last("dev_loss")), 4),
        "dev_exact_match": round(exact, 4),
        "dev_bleu": round(score, 2),
        "breakdown_length": breakdown_length(by_length),
        "exact_match_by_length": {f"{b['from']}-{b['to']}": round(b["exact_match"], 3) for b in by_length},
    }


def main() -> None:
    defaults = Seq2SeqConfig()
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=defaults.n_train)
    ap.add_argument("--n-dev", type=int, default=defaults.n_dev)
    ap.add_argument("--epochs", type=int, default=defaults.epochs, help="the RNN's epochs")
    ap.add_argument("--transformer-epochs", type=int, default=defaults.transformer_epochs)
    ap.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = Seq2SeqConfig(n_train=args.n_train, n_dev=args.n_dev, epochs=args.epochs,
                        transformer_epochs=args.transformer_epochs, batch_size=args.batch_size,
                        variants=(BASELINE, CANDIDATE))
    device = pick_device()
    data = make_data("dates", cfg.n_train, cfg.n_dev, cfg.seed, cfg.languages)
    base = measure(cfg, data, BASELINE, device)
    cand = measure(cfg, data, CANDIDATE, device)
    info = device_info(device)
    print(json.dumps({
        "bench": "transformer",
        "device": info.name,
        "device_kind": info.kind,
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "data": f"dates, {len(data.train_pairs)} training and {len(data.dev_pairs)} dev pairs, "
                f"sources padded to {data.codec.src_len} characters, outputs {data.codec.max_out} tokens",
        "batch_size": cfg.batch_size,
        "lr": cfg.lr,
        "baseline_model": f"bidirectional {cfg.cell} encoder + {cfg.cell} decoder with additive attention, "
               f"embedding {cfg.embed_dim}, hidden {cfg.hidden}",
        "candidate_model": f"Transformer, {cfg.layers}+{cfg.layers} layers, {cfg.heads} heads, d_model {cfg.d_model}, "
                       f"feed-forward {cfg.d_ff}, {cfg.positions} positions, dropout {cfg.dropout}",
        BASELINE: base,
        CANDIDATE: cand,
        "seconds_per_epoch_ratio": round(cand["seconds_per_epoch"] / base["seconds_per_epoch"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
