"""Imported by a worker process before its first job (see the ``preloaded_runner`` fixture): the
encoder–decoder's loss is NaN from its first step, as a diverged training's would be."""

import core.seq2seq.training

_real = core.seq2seq.training.sequence_loss


def _nan_loss(logits, y):
    return _real(logits, y) * float("nan")


core.seq2seq.training.sequence_loss = _nan_loss
