"""The Generative page's toy GAN on 2-D points (:func:`core.generative.toy.run_toy`) as a notebook: the
mixture of Gaussians, the small generator and discriminator and the game's losses (the lab's own code,
copied as it is), the two-player step and the count of the modes the generator reaches."""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict

from core.export import snippets
from core.export.notebook import Cell, Export, code, md
from core.generative.losses import GAN_LOSSES, discriminator_loss, generator_loss
from core.generative.toy import N_FAKE, SIGMA, ToyConfig, ToyDiscriminator, ToyGenerator, toy_data


def toy_gan(cfg: ToyConfig, *, device: str = "cpu") -> Export:
    """The training ``cfg`` as code (on the CPU, as the lab trains it); ``final`` holds the run's
    ``final_modes_covered``."""
    if not isinstance(cfg, ToyConfig):
        raise ValueError("the toy GAN's export needs a ToyConfig")
    cfg.check()
    per_epoch = max((cfg.n_real // cfg.batch_size) // cfg.k, 1)
    cells: list[Cell] = [
        snippets.settings_table(asdict(cfg), (
            "The toy GAN of the lab's Generative page as plain PyTorch: a generator learns to place points where "
            "a mixture of Gaussians puts them, against a discriminator that tells real points from its fakes. "
            "Run the cells from the top; the number at the end is that of the lab's tracked run.")),
        snippets.device_cell("cpu"),
        md("""
            ### One thread, no denormal numbers
            The lab trains this small GAN on the CPU with one thread and flushes denormal floats to zero
            (Adam's tiny moments otherwise make each step about three times slower); the same here gives the
            same numbers."""),
        code("""
            torch.set_num_threads(1)
            torch.set_flush_denormal(True)
        """),
        md(f"""
            ## The real points
            {cfg.n_real:,} points: each picks one of the mixture's centres and adds Gaussian noise of standard
            deviation σ, all drawn from a NumPy generator seeded with the seed (the lab's function below)."""),
        code("""
            SIGMA = $sigma
            GAN_LOSSES = $losses
        """, sigma=dict(SIGMA), losses=tuple(GAN_LOSSES)),
        snippets.source_of(toy_data),
        md("""
            ## The two players and their losses
            G turns a noise vector z into a point, D a point into a logit (D(x) = σ(logit), the chance that x
            is real). D minimises −V(D, G); G the non-saturating −log D(G(z)) or the course's minimax
            log(1 − D(G(z))). The lab's code:"""),
        Cell("code", "\n\n\n".join(inspect.getsource(c).strip() for c in (ToyGenerator, ToyDiscriminator))),
        snippets.source_of(discriminator_loss, generator_loss),
        md(f"""
            ## The training
            Each call is one D step on a real batch and a batch of fresh fakes; after every {cfg.k}th D step
            comes one G step on fresh noise. Every epoch shuffles the real points into whole batches; shuffles
            and noise come from one generator seeded with the seed, and the training ends after {cfg.steps:,}
            G steps. **Try:** G's learning rate 10× D's, and watch the modes collapse."""),
        code("""
            random.seed($seed)
            np.random.seed($seed)
            torch.manual_seed($seed)
            X, _ = toy_data($kind, $n_real, $seed)
            torch.manual_seed($seed)
            G, D = ToyGenerator($z_dim, $hidden), ToyDiscriminator($hidden)
            fixed_z = torch.randn($n_fake, $z_dim, generator=torch.Generator().manual_seed($seed + 1))
            opt_g = torch.optim.Adam(G.parameters(), lr=$lr_g, betas=($beta1, 0.999))
            opt_d = torch.optim.Adam(D.parameters(), lr=$lr_d, betas=($beta1, 0.999))
            generator = torch.Generator().manual_seed($seed)
            n, bs, d_steps, g_steps = len(X), min($batch_size, len(X)), 0, 0
            for epoch in range(1, $epochs + 1):
                order = torch.randperm(n, generator=generator)
                for i in range(0, n - bs + 1, bs):
                    xb = X[order[i : i + bs]]
                    with torch.no_grad():
                        fake = G(torch.randn(bs, $z_dim, generator=generator))
                    d_loss = discriminator_loss(D(xb), D(fake))
                    opt_d.zero_grad(set_to_none=True)
                    d_loss.backward()
                    opt_d.step()
                    d_steps += 1
                    if d_steps % $k:
                        continue
                    g_loss = generator_loss(D(G(torch.randn(bs, $z_dim, generator=generator))), $loss)
                    opt_g.zero_grad(set_to_none=True)
                    g_loss.backward()
                    opt_g.step()
                    g_steps += 1
                    if g_steps % 500 == 0:
                        print(f"G step {g_steps}: D loss {d_loss.item():.3f}, G loss {g_loss.item():.3f}")
                    if g_steps >= $steps:
                        break
                if g_steps >= $steps:
                    break
        """, seed=cfg.seed, kind=cfg.kind, n_real=cfg.n_real, z_dim=cfg.z_dim, hidden=cfg.hidden, n_fake=N_FAKE,
             lr_g=float(cfg.lr_g), lr_d=float(cfg.lr_d), beta1=float(cfg.beta1), batch_size=cfg.batch_size,
             epochs=math.ceil(cfg.steps / per_epoch), k=cfg.k, loss=cfg.loss, steps=cfg.steps),
        md("""
            ## The modes it reaches
            500 points from a fixed noise batch; each goes to its nearest centre when it lies within 3σ of it,
            and a mode counts as covered when it holds at least a fifth of a fair share of them."""),
        code("""
            with torch.no_grad():
                samples = G(fixed_z).numpy().astype(np.float64)
            centers = toy_centers($kind)
            d = np.sqrt(((samples[:, None, :] - centers[None]) ** 2).sum(-1))
            nearest = d.argmin(1)
            near = d[np.arange(len(samples)), nearest] <= 3 * SIGMA[$kind]
            counts = np.bincount(nearest[near], minlength=len(centers))
            final = {"final_modes_covered": int((counts / len(samples) >= 0.2 / len(centers)).sum())}
            print(counts.tolist())
        """, kind=cfg.kind),
        *snippets.final_cell("the number of the mixture's modes the generator covers at the end"),
    ]
    return Export(f"toy_gan_{cfg.kind}", f"A toy GAN on the {cfg.kind} of Gaussians", tuple(cells))
