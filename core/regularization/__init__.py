"""Regularization topic: what reduces variance, and experiments that show it.

- ``formulas``: the course's ``l2_penalty`` (λ/(2m)·Σ‖W‖²_F), ``InvertedDropout`` and the
  batch-normalization transform ``batch_norm`` (z̃ = γ·z_norm + β).
- ``augment``: flip, rotate, crop, colour and noise transforms and augmented training sets.
- ``measures``: weight norms and histograms, and a look inside a trained batch-norm layer.
- ``experiments``: the page's tracked experiments (overfitting set-up with L2 and dropout,
  augmentation, early stopping, batch normalization, sweeps), each a background job.
- ``report``: what the page shows of them without drawing (live series by name, table rows,
  CSV, sentences built from the numbers, the augmentation preview's labels).

Only the formulas are imported here (``core.nets`` imports ``InvertedDropout`` from this
package, and the experiments import ``core.nets``).
"""

from core.regularization.formulas import InvertedDropout, batch_norm, l2_penalty

__all__ = ["InvertedDropout", "batch_norm", "l2_penalty"]
