"""The lab's challenges: 2–3 concrete goals per page, each checked against what that page really logs.

Every check reads only params, metrics and tags that the page's tracked runs carry (the names are
those of ``core/<topic>/``: ``test_loss`` of the playground, ``final_dev_accuracy`` of every supervised
lane, ``returned_model_dev_error`` of a regularization lane, ``dev_exact_match`` of a translation …).
The optimizer surfaces (Rosenbrock and the others) are not tracked runs, so the Optimizers page's goals
are set on its tracked race instead.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pandas as pd

from core.challenges.base import Goal, beats_twin, decoded, finished, first, nth_distinct, number, text
from core.tags import (
    TAG_COMPARISON,
    TAG_CONTENT_IMAGE,
    TAG_ERROR,
    TAG_KIND,
    TAG_STYLE_IMAGE,
    TAG_SUMMARY,
    TAG_VARIANT,
    TAG_WEIGHTS,
)

# ---------------------------------------------------------------------------------- basics


def _hidden_total(runs: pd.DataFrame) -> pd.Series:
    """Hidden neurons of a playground run (the sum of its ``hidden`` list; NaN when not logged)."""
    return decoded(runs, "params.hidden").map(
        lambda h: float(sum(int(n) for n in h)) if isinstance(h, list) else math.nan)


def _spirals_small(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "basics", "playground")
    return first(r, (text(r, "params.dataset") == "spirals") & (_hidden_total(r) <= 6) & (number(r, "metrics.test_loss") < 0.1))


def _circles_linear(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "basics", "playground")
    return first(r, (text(r, "params.dataset") == "circles") & (_hidden_total(r) == 0)
                 & (number(r, "metrics.test_accuracy") >= 0.95))


def _xor_tiny(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "basics", "playground")
    return first(r, (text(r, "params.dataset") == "xor") & (_hidden_total(r) <= 3) & (_hidden_total(r) >= 1)
                 & (number(r, "metrics.test_accuracy") >= 0.95))


# ------------------------------------------------------------------------------ optimizers


def _race(runs: pd.DataFrame) -> pd.DataFrame:
    r = finished(runs, "optimizers")
    return r[text(r, "params.optimizer") != ""]


def _digits_in_two(runs: pd.DataFrame) -> str | None:
    r = _race(runs)
    return first(r, (text(r, "params.dataset") == "digits") & (number(r, "params.epochs") <= 2)
                 & (number(r, "metrics.final_dev_accuracy") >= 0.95))


def _momentum_beats_gd(runs: pd.DataFrame) -> str | None:
    r = _race(runs)
    opt = text(r, "params.optimizer")
    return beats_twin(r, opt == "Momentum", opt == "Gradient descent", "metrics.final_dev_loss", same=("params.lr",))


# -------------------------------------------------------------------------- regularization

def _regularized(runs: pd.DataFrame) -> pd.Series:
    """Whether a regularization lane uses any technique (L2, dropout, batch norm, augmentation, early stop)."""
    return ((number(runs, "params.lam") > 0) | (number(runs, "params.keep_prob") < 1)
            | (text(runs, "params.batch_norm").str.lower() == "true")
            | ~text(runs, "params.augmentation").isin(["", "none"]) | (number(runs, "params.patience") > 0))


def _reg_beats_twin(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "regularization")
    r = r[text(r, "params.lane") != ""]
    reg = _regularized(r)
    return beats_twin(r, reg, ~reg, "metrics.returned_model_dev_error")


def _small_gap(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "regularization")
    dev, train = number(r, "metrics.returned_model_dev_error"), number(r, "metrics.returned_model_train_error")
    return first(r, (number(r, "params.n_train") <= 200) & (dev - train < 0.10) & (dev < 0.30))


# -------------------------------------------------------------------------------- strategy


def _f1(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "strategy")
    return first(r, number(r, "metrics.f1") >= 0.95)


def _error_analysis(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "strategy")
    return first(r, number(r, f"tags.{TAG_SUMMARY}.examined") >= 10)


def _learning_curve(runs: pd.DataFrame) -> str | None:
    """The run that completed a learning curve of four or more training-set sizes (one comparison)."""
    r = finished(runs, "strategy")
    return nth_distinct(r, text(r, f"tags.{TAG_COMPARISON}"), text(r, "params.train_size"), 4)


# ------------------------------------------------------------------------------------ cnn

CNN_PARAMETER_LIMIT = 65_000  # the smallest trainable network of the page (LeNet-5) has 61,706 on 28×28 digits


@lru_cache(maxsize=32)
def cnn_parameters(model: str, channels: int, size: int, n_classes: int) -> int:
    """How many parameters the CNN page's network ``model`` has for this input (built and counted)."""
    from core.cnn.data import InputSpec
    from core.cnn.training import build_cnn

    spec = InputSpec("count", tuple(str(i) for i in range(n_classes)), channels, size, size, (0.0,) * channels,
                     (1.0,) * channels)
    return sum(p.numel() for p in build_cnn(model, spec).parameters())


def _run_parameters(runs: pd.DataFrame) -> pd.Series:
    """The parameter count of each CNN training, from its model and logged input (NaN when unknown)."""
    classes = decoded(runs, "params.input.classes")

    def count(idx) -> float:
        try:
            return float(cnn_parameters(str(runs.at[idx, "params.model"]), int(runs.at[idx, "params.input.channels"]),
                                        int(runs.at[idx, "params.input.size"]), len(classes[idx])))
        except (KeyError, TypeError, ValueError):
            return math.nan

    return pd.Series([count(i) for i in runs.index], index=runs.index, dtype=float)


def _digits_small_cnn(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "cnn")
    r = r[(text(r, "params.dataset") == "digits") & (number(r, "metrics.final_dev_accuracy") >= 0.98)]
    return first(r, _run_parameters(r) < CNN_PARAMETER_LIMIT)


def _mnist_quick(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "cnn")
    return first(r, (text(r, "params.dataset") == "mnist_sample") & (number(r, "params.epochs") <= 3)
                 & (number(r, "metrics.final_dev_accuracy") >= 0.97))


# ------------------------------------------------------------------------------ detection


def _map_half(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "detection")
    return first(r, number(r, "metrics.map50") >= 0.5)


def _map_three_shapes(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "detection")
    n_classes = decoded(r, "params.classes").map(lambda c: len(c) if isinstance(c, list) else 0)
    return first(r, (n_classes >= 3) & (number(r, "metrics.map50") >= 0.3))


# ---------------------------------------------------------------------------------- faces


def _faces_auc(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "faces")
    return first(r, number(r, "metrics.roc_auc") >= 0.95)


def _faces_verify(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "faces")
    return first(r, (text(r, "params.strategy") == "semi-hard") & (number(r, "metrics.verify_accuracy") >= 0.9))


# ---------------------------------------------------------------------------------- style


def _style_transfers(runs: pd.DataFrame) -> pd.DataFrame:
    r = finished(runs, "style")
    return r[(text(r, f"tags.{TAG_KIND}") != "reconstruction") & (text(r, "params.optimizer") != "")]


def _style_pretrained(runs: pd.DataFrame) -> str | None:
    r = _style_transfers(runs)
    return first(r, (text(r, f"tags.{TAG_WEIGHTS}") == "imagenet") & (number(r, "params.steps") >= 100))


def _style_both_optimizers(runs: pd.DataFrame) -> str | None:
    """The run that completed a pair: the same content and style images, another optimizer than before."""
    r = _style_transfers(runs)
    pair = "images|" + text(r, f"tags.{TAG_CONTENT_IMAGE}") + "|" + text(r, f"tags.{TAG_STYLE_IMAGE}")
    return nth_distinct(r, pair, text(r, "params.optimizer"), 2)


def _style_reconstruction(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "style", "reconstruction")
    return first(r, pd.Series(True, index=r.index))


# ------------------------------------------------------------------------------- transfer


def _transfer_90(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "transfer")
    return first(r, (text(r, f"tags.{TAG_WEIGHTS}") == "imagenet") & (number(r, "metrics.final_dev_accuracy") >= 0.9))


def _transfer_beats_scratch(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "transfer")
    weights = text(r, f"tags.{TAG_WEIGHTS}")
    return beats_twin(r, weights == "imagenet", weights == "random", "metrics.final_dev_accuracy", lower=False)


# ------------------------------------------------------------------------------------ rnn


def _charlm_halves_unigram(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "rnn", "char-lm")
    unigram = number(r, "metrics.unigram_entropy").map(math.exp)  # the perplexity of a model without context
    return first(r, number(r, "metrics.dev_perplexity") <= unigram / 2)


def _bidirectional_above_ceiling(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "rnn", "bidirectional")
    return first(r, (text(r, "params.direction") == "bidirectional")
                 & (number(r, "metrics.dev_accuracy") > number(r, "metrics.unidirectional_ceiling")))


# -------------------------------------------------------------------------------- seq2seq


def _dates_90(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "seq2seq", "dates")
    return first(r, number(r, "metrics.dev_exact_match") >= 0.9)


def _attention_beats_plain(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "seq2seq", "dates")
    variant = text(r, f"tags.{TAG_VARIANT}")
    return beats_twin(r, variant == "attention", variant == "no attention", "metrics.dev_bleu", lower=False)


# ----------------------------------------------------------------------------- generative


def _ring_all_modes(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "generative", "toy")
    return first(r, (text(r, "params.kind") == "ring") & (number(r, "metrics.final_modes_covered") >= 8))


def _gan_all_digits(runs: pd.DataFrame) -> str | None:
    r = finished(runs, "generative", "gan")
    return first(r, number(r, "metrics.classes_covered") >= 10)


# ----------------------------------------------------------------------------------- runs

_NOT_SETTINGS = ("params.seed",)


def _five_pages(runs: pd.DataFrame) -> str | None:
    """The run that brought the pages with a finished run to five."""
    r = finished(runs)
    return nth_distinct(r, pd.Series("all", index=r.index), text(r, "experiment"), 5)


def _three_seeds(runs: pd.DataFrame) -> str | None:
    """The run that made three seeds of one set-up: the same page, kind, name and params but the seed."""
    r = finished(runs)
    r = r[text(r, f"tags.{TAG_ERROR}") == ""]
    settings = [c for c in r.columns if c.startswith("params.") and c not in _NOT_SETTINGS]
    key = text(r, "experiment") + "|" + text(r, f"tags.{TAG_KIND}") + "|" + text(r, "run_name")
    for col in settings:
        key = key + "|" + text(r, col)
    return nth_distinct(r, key, text(r, "params.seed"), 3)


GOALS: tuple[Goal, ...] = (
    Goal("basics.spirals", "basics", "Untangle the spirals with at most 6 neurons",
         "a playground run on the spirals whose hidden layers add up to 6 neurons or fewer, with test loss below 0.1",
         _spirals_small),
    Goal("basics.circles", "basics", "Separate the circles without a hidden layer",
         "a playground run on the circles with no hidden layer and test accuracy of 95 % or more "
         "(hint: look at the input features)", _circles_linear),
    Goal("basics.xor", "basics", "Solve XOR with at most 3 hidden neurons",
         "a playground run on XOR with 1 to 3 hidden neurons in all and test accuracy of 95 % or more", _xor_tiny),
    Goal("optimizers.digits", "optimizers", "Reach 95 % on digits within 2 epochs",
         "a lane of the optimizer race on digits, trained for 2 epochs or fewer, with dev accuracy of 95 % or more",
         _digits_in_two),
    Goal("optimizers.momentum", "optimizers", "Show momentum beating plain gradient descent",
         "one race in which Momentum ends with a lower dev loss than Gradient descent at the same learning rate",
         _momentum_beats_gd),
    Goal("regularization.twin", "regularization", "Beat the unregularized twin",
         "one experiment in which a lane with L2, dropout, batch norm, augmentation or early stopping ends with "
         "a lower dev error than the lane without any", _reg_beats_twin),
    Goal("regularization.gap", "regularization", "Close the gap on 200 examples",
         "a lane trained on 200 examples or fewer whose dev error is under 30 % and less than 10 points above "
         "its train error", _small_gap),
    Goal("strategy.f1", "strategy", "An F1 of 0.95 for one digit",
         "a one-against-the-rest classifier whose F1 at threshold 0.5 is 0.95 or more", _f1),
    Goal("strategy.errors", "strategy", "Look at ten mistakes",
         "a run whose error analysis you saved after examining 10 or more of its mistakes", _error_analysis),
    Goal("strategy.curve", "strategy", "Draw a learning curve",
         "one learning-curve experiment that finished four or more training-set sizes", _learning_curve),
    Goal("cnn.digits", "cnn", "98 % on digits with a small CNN",
         f"a CNN training on the scikit-learn digits with dev accuracy of 98 % or more and fewer than "
         f"{CNN_PARAMETER_LIMIT:,} parameters (counted from its network and input)", _digits_small_cnn),
    Goal("cnn.mnist", "cnn", "97 % on the MNIST sample in 3 epochs",
         "a CNN training on the MNIST sample, 3 epochs or fewer, with dev accuracy of 97 % or more", _mnist_quick),
    Goal("detection.map", "detection", "mAP@0.5 of 0.5",
         "a detector training whose mAP at IoU 0.5 on the dev scenes is 0.5 or more", _map_half),
    Goal("detection.shapes", "detection", "Three shapes at once",
         "a detector trained on 3 or more shapes with mAP@0.5 of 0.3 or more", _map_three_shapes),
    Goal("faces.auc", "faces", "Tell unseen people apart",
         "a siamese training whose ROC AUC on never-seen identities is 0.95 or more", _faces_auc),
    Goal("faces.verify", "faces", "Verify at 90 % with semi-hard mining",
         "a siamese training with semi-hard triplets whose best verification accuracy is 90 % or more",
         _faces_verify),
    Goal("style.pretrained", "style", "A real style transfer",
         "a transfer of 100 steps or more on pretrained VGG-19 weights", _style_pretrained),
    Goal("style.optimizers", "style", "L-BFGS against Adam",
         "two transfers of the same content and style images with different optimizers", _style_both_optimizers),
    Goal("style.reconstruct", "style", "Reconstruct from noise",
         "a finished content-only and style-only reconstruction run", _style_reconstruction),
    Goal("transfer.frozen", "transfer", "90 % with a pretrained network",
         "a lane starting from ImageNet weights with dev accuracy of 90 % or more", _transfer_90),
    Goal("transfer.scratch", "transfer", "Pretrained beats from scratch",
         "one comparison in which the pretrained lane ends with a higher dev accuracy than the lane from scratch",
         _transfer_beats_scratch),
    Goal("rnn.charlm", "rnn", "Halve the perplexity",
         "a character model whose dev perplexity is at most half that of a model without context "
         "(e to the unigram entropy)", _charlm_halves_unigram),
    Goal("rnn.bidirectional", "rnn", "Look ahead",
         "a bidirectional tagger whose dev accuracy is above the best any unidirectional model can reach",
         _bidirectional_above_ceiling),
    Goal("seq2seq.dates", "seq2seq", "90 % exact match on the dates",
         "a date translator whose dev translations are exactly right 90 % of the time or more", _dates_90),
    Goal("seq2seq.attention", "seq2seq", "Attention pays",
         "one comparison in which the model with attention gets a higher dev BLEU than the one without",
         _attention_beats_plain),
    Goal("generative.ring", "generative", "Cover all 8 modes",
         "a toy GAN on the ring of 8 Gaussians whose final samples cover all 8 modes", _ring_all_modes),
    Goal("generative.digits", "generative", "Every digit from the GAN",
         "a digit GAN whose samples cover all 10 classes (as the digit classifier reads them)", _gan_all_digits),
    Goal("runs.pages", "runs", "Explore five pages",
         "finished runs on five different pages of the lab", _five_pages),
    Goal("runs.seeds", "runs", "Three seeds of one set-up",
         "three finished runs of the same page and settings that differ only in the seed", _three_seeds),
)
