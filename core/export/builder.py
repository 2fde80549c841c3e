"""The builder: a page's training config → the :class:`~core.export.notebook.Export` of its template
(the playground, the optimizer race, the CNN training, the Regularization page's experiments, the character model, the tagging task, the VAE, the toy GAN)."""

from __future__ import annotations

from typing import Any

from core.basics.playground import PlaygroundConfig
from core.cnn.training import TrainConfig
from core.export.charlm import charlm
from core.export.cnn import cnn
from core.export.notebook import Export
from core.export.playground import playground
from core.export.race import race
from core.export.regularization import augmentation, batch_norm, early_stopping, overfit, sweep
from core.export.tagging import tagging
from core.export.toygan import toy_gan
from core.export.vae import vae
from core.generative.toy import ToyConfig
from core.generative.vae import VAEConfig
from core.optimizers.race import RaceConfig
from core.regularization.experiments import AugmentConfig, BatchNormConfig, EarlyStopConfig, OverfitConfig, SweepConfig
from core.rnn.charlm import CharLMConfig
from core.rnn.tagging import TaggingConfig

TEMPLATES = {PlaygroundConfig: playground, RaceConfig: race, TrainConfig: cnn, OverfitConfig: overfit,
             SweepConfig: sweep, BatchNormConfig: batch_norm, AugmentConfig: augmentation, EarlyStopConfig: early_stopping,
             CharLMConfig: charlm, TaggingConfig: tagging, VAEConfig: vae,
             ToyConfig: toy_gan}


def export(cfg: Any, **options: Any) -> Export:
    """The set-up ``cfg`` as an :class:`Export`; ``options`` go to its template (``epochs`` for the
    playground, ``device`` for all). ``ValueError`` for a set-up no template covers."""
    template = TEMPLATES.get(type(cfg))
    if template is None:
        raise ValueError(f"no export for a {type(cfg).__name__} yet")
    return template(cfg, **options)


def exportable(cfg: Any) -> bool:
    """Whether a template covers set-ups of ``cfg``'s type."""
    return type(cfg) in TEMPLATES
