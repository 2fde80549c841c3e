"""Numbers and their English words, a word-level translation task ("342" ↔ "three hundred
and forty two"), generated with a seed."""

from __future__ import annotations

import random

__all__ = ["MAX_NUMBER", "generate_number_pairs", "number_to_words"]

MAX_NUMBER = 999_999
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
        if rest:
            words.append("and")
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens])
        if ones:
            words.append(_ONES[ones])
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return words


def number_to_words(n: int) -> str:
    """British-style English words: 342 → "three hundred and forty two", 1005 → "one
    thousand and five" (no hyphens, so every word is one token)."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"give a whole number between 0 and {MAX_NUMBER:,}")
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return " ".join(_below_thousand(rest))
    words = _below_thousand(thousands) + ["thousand"]
    if rest:
        if rest < 100:
            words.append("and")
        words += _below_thousand(rest)
    return " ".join(words)


def generate_number_pairs(n: int, seed: int = 0, high: int = 9_999, direction: str = "digits→words") -> list[tuple[str, str]]:
    """``n`` distinct (source, target) pairs of numbers drawn from 0..``high`` with ``seed``:
    ("342", "three hundred and forty two") for ``"digits→words"``, the other way round for
    ``"words→digits"``."""
    if direction not in ("digits→words", "words→digits"):
        raise ValueError("direction must be 'digits→words' or 'words→digits'")
    if not 1 <= high <= MAX_NUMBER:
        raise ValueError(f"the largest number must be between 1 and {MAX_NUMBER:,}")
    if n > high + 1:
        raise ValueError(f"there are only {high + 1:,} numbers from 0 to {high:,}")
    rng = random.Random(seed)
    numbers = rng.sample(range(high + 1), n)
    pairs = [(str(k), number_to_words(k)) for k in numbers]
    return pairs if direction == "digits→words" else [(w, d) for d, w in pairs]
