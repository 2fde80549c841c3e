"""The GANs and VAEs page's tabs: the VAE, the GAN on digits and mode collapse on a 2-D toy."""
