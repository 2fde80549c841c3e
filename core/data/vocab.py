"""The lab's one token vocabulary: characters or words, with or without the four special tokens.

A :class:`Vocab` holds its tokens in id order and builds its token → id lookup once. Its
``unit`` says how a text becomes tokens: ``"char"`` (every character) or ``"word"`` (the
space-separated words), and how tokens become a text again. With ``specials`` (the
encoder–decoders' vocabularies) ids 0–3 are <pad>, <sos>, <eos>, <unk> and an unknown token
is read as <unk>; without them (the character language model's) every id is a real token and
an unknown one is refused with a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["CHAR", "EOS", "PAD", "SOS", "SPECIALS", "UNITS", "UNK", "WORD", "Vocab", "pad_batch", "split_text"]

PAD, SOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<sos>", "<eos>", "<unk>")
CHAR, WORD = "char", "word"
UNITS = (CHAR, WORD)


def split_text(text: str, unit: str) -> list[str]:
    """The tokens of a text: its characters ("char"), or its space-separated words ("word")."""
    return list(text) if unit == CHAR else text.split()


@dataclass(frozen=True)
class Vocab:
    """Tokens by id (``tokens[i]`` has id i), their ``unit`` ("char" or "word"), and whether ids
    0–3 are the specials <pad>, <sos>, <eos>, <unk>."""

    tokens: tuple[str, ...]
    unit: str = CHAR
    specials: bool = False
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}: one of {', '.join(UNITS)}")
        if self.specials and tuple(self.tokens[:4]) != SPECIALS:
            raise ValueError("a vocabulary with specials starts with <pad>, <sos>, <eos>, <unk>")
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.tokens)})

    @classmethod
    def of(cls, text: str) -> Vocab:
        """The characters of ``text``, sorted, without specials (a character language model's)."""
        return cls(tuple(sorted(set(text))))

    @classmethod
    def build(cls, texts: Iterable[str], unit: str = WORD) -> Vocab:
        """Every token seen in ``texts``, sorted, after the specials (an encoder–decoder's)."""
        seen = sorted({t for text in texts for t in split_text(text, unit)} - set(SPECIALS))
        return cls(SPECIALS + tuple(seen), unit, specials=True)

    def __len__(self) -> int:
        return len(self.tokens)

    def split(self, text: str) -> list[str]:
        """The tokens of a text in this vocabulary's unit."""
        return split_text(text, self.unit)

    def join(self, tokens: Iterable[str]) -> str:
        """Tokens back into a text."""
        return ("" if self.unit == CHAR else " ").join(tokens)

    def _tokens(self, text: str | Sequence[str]) -> Sequence[str]:
        return self.split(text) if isinstance(text, str) else text

    def unknown(self, text: str | Sequence[str]) -> list[str]:
        """The tokens of ``text`` (a text, or its tokens) not in the vocabulary, in order, once each."""
        return list(dict.fromkeys(t for t in self._tokens(text) if t not in self.index))

    def ids(self, text: str | Sequence[str], *, sos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``text`` (a text, or its tokens), optionally framed by <sos> … <eos>. An unknown
        token becomes <unk> with specials; without them it raises ``ValueError``."""
        tokens = self._tokens(text)
        if self.specials:
            ids = [self.index.get(t, UNK) for t in tokens]
            return ([SOS] if sos else []) + ids + ([EOS] if eos else [])
        if sos or eos:
            raise ValueError("a vocabulary without specials has no <sos> or <eos>")
        missing = self.unknown(tokens)
        if missing:
            what = "characters" if self.unit == CHAR else "tokens"
            raise ValueError(f"{what} not in the vocabulary: {self.join(missing)!r}")
        return [self.index[t] for t in tokens]

    def encode(self, text: str | Sequence[str], *, sos: bool = False, eos: bool = False) -> torch.Tensor:
        """:meth:`ids` as a LongTensor [T]."""
        return torch.tensor(self.ids(text, sos=sos, eos=eos), dtype=torch.int64)

    def decode_tokens(self, ids: Iterable[int], *, strip: bool = True) -> list[str]:
        """Tokens of ``ids``; with specials and ``strip``, stops at <eos> and drops <pad>/<sos>
        (an id out of range reads <unk>)."""
        out = []
        for i in ids:
            i = int(i)
            if self.specials and strip and i == EOS:
                break
            if self.specials and strip and i in (PAD, SOS):
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else SPECIALS[UNK])
        return out

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> str:
        """The text of ``ids`` (:meth:`decode_tokens` joined by the unit)."""
        return self.join(self.decode_tokens(ids, strip=strip))


def pad_batch(rows: Sequence[Sequence[int]], length: int | None = None) -> torch.Tensor:
    """Id lists → a LongTensor [N, length] padded on the right with <pad>."""
    length = max((len(r) for r in rows), default=0) if length is None else length
    out = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        r = list(r)[:length]
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out
