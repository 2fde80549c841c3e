"""Recurrent cells written from the course's equations, and the sequence wrappers around them.

Every cell keeps its weights on the concatenation ``[h⟨t−1⟩, x⟨t⟩]`` exactly as the course
writes them (``W · [h, x] + b``), one matrix per gate, and its ``forward(x, state,
return_gates=False)`` returns the new state — and, with ``return_gates=True``, a dict of
every gate's activation (for the gate viewer).

- :class:`RNNCell`: a⟨t⟩ = tanh(W_a·[a⟨t−1⟩, x⟨t⟩] + b_a)
- :class:`LSTMCell` (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et al., 2000):
  f, i, C̃, o from [h, x]; C = f * C_prev + i * C̃; h = o * tanh(C)
- :class:`GRUCell` (Cho et al., 2014) in the course's form: z, r from [h, x];
  h̃ = tanh(W·[r * h_prev, x] + b); h = (1 − z) * h_prev + z * h̃
- :class:`TorchGRUCell`: PyTorch's ``nn.GRUCell`` written out (r applied *after* the
  recurrent matrix, and z's role flipped), to show how it differs from the course.

:class:`Recurrent` runs any of them over [B, T, D] inputs, 1–3 layers deep and optionally
bidirectional (Schuster & Paliwal, 1997); :class:`BidirectionalTagger` adds the course's
output ŷ⟨t⟩ = g(W_y[→a⟨t⟩, ←a⟨t⟩] + b_y).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "CELLS",
    "GATES",
    "BidirectionalTagger",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "Recurrent",
    "TorchGRUCell",
    "make_cell",
    "run_cell",
]

# what each cell's forward(..., return_gates=True) returns, in display order
GATES: dict[str, tuple[str, ...]] = {
    "RNN": ("hidden",),
    "LSTM": ("forget", "input", "candidate", "output", "cell", "hidden"),
    "GRU": ("update", "reset", "candidate", "hidden"),
    "TorchGRU": ("update", "reset", "candidate", "hidden"),
}


def _check_sizes(input_size: int, hidden_size: int) -> None:
    if input_size < 1 or hidden_size < 1:
        raise ValueError("the input size and the hidden size must be at least 1")


class _Cell(nn.Module):
    """Shared plumbing: one weight matrix [H, H + D] and bias [H] per gate, initialised
    uniformly in ±1/√H like PyTorch's recurrent layers."""

    kind = ""
    gate_names: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size = input_size, hidden_size
        for g in self.gate_names:
            self.register_parameter(f"W_{g}", nn.Parameter(torch.empty(hidden_size, hidden_size + input_size)))
            self.register_parameter(f"b_{g}", nn.Parameter(torch.empty(hidden_size)))
        self.reset_parameters()

    def reset_parameters(self, scale: float = 1.0) -> None:
        """Uniform in ±scale/√H (scale 1 is PyTorch's default for its recurrent layers)."""
        k = scale / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-k, k)

    def W(self, g: str) -> Tensor:  # noqa: N802 - the course's name
        return getattr(self, f"W_{g}")

    def b(self, g: str) -> Tensor:
        return getattr(self, f"b_{g}")

    def _lin(self, g: str, hx: Tensor) -> Tensor:
        """W_g · [h, x] + b_g for a batch: hx [B, H + D] → [B, H]."""
        return hx @ self.W(g).T + self.b(g)

    def _zeros(self, x: Tensor) -> Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)

    def _check_x(self, x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"x must be [batch, {self.input_size}], got {list(x.shape)}")

    def _check_torch(self, w_ih: Tensor, w_hh: Tensor, gates: int = 1) -> None:
        if tuple(w_ih.shape) != (gates * self.hidden_size, self.input_size) or w_hh.shape[1] != self.hidden_size:
            raise ValueError(f"the PyTorch cell has input size {w_ih.shape[1]} and hidden size {w_hh.shape[1]}; "
                             f"this cell has {self.input_size} and {self.hidden_size}")


class RNNCell(_Cell):
    """The basic RNN cell: a⟨t⟩ = tanh(W_a · [a⟨t−1⟩, x⟨t⟩] + b_a). State: a [B, H]."""

    kind = "RNN"
    gate_names = ("a",)

    def forward(self, x: Tensor, state: Tensor | None = None, return_gates: bool = False):
        self._check_x(x)
        a_prev = self._zeros(x) if state is None else state
        a = torch.tanh(self._lin("a", torch.cat([a_prev, x], 1)))
        return (a, {"hidden": a}) if return_gates else a

    @torch.no_grad()
    def load_torch(self, cell: nn.RNNCell | nn.RNN, layer: int = 0) -> RNNCell:
        """Copy a tanh ``torch.nn.RNNCell``'s (or one layer of a forward ``nn.RNN``'s) weights:
        W_a = [W_hh, W_ih], b_a = b_ih + b_hh."""
        if cell.nonlinearity != "tanh":
            raise ValueError("only a tanh RNN matches the course's RNN")
        w_ih, w_hh, b_ih, b_hh = _torch_weights(cell, layer)
        self._check_torch(w_ih, w_hh)
        self.W_a.copy_(torch.cat([w_hh, w_ih], 1))
        self.b_a.copy_(_bias(b_ih, b_hh, self.hidden_size))
        return self



def _bias(b_ih: Tensor | None, b_hh: Tensor | None, n: int) -> Tensor:
    total = torch.zeros(n)
    for b in (b_ih, b_hh):
        if b is not None:
            total = total.to(b) + b
    return total


class LSTMCell(_Cell):
    """The course's LSTM cell. State: (h, C), both [B, H].

    f = σ(W_f·[h, x] + b_f), i = σ(W_i·[h, x] + b_i), C̃ = tanh(W_C·[h, x] + b_C),
    C = f * C_prev + i * C̃, o = σ(W_o·[h, x] + b_o), h = o * tanh(C).
    (Hochreiter & Schmidhuber, "Long Short-Term Memory", 1997; forget gate: Gers, Schmidhuber
    & Cummins, 2000.)"""

    kind = "LSTM"
    gate_names = ("f", "i", "C", "o")

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None, return_gates: bool = False):
        self._check_x(x)
        h_prev, c_prev = (self._zeros(x), self._zeros(x)) if state is None else state
        hx = torch.cat([h_prev, x], 1)  # [B, H + D]
        f = torch.sigmoid(self._lin("f", hx))
        i = torch.sigmoid(self._lin("i", hx))
        c_tilde = torch.tanh(self._lin("C", hx))
        c = f * c_prev + i * c_tilde
        o = torch.sigmoid(self._lin("o", hx))
        h = o * torch.tanh(c)
        if return_gates:
            return (h, c), {"forget": f, "input": i, "candidate": c_tilde, "output": o, "cell": c, "hidden": h}
        return h, c

    @torch.no_grad()
    def set_forget_bias(self, value: float) -> LSTMCell:
        """Set every b_f to ``value`` (1 is the usual choice: remember by default)."""
        self.b_f.fill_(value)
        return self

    @torch.no_grad()
    def load_torch(self, cell: nn.LSTMCell | nn.LSTM, layer: int = 0, reverse: bool = False) -> LSTMCell:
        """Copy the weights of a ``torch.nn.LSTMCell`` (or one layer and direction of an ``nn.LSTM``).

        PyTorch stacks the gates in the order i, f, g (= C̃), o and splits each gate's matrix
        into W_ih [4H, D] and W_hh [4H, H] with two biases; the course's W_g is [W_hh_g, W_ih_g]
        (h first, as in [h⟨t−1⟩, x⟨t⟩]) and b_g = b_ih_g + b_hh_g."""
        w_ih, w_hh, b_ih, b_hh = _torch_weights(cell, layer, reverse)
        self._check_torch(w_ih, w_hh, gates=4)
        H = self.hidden_size
        for k, g in enumerate(("i", "f", "C", "o")):  # PyTorch's order
            rows = slice(k * H, (k + 1) * H)
            self.W(g).copy_(torch.cat([w_hh[rows], w_ih[rows]], 1))
            self.b(g).copy_(_bias(None if b_ih is None else b_ih[rows], None if b_hh is None else b_hh[rows], H))
        return self


def _torch_weights(cell: nn.Module, layer: int, reverse: bool = False) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    if isinstance(cell, nn.RNNBase):
        if getattr(cell, "proj_size", 0):
            raise ValueError("an LSTM with projections is not the course's LSTM")
        if not 0 <= layer < cell.num_layers or (reverse and not cell.bidirectional):
            raise ValueError("no such layer or direction in this PyTorch module")
        sfx = f"_l{layer}" + ("_reverse" if reverse else "")
        return (getattr(cell, f"weight_ih{sfx}"), getattr(cell, f"weight_hh{sfx}"),
                getattr(cell, f"bias_ih{sfx}", None), getattr(cell, f"bias_hh{sfx}", None))
    return cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh


class GRUCell(_Cell):
    """The course's GRU cell (Cho et al., "Learning Phrase Representations using RNN
    Encoder–Decoder", 2014). State: h [B, H].

    z = σ(W_z·[h, x] + b_z), r = σ(W_r·[h, x] + b_r), h̃ = tanh(W·[r * h_prev, x] + b),
    h = (1 − z) * h_prev + z * h̃ (z near 1: take the new candidate)."""

    kind = "GRU"
    gate_names = ("z", "r", "h")

    def forward(self, x: Tensor, state: Tensor | None = None, return_gates: bool = False):
        self._check_x(x)
        h_prev = self._zeros(x) if state is None else state
        hx = torch.cat([h_prev, x], 1)
        z = torch.sigmoid(self._lin("z", hx))
        r = torch.sigmoid(self._lin("r", hx))
        h_tilde = torch.tanh(self._lin("h", torch.cat([r * h_prev, x], 1)))
        h = (1 - z) * h_prev + z * h_tilde
        return (h, {"update": z, "reset": r, "candidate": h_tilde, "hidden": h}) if return_gates else h

    @torch.no_grad()
    def load_torch_converted(self, cell: nn.GRUCell | nn.GRU, layer: int = 0) -> GRUCell:
        """The closest course GRU to a PyTorch GRU: W_r = [W_hr, W_ir]; z flipped
        (W_z = −[W_hz, W_iz], b_z = −(b_iz + b_hz), since 1 − σ(a) = σ(−a)); W = [W_hn, W_in],
        b = b_in + b_hn. The two still differ wherever r < 1, because PyTorch multiplies r
        with W_hn·h + b_hn rather than with h (see :class:`TorchGRUCell`)."""
        w_ih, w_hh, b_ih, b_hh = _torch_weights(cell, layer)
        self._check_torch(w_ih, w_hh, gates=3)
        H = self.hidden_size
        parts = {}
        for k, g in enumerate(("r", "z", "n")):  # PyTorch's order
            rows = slice(k * H, (k + 1) * H)
            parts[g] = (torch.cat([w_hh[rows], w_ih[rows]], 1),
                        _bias(None if b_ih is None else b_ih[rows], None if b_hh is None else b_hh[rows], H))
        self.W_r.copy_(parts["r"][0])
        self.b_r.copy_(parts["r"][1])
        self.W_z.copy_(-parts["z"][0])
        self.b_z.copy_(-parts["z"][1])
        self.W_h.copy_(parts["n"][0])
        self.b_h.copy_(parts["n"][1])
        return self


class TorchGRUCell(nn.Module):
    """PyTorch's ``nn.GRUCell`` written out, to set beside the course's :class:`GRUCell`:

    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 − z) * n + z * h.

    r scales the recurrent term *after* its matrix, and z keeps the *old* state."""

    kind = "TorchGRU"

    def __init__(self, cell: nn.GRUCell | nn.GRU, layer: int = 0) -> None:
        super().__init__()
        w_ih, w_hh, b_ih, b_hh = _torch_weights(cell, layer)
        self.hidden_size, self.input_size = w_hh.shape[1], w_ih.shape[1]
        H = self.hidden_size
        self.w_ih, self.w_hh = w_ih.detach().clone(), w_hh.detach().clone()
        self.b_ih = b_ih.detach().clone() if b_ih is not None else torch.zeros(3 * H)
        self.b_hh = b_hh.detach().clone() if b_hh is not None else torch.zeros(3 * H)

    def forward(self, x: Tensor, state: Tensor | None = None, return_gates: bool = False):
        h = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state
        gi = x @ self.w_ih.T.to(x) + self.b_ih.to(x)  # [B, 3H]: r, z, n parts
        gh = h @ self.w_hh.T.to(x) + self.b_hh.to(x)
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h_new = (1 - z) * n + z * h
        return (h_new, {"update": z, "reset": r, "candidate": n, "hidden": h_new}) if return_gates else h_new


CELLS: dict[str, type[_Cell]] = {"RNN": RNNCell, "LSTM": LSTMCell, "GRU": GRUCell}


def make_cell(kind: str, input_size: int, hidden_size: int) -> _Cell:
    """A course cell by name ("RNN", "LSTM" or "GRU")."""
    if kind not in CELLS:
        raise ValueError(f"unknown cell {kind!r}: choose one of {', '.join(CELLS)}")
    return CELLS[kind](input_size, hidden_size)


def _hidden(state) -> Tensor:
    return state[0] if isinstance(state, tuple) else state


def run_cell(cell: nn.Module, x: Tensor, state=None, *, reverse: bool = False, return_gates: bool = False):
    """Run one cell over a sequence x [B, T, D].

    Returns ``(outputs [B, T, H], final state)``, plus with ``return_gates`` a dict of each
    gate's activations stacked over time ([B, T, H] each). ``reverse`` runs from the last
    step to the first (the backward half of a bidirectional RNN); outputs stay in time order."""
    if x.dim() != 3:
        raise ValueError(f"x must be [batch, time, features], got {list(x.shape)}")
    T = x.shape[1]
    steps = range(T - 1, -1, -1) if reverse else range(T)
    outs: list[Tensor | None] = [None] * T
    gates: dict[str, list[Tensor | None]] = {}
    for t in steps:
        if return_gates:
            state, g = cell(x[:, t], state, return_gates=True)
            for k, v in g.items():
                gates.setdefault(k, [None] * T)[t] = v
        else:
            state = cell(x[:, t], state)
        outs[t] = _hidden(state)
    out = torch.stack(outs, 1) if T else x.new_zeros(x.shape[0], 0, cell.hidden_size)  # [B, T, H]
    if return_gates:
        return out, state, {k: torch.stack(v, 1) for k, v in gates.items()}
    return out, state


class Recurrent(nn.Module):
    """A deep (1–3 layers), optionally bidirectional RNN of course cells over [B, T, D].

    Layer l > 1 takes layer l − 1's hidden states as its inputs (both directions
    concatenated when bidirectional). ``forward(x)`` returns ``(outputs, states)``:
    outputs [B, T, H · directions] of the top layer, in time order (the backward
    direction's ←a⟨t⟩ is the state after reading x⟨T⟩ … x⟨t⟩), and the final state of
    every layer and direction."""

    def __init__(self, kind: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False) -> None:
        super().__init__()
        if not 1 <= num_layers <= 3:
            raise ValueError("use 1 to 3 layers")
        _check_sizes(input_size, hidden_size)
        self.kind, self.hidden_size, self.num_layers = kind, hidden_size, num_layers
        self.directions = 2 if bidirectional else 1
        cells = []
        for layer in range(num_layers):
            d_in = input_size if layer == 0 else hidden_size * self.directions
            cells.append(nn.ModuleList([make_cell(kind, d_in, hidden_size) for _ in range(self.directions)]))
        self.layers = nn.ModuleList(cells)

    @property
    def bidirectional(self) -> bool:
        return self.directions == 2

    def forward(self, x: Tensor) -> tuple[Tensor, list]:
        states = []
        for cells in self.layers:
            outs = []
            for d, cell in enumerate(cells):
                out, state = run_cell(cell, x, reverse=d == 1)
                outs.append(out)
                states.append(state)
            x = torch.cat(outs, 2)  # (B, T, dir · hidden): [→a⟨t⟩, ←a⟨t⟩]
        return x, states


class BidirectionalTagger(nn.Module):
    """Tag every position of a sequence of symbol ids [B, T] with one of ``n_classes``:
    one-hot inputs → :class:`Recurrent` → ŷ⟨t⟩ = g(W_y[→a⟨t⟩, ←a⟨t⟩] + b_y) (the logits;
    g = softmax is applied in the loss). With ``bidirectional=False`` only →a⟨t⟩ is used.
    Returns logits [B, n_classes, T] (the class dimension second, as ``cross_entropy`` wants
    for sequences)."""

    def __init__(self, n_symbols: int, n_classes: int, hidden_size: int, kind: str = "GRU",
                 bidirectional: bool = True, num_layers: int = 1) -> None:
        super().__init__()
        self.n_symbols = n_symbols
        self.rnn = Recurrent(kind, n_symbols, hidden_size, num_layers, bidirectional)
        self.head = nn.Linear(hidden_size * self.rnn.directions, n_classes)  # W_y, b_y

    def forward(self, ids: Tensor) -> Tensor:
        x = nn.functional.one_hot(ids, self.n_symbols).to(self.head.weight.dtype)  # [B, T, V]
        a, _ = self.rnn(x)  # [B, T, dir · H]
        return self.head(a).transpose(1, 2)  # [B, C, T]
