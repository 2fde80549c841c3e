"""The gate viewer's engine: run one recurrent cell over a short typed text, one character
per step, and keep every gate's activation.

Two sources for the cell: a seeded random course cell reading one-hot characters of a
fixed alphabet (:func:`random_viewer`), or the first layer of a character language model
trained in this session (:func:`viewer_from_charlm`), reading its learned embeddings — for
an LSTM or an RNN the course cell with the model's weights (identical equations), for a GRU
PyTorch's own variant (:class:`core.rnn.cells.TorchGRUCell`)."""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from core.data.vocab import Vocab
from core.rnn.cells import GATES, LSTMCell, RNNCell, TorchGRUCell, make_cell, run_cell
from core.rnn.charlm import CharLM

__all__ = ["MAX_VIEW_CHARS", "VIEWER_ALPHABET", "GateTrace", "Viewer", "check_view_text", "gates_table",
           "random_viewer", "trace_gates", "viewer_from_charlm"]

MAX_VIEW_CHARS = 200
VIEWER_ALPHABET = string.ascii_letters + string.digits + " .,;:!?'\"-()\n"


@dataclass
class Viewer:
    """A cell ready to read text: ``encode(text) → [T, D]`` inputs, and what it is."""

    cell: nn.Module
    kind: str  # a key of GATES
    vocab: Vocab
    encode: Callable[[str], Tensor]
    source: str  # one sentence: trained on what, or random


@dataclass
class GateTrace:
    text: str
    gates: dict[str, np.ndarray]  # name -> [T, H]

    @property
    def steps(self) -> int:
        return len(self.text)


def check_view_text(text: str, vocab: Vocab) -> str | None:
    """A plain sentence saying why ``text`` cannot be viewed, or None when it can."""
    if not text:
        return "Type a few characters first: the cell reads one character per time step."
    if len(text) > MAX_VIEW_CHARS:
        return f"That is {len(text)} characters; the viewer reads at most {MAX_VIEW_CHARS}. Shorten the text."
    missing = vocab.unknown(text)
    if missing:
        shown = ", ".join(repr(c) for c in missing[:10])
        return (f"Not in this cell's vocabulary: {shown}. It knows {len(vocab)} characters; "
                "remove or replace these ones.")
    return None


def random_viewer(kind: str, hidden_size: int = 8, seed: int = 0, alphabet: str = VIEWER_ALPHABET) -> Viewer:
    """A seeded random course cell ("RNN", "LSTM" or "GRU") reading one-hot characters."""
    vocab = Vocab.of(alphabet)
    torch.manual_seed(seed)
    cell = make_cell(kind, len(vocab), hidden_size).eval()

    def encode(text: str) -> Tensor:
        return nn.functional.one_hot(vocab.encode(text), len(vocab)).float()

    return Viewer(cell, kind, vocab, encode,
                  f"An untrained {kind} cell with random weights (seed {seed}): its gates respond to the characters, "
                  "but nothing it does has been learned.")


def viewer_from_charlm(model: CharLM, vocab: Vocab, trained_on: str) -> Viewer:
    """The first recurrent layer of a trained :class:`CharLM`, reading its embeddings."""
    rnn = model.rnn
    d, h = rnn.input_size, rnn.hidden_size
    cell: nn.Module
    if isinstance(rnn, nn.LSTM):
        cell, kind = LSTMCell(d, h).load_torch(rnn, layer=0), "LSTM"
    elif isinstance(rnn, nn.GRU):
        cell, kind = TorchGRUCell(rnn, layer=0), "TorchGRU"
    else:
        cell, kind = RNNCell(d, h).load_torch(rnn, layer=0), "RNN"
    cell = cell.eval()
    emb = model.embed.weight.detach().cpu().float()

    def encode(text: str) -> Tensor:
        return emb[vocab.encode(text)]

    note = " (PyTorch's GRU form: its z keeps the old state)" if kind == "TorchGRU" else ""
    return Viewer(cell, kind, vocab, encode,
                  f"The first layer of the {model.cell} language model trained in this session on {trained_on}{note}.")


@torch.no_grad()
def trace_gates(viewer: Viewer, text: str) -> GateTrace:
    """Every gate's activation at every step: [T, H] arrays in ``GATES[viewer.kind]`` order."""
    problem = check_view_text(text, viewer.vocab)
    if problem:
        raise ValueError(problem)
    x = viewer.encode(text)[None]  # (1, T, D)
    _, _, gates = run_cell(viewer.cell, x, return_gates=True)
    return GateTrace(text, {k: gates[k][0].numpy() for k in GATES[viewer.kind]})


def gates_table(trace: GateTrace) -> pd.DataFrame:
    """One row per (step, character, unit) and one column per gate (for the CSV download)."""
    T = trace.steps
    H = next(iter(trace.gates.values())).shape[1] if trace.gates else 0
    frame = pd.DataFrame({"step": np.repeat(np.arange(1, T + 1), H),
                          "character": np.repeat(list(trace.text), H),
                          "unit": np.tile(np.arange(1, H + 1), T)})
    for name, values in trace.gates.items():
        frame[name] = values.reshape(-1)
    return frame
