"""Generative models: a variational autoencoder and GANs (MLP, DCGAN, conditional) trained on digits,
and mode collapse made visible on a 2-D toy, GAN Lab style."""

from ui import shell
from ui.generative import gan, toy, vae

shell.topic_page(
    "GANs and VAEs",
    "A generative model learns to make new examples that look like its training data. A **VAE** squeezes each "
    "picture into a small random code and learns to rebuild it; because the codes are pushed towards a plain "
    "Gaussian, any point drawn from that Gaussian decodes into something plausible. A **GAN** sets two networks "
    "against each other: a generator turns noise into pictures and a discriminator tries to tell them from real "
    "ones. **Try:** train a VAE and walk through its latent space; train a GAN and watch its samples sharpen "
    "epoch by epoch; then make a GAN collapse on the 2-D toy and see which modes it forgets.",
    {"VAE": vae.render, "GAN on digits": gan.render, "Mode collapse in 2-D": toy.render},
)
