"""Generative models: the VAE (:mod:`core.generative.vae`) and GANs (:mod:`core.generative.gan`,
the 2-D toy in :mod:`core.generative.toy`)."""

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
