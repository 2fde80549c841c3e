"""Texts for the character language model, all offline: first names, last names and German
or Italian town names from the Faker package, docstrings of a fixed list of Python
standard-library modules, or an uploaded .txt file (:func:`decode_text` checks it)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["CORPORA", "MAX_UPLOAD_BYTES", "MAX_VOCAB", "MIN_TEXT_CHARS", "NEWLINE", "STDLIB_MODULES", "Corpus",
           "CorpusError", "decode_text", "load_corpus"]

MAX_UPLOAD_BYTES = 2_000_000
MIN_TEXT_CHARS = 200
MAX_VOCAB = 200
NEWLINE = "\n"


class CorpusError(ValueError):
    """A text that cannot be used as a corpus; the message is a sentence for the learner."""

    plain_message = True


# --------------------------------------------------------------------------- corpora


def _faker(module: str, attr: str) -> list[str]:
    values = getattr(importlib.import_module(module).Provider, attr)
    return list(values.keys() if isinstance(values, dict) else values)


def _first_names() -> list[str]:
    return _faker("faker.providers.person.en_US", "first_names")


def _last_names() -> list[str]:
    return _faker("faker.providers.person.en_US", "last_names")


def _german_cities() -> list[str]:
    return _faker("faker.providers.address.de_DE", "cities")


def _italian_cities() -> list[str]:
    return _faker("faker.providers.address.it_IT", "cities")[:3000]


STDLIB_MODULES = ("json", "os.path", "collections", "itertools", "functools", "string", "textwrap", "random",
                  "statistics", "fractions", "pathlib", "shutil", "heapq", "bisect", "math")


def _stdlib_docstrings() -> list[str]:
    """The docstrings of a fixed list of standard-library modules and their public members."""
    import inspect

    out: list[str] = []
    for name in STDLIB_MODULES:
        mod = importlib.import_module(name)
        for obj in [mod, *(getattr(mod, a) for a in sorted(dir(mod)) if not a.startswith("_"))]:
            doc = inspect.getdoc(obj) if callable(obj) or inspect.ismodule(obj) else None
            if doc and doc not in out and len(doc) > 40:
                out.append(doc)
    return out


@dataclass(frozen=True)
class Corpus:
    label: str
    description: str
    load: Callable[[], list[str]] = field(repr=False)
    lines: bool = True  # one entry per line; a sample is one line
    noun: str = ""  # what a model trained on it has read, for sentences ("US first names")


CORPORA: dict[str, Corpus] = {
    "first names": Corpus("First names (US)", "About 700 US first names from the Faker package, one per line.",
                          _first_names, noun="US first names"),
    "last names": Corpus("Last names (US)", "1,000 common US last names from the Faker package, one per line.",
                         _last_names, noun="US last names"),
    "german cities": Corpus("German towns", "About 400 German town names from the Faker package (with ä, ö, ü, ß).",
                            _german_cities, noun="German town names"),
    "italian towns": Corpus("Italian towns", "3,000 Italian municipality names from the Faker package.",
                            _italian_cities, noun="Italian town names"),
    "python docstrings": Corpus("Python docstrings",
                                f"Docstrings of {len(STDLIB_MODULES)} standard-library modules "
                                "(json, collections, itertools, …): English prose with code.",
                                _stdlib_docstrings, lines=False, noun="Python standard-library docstrings"),
}


def load_corpus(name: str) -> str:
    """The text of a built-in corpus: list corpora one entry per line, ending with a newline."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}")
    items = CORPORA[name].load()
    sep = NEWLINE if CORPORA[name].lines else "\n\n"
    return sep.join(s.strip() for s in items) + NEWLINE


def decode_text(data: bytes, name: str = "the file") -> str:
    """An uploaded file's bytes as text (UTF-8, a BOM dropped, line ends made ``\\n``).

    Raises :class:`CorpusError` with a plain sentence for an empty file, one over
    ``MAX_UPLOAD_BYTES``, binary data (NUL bytes or not UTF-8), or too little text."""
    if not data:
        raise CorpusError(f"{name} is empty: upload a text file with at least {MIN_TEXT_CHARS} characters.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise CorpusError(f"{name} is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB of text "
                          "(a few hundred kilobytes already train well).")
    if b"\x00" in data[:65536]:
        raise CorpusError(f"{name} looks like a binary file, not text: upload a plain .txt file saved as UTF-8.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorpusError(f"{name} is not UTF-8 text (perhaps a binary file or another encoding): "
                          "save it as UTF-8 plain text and upload it again.") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text.strip()) < MIN_TEXT_CHARS:
        raise CorpusError(f"{name} has only {len(text.strip())} characters of text; give it at least {MIN_TEXT_CHARS}.")
    if len(set(text)) > MAX_VOCAB:
        raise CorpusError(f"{name} uses {len(set(text))} different characters; a character model here takes at most "
                          f"{MAX_VOCAB} (try a text in one alphabet).")
    return text
