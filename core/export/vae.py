"""The Generative page's variational autoencoder (:func:`core.generative.vae.run_vae`) as a notebook: the
images in [0, 1] as the lab prepares them, the lab's VAE, its reparameterization trick and its objective
(copied as they are), and the same loop and seed."""

from __future__ import annotations

import inspect
from dataclasses import asdict

from core.cnn.data import SPLIT
from core.export import snippets
from core.export.notebook import Cell, Export, code, md
from core.generative.vae import ARCHS, VAE, VAEConfig, VAEObjective, kl_divergence, reconstruction_loss, reparameterize


def vae(cfg: VAEConfig, *, device: str = "auto") -> Export:
    """The training ``cfg`` as code; ``final`` holds the run's final train and dev loss (reconstruction +
    β·KL per image, both measured once more after training, as the run logs them)."""
    if not isinstance(cfg, VAEConfig):
        raise ValueError("the VAE's export needs a VAEConfig")
    cells: list[Cell] = [
        snippets.settings_table(asdict(cfg), (
            "The variational autoencoder of the lab's Generative page as plain PyTorch: an encoder gives a "
            "Gaussian over codes z for each image, a decoder turns a code drawn from it back into pixels. Run the "
            "cells from the top; the numbers at the end are those of the lab's tracked run (on the same kind of "
            "device).")),
        snippets.device_cell(device),
        *snippets.dataset_cells(cfg.dataset),
        *snippets.split_cell(SPLIT, cfg.seed),
        md("""
            ### Pixels in [0, 1]
            The lab standardises the images with the training part's mean and standard deviation and undoes it
            for the VAE (each pixel is a Bernoulli probability, so it must stay in [0, 1]); the same two steps
            here give the very same numbers."""),
        code("""
            MAX_TRAIN = $max_train
            (xt, _), (xd, _) = train, dev
            if MAX_TRAIN:
                xt = xt[:MAX_TRAIN]
            mean = torch.tensor(xt.mean(dim=(0, 2, 3)).tolist()).view(1, -1, 1, 1)
            std = torch.tensor(xt.std(dim=(0, 2, 3)).clamp_min(1e-6).tolist()).view(1, -1, 1, 1)
            xt, xd = [(((x - mean) / std) * std + mean).clamp(0, 1) for x in (xt, xd)]
            train, dev = (xt.to(DEVICE), xt.to(DEVICE)), (xd.to(DEVICE), xd.to(DEVICE))  # the target is the input
            print(xt.shape, xd.shape)
        """, max_train=cfg.max_train),
        md(f"""
            ## The model and its objective
            The reparameterization trick z = μ + σ⊙ε (ε ~ N(0, I), drawn at every forward pass, in eval mode
            too), the reconstruction term (binary cross-entropy summed over the pixels) and the closed-form
            KL term, then the VAE ({ARCHS[cfg.arch]}) and the objective reconstruction + β·KL: the lab's own
            code, copied as it is."""),
        code(f"ARCHS = {ARCHS!r}"),
        snippets.source_of(reparameterize, kl_divergence, reconstruction_loss),
        Cell("code", inspect.getsource(VAE).strip() + "\n\n\n" + inspect.getsource(VAEObjective).strip()),
        md("""
            ## The training
            Seeded as the lab seeds it (Python, NumPy and PyTorch) just before building the network; Adam;
            the lab's loop with the objective as the loss. After training, the training and dev sets are measured
            once more, as the lab's run does (ε is drawn anew at every pass, so the final dev loss differs a little
            from the last epoch's)."""),
        *snippets.optimizer_cells(["Adam"]),
        *snippets.fit_cells(),
        code("""
            random.seed($seed)
            np.random.seed($seed)
            torch.manual_seed($seed)
            model = VAE($arch, image_size=xt.shape[-1], channels=xt.shape[1], latent_dim=$latent, hidden=$hidden,
                        width=$width).to(DEVICE)
            optimizer = torch.optim.Adam(model.parameters(), lr=$lr)
            objective = VAEObjective($beta, $latent)
            final = fit(model, optimizer, train, dev, epochs=$epochs, batch_size=$bs, seed=$seed, loss_fn=objective)
        """, seed=cfg.seed, arch=cfg.arch, latent=cfg.latent_dim, hidden=cfg.hidden, width=cfg.width,
             lr=float(cfg.lr), beta=float(cfg.beta), epochs=cfg.epochs, bs=cfg.batch_size),
        *snippets.final_cell("the final training and dev loss (reconstruction + β·KL per image)"),
    ]
    return Export(f"vae_{cfg.arch}_{cfg.dataset}", f"A VAE ({cfg.arch}) on {cfg.dataset}", tuple(cells))
