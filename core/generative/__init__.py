"""Generative models: the VAE (:mod:`core.generative.vae`) and GANs — their losses
(:mod:`core.generative.losses`), players (:mod:`core.generative.nets`), images (:mod:`core.generative.data`),
training job (:mod:`core.generative.gan`), the 2-D toy (:mod:`core.generative.toy`) and the digit classifier
that measures them (:mod:`core.generative.classifier`)."""

from core.generative.vae import (
    VAE,
    VAEConfig,
    VAEObjective,
    VAEResult,
    kl_divergence,
    load_vae,
    reconstruction_loss,
    reparameterize,
    run_vae,
)

__all__ = [
    "VAE",
    "VAEConfig",
    "VAEObjective",
    "VAEResult",
    "kl_divergence",
    "load_vae",
    "reconstruction_loss",
    "reparameterize",
    "run_vae",
]
