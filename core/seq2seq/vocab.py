"""Token vocabularies for sequence-to-sequence tasks, with the four special tokens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["EOS", "PAD", "SOS", "SPECIALS", "UNK", "Vocab", "pad_batch"]

PAD, SOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")


@dataclass(frozen=True)
class Vocab:
    """Tokens by id: ids 0–3 are <pad>, <sos>, <eos>, <unk>; then the task's tokens."""

    tokens: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.tokens[:4]) != SPECIALS:
            raise ValueError("a vocabulary starts with <pad>, <sos>, <eos>, <unk>")
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]]) -> Vocab:
        """Every token seen in ``sequences``, sorted, after the specials."""
        seen = sorted({t for seq in sequences for t in seq} - set(SPECIALS))
        return cls(SPECIALS + tuple(seen))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str], *, sos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``tokens`` (unknown ones → <unk>), optionally framed by <sos> … <eos>."""
        ids = [self.index.get(t, UNK) for t in tokens]
        return ([SOS] if sos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> list[str]:
        """Tokens of ``ids``; with ``strip``, stops at <eos> and drops <pad>/<sos>."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == EOS:
                break
            if strip and i in (PAD, SOS):
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else "<unk>")
        return out

    def unknown(self, tokens: Sequence[str]) -> list[str]:
        """The tokens of ``tokens`` that are not in the vocabulary (in order, once each)."""
        return list(dict.fromkeys(t for t in tokens if t not in self.index))


def pad_batch(rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
    """Id lists → a LongTensor [N, length] padded on the right with <pad>."""
    length = max((len(r) for r in rows), default=0) if length is None else length
    out = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        r = list(r)[:length]
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out
