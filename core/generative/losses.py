"""The GAN's game as losses: the course's value function V(D, G) and what each player minimises.

The game (Goodfellow et al., 2014, "Generative Adversarial Nets")::

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]

D outputs a logit ℓ and D(·) = σ(ℓ). Every loss here is written with BCE-with-logits, which is
the same formula computed without taking log of a rounded-off sigmoid:

* the discriminator maximises V, i.e. minimises ``BCE(ℓ_real, 1) + BCE(ℓ_fake, 0)`` = −V;
* the generator either minimises log(1 − D(G(z))) — the course's *minimax* objective, equal to
  ``−BCE(ℓ_fake, 0)`` — or, as Goodfellow et al. advise in practice, maximises log D(G(z)) —
  the *non-saturating* loss ``BCE(ℓ_fake, 1)``. Both have the same fixed point; early in
  training, when D easily spots fakes (D(G(z)) ≈ 0), the minimax gradient w.r.t. the logit is
  −σ(ℓ) ≈ 0 (the generator learns nothing) while the non-saturating one is −(1 − σ(ℓ)) ≈ −1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["GAN_LOSSES", "discriminator_loss", "generator_loss", "value_function"]

GAN_LOSSES = {
    "non-saturating": "maximise log D(G(z)) (what Goodfellow et al. use in practice)",
    "minimax": "minimise log(1 − D(G(z))) (the course's objective as written)",
}

def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The course's V(D, G) = mean log D(x) + mean log(1 − D(G(z))), from D's logits on a real
    batch [B] and a fake batch [B'] (log σ(ℓ) and log(1 − σ(ℓ)) = log σ(−ℓ), computed stably)."""
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """What D minimises: −V(D, G) = BCE(ℓ_real, 1) + BCE(ℓ_fake, 0) (means over each batch)."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, kind: str = "non-saturating") -> torch.Tensor:
    """What G minimises, from D's logits on G's samples [B].

    ``"minimax"``: mean log(1 − D(G(z))) = −BCE(ℓ, 0) (the course's V with the real term dropped,
    which does not depend on G). ``"non-saturating"``: −mean log D(G(z)) = BCE(ℓ, 1).
    """
    if kind == "minimax":
        return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    if kind == "non-saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    raise ValueError(f"the generator loss must be one of {tuple(GAN_LOSSES)}, got {kind!r}")
