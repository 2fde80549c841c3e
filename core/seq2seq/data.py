"""Tasks, tokenization and tensors for the encoder–decoder: written dates → ISO dates
(characters), and numbers ↔ English words (words on the word side)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from core.data.vocab import Vocab, pad_batch
from core.seq2seq.dates import LANGUAGES, generate_date_pairs
from core.seq2seq.numbers import generate_number_pairs

__all__ = ["DIRECTIONS", "MAX_INPUT_CHARS", "TASKS", "Codec", "Seq2SeqData", "check_source", "make_data",
           "split_pairs"]

MAX_INPUT_CHARS = 60
TASKS = ("dates", "numbers")
DIRECTIONS = ("digits→words", "words→digits")


@dataclass(frozen=True)
class Codec:
    """How a task's text becomes token ids and back: its vocabularies, the unit of each
    side ("char" or "word"), the padded source length the model was built with, and the
    longest output (in tokens, <eos> included)."""

    task: str
    src_unit: str
    tgt_unit: str
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_len: int
    max_out: int

    def src_tokens(self, text: str) -> list[str]:
        return self.src_vocab.split(text)

    def tgt_tokens(self, text: str) -> list[str]:
        return self.tgt_vocab.split(text)

    def join(self, tokens: Sequence[str]) -> str:
        return self.tgt_vocab.join(tokens)

    @property
    def bleu_tokenize(self) -> str:
        """sacrebleu's tokenizer for this task's outputs: characters or 13a words."""
        return "char" if self.tgt_unit == "char" else "13a"

    def encode_sources(self, texts: Sequence[str], length: int | None = None) -> torch.Tensor:
        return pad_batch([self.src_vocab.ids(t) for t in texts], length)

    def decode_output(self, ids: Sequence[int]) -> str:
        return self.tgt_vocab.decode(ids)


@dataclass
class Seq2SeqData:
    """Train and dev pairs with their tensors: ``X = cat([src, tgt_in], 1)`` [N, S + T] and
    ``y = tgt_out`` [N, T] (<pad> where the sentence has ended)."""

    codec: Codec
    train_pairs: list[tuple[str, str]]
    dev_pairs: list[tuple[str, str]]
    train: tuple[torch.Tensor, torch.Tensor]
    dev: tuple[torch.Tensor, torch.Tensor]


def split_pairs(pairs: Sequence[tuple[str, str]], n_dev: int, seed: int = 0) -> tuple[list, list]:
    """Dev and train pairs such that no target (e.g. no date) and so no source is in both."""
    by_target: dict[str, list[tuple[str, str]]] = {}
    for p in pairs:
        by_target.setdefault(p[1], []).append(p)
    targets = list(by_target)
    random.Random(seed).shuffle(targets)
    dev: list[tuple[str, str]] = []
    train: list[tuple[str, str]] = []
    for t in targets:
        (dev if len(dev) < n_dev else train).extend(by_target[t])
    return train, dev


def _tensors(codec: Codec, pairs: Sequence[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
    src = codec.encode_sources([s for s, _ in pairs], codec.src_len)
    tgt = pad_batch([codec.tgt_vocab.ids(t, sos=True, eos=True) for _, t in pairs],
                    codec.max_out + 1)  # (N, T + 1): <sos> y … <eos> <pad>…
    return torch.cat([src, tgt[:, :-1]], 1), tgt[:, 1:].contiguous()


def make_data(task: str = "dates", n_train: int = 8000, n_dev: int = 500, seed: int = 0,
              languages: Sequence[str] = tuple(LANGUAGES), direction: str = "digits→words",
              high: int = 9_999) -> Seq2SeqData:
    """Generate a task's pairs with ``seed``, split them (no shared target), build the
    vocabularies from the training pairs and the tensors of both sets."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    total = n_train + n_dev
    if task == "dates":
        pairs = generate_date_pairs(total, seed, languages)
        src_unit = tgt_unit = "char"
    else:
        pairs = generate_number_pairs(total, seed, high, direction)
        src_unit, tgt_unit = ("char", "word") if direction == "digits→words" else ("word", "char")
    train_pairs, dev_pairs = split_pairs(pairs, n_dev, seed)
    src_vocab = Vocab.build((s for s, _ in train_pairs), src_unit)
    tgt_vocab = Vocab.build((t for _, t in train_pairs), tgt_unit)
    src_len = max(len(src_vocab.split(s)) for s, _ in pairs)
    max_out = max(len(tgt_vocab.split(t)) for _, t in pairs) + 1
    codec = Codec(task, src_unit, tgt_unit, src_vocab, tgt_vocab, src_len, max_out)
    return Seq2SeqData(codec, train_pairs, dev_pairs, _tensors(codec, train_pairs), _tensors(codec, dev_pairs))


def check_source(text: str, codec: Codec) -> tuple[str, list[str]]:
    """A typed source, cleaned as the training data were (lower case, single spaces),
    and the tokens the model has never seen (they become <unk>). ``ValueError`` with one
    plain sentence when it is empty or longer than ``MAX_INPUT_CHARS`` characters."""
    cleaned = " ".join((text or "").split()).lower()
    if not cleaned:
        raise ValueError("Type something to translate first: the box is empty.")
    if len(cleaned) > MAX_INPUT_CHARS:
        raise ValueError(f"That is {len(cleaned)} characters; please type at most {MAX_INPUT_CHARS}.")
    return cleaned, codec.src_vocab.unknown(codec.src_tokens(cleaned))
