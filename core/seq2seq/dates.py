"""Human-readable dates in many formats and languages → ISO dates (YYYY-MM-DD).

The written forms come from Babel's CLDR patterns (``babel.dates.format_date``, locale data
shipped offline) in English, German, French, Spanish, Italian, Dutch and Portuguese, plus a
few hand-made English ones (ordinals, year first). Every numeric form puts the day before
the month (no US "5/3/99"), and dates lie between 1969 and 2068 so that a two-digit year
names one year (the POSIX rule that Python's ``strptime`` follows: 69–99 → 19xx, 00–68 →
20xx): the translation is always well defined. Sources are lower-cased.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from babel.dates import format_date

__all__ = ["DATE_FORMATS", "FIRST_DAY", "LANGUAGES", "LAST_DAY", "format_human", "generate_date_pairs", "random_date"]

FIRST_DAY, LAST_DAY = dt.date(1969, 1, 1), dt.date(2068, 12, 31)
LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "nl": "Dutch",
             "pt": "Portuguese"}

# (language, Babel locale, CLDR pattern or a named format); "ordinal" and "iso-dots" are ours
DATE_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("en", "en_US", "full"), ("en", "en_US", "long"), ("en", "en_US", "medium"),
    ("en", "en_GB", "full"), ("en", "en_GB", "long"), ("en", "en_GB", "medium"), ("en", "en_GB", "short"),
    ("en", "en_GB", "dd/MM/yy"), ("en", "en_GB", "y.MM.dd"), ("en", "en_GB", "ordinal"), ("en", "en_GB", "d MMM yy"),
    ("de", "de", "full"), ("de", "de", "long"), ("de", "de", "medium"), ("de", "de", "short"),
    ("fr", "fr", "full"), ("fr", "fr", "long"), ("fr", "fr", "medium"), ("fr", "fr", "short"),
    ("es", "es", "full"), ("es", "es", "long"), ("es", "es", "medium"), ("es", "es", "short"),
    ("it", "it", "full"), ("it", "it", "long"), ("it", "it", "medium"), ("it", "it", "short"),
    ("nl", "nl", "full"), ("nl", "nl", "long"), ("nl", "nl", "medium"), ("nl", "nl", "short"),
    ("pt", "pt", "full"), ("pt", "pt", "long"), ("pt", "pt", "medium"), ("pt", "pt", "short"),
)


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def format_human(date: dt.date, locale: str, pattern: str) -> str:
    """One written form of ``date`` (lower-cased), e.g. ``(3 May 1999, "de", "long")`` → "3. mai 1999"."""
    if pattern == "ordinal":
        text = f"{format_date(date, format='MMMM', locale=locale)} {_ordinal(date.day)} {date.year}"
    else:
        text = format_date(date, format=pattern, locale=locale)
    return text.replace("\u00a0", " ").replace("\u202f", " ").lower()


def random_date(rng: random.Random) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=rng.randrange((LAST_DAY - FIRST_DAY).days + 1))


def generate_date_pairs(n: int, seed: int = 0, languages: Sequence[str] = tuple(LANGUAGES)) -> list[tuple[str, str]]:
    """``n`` distinct (written date, ISO date) pairs, drawn with ``seed``: a random date in
    1969–2068 written in a random format of the chosen ``languages``."""
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown or not languages:
        raise ValueError(f"choose languages among {', '.join(LANGUAGES)}")
    formats = [f for f in DATE_FORMATS if f[0] in languages]
    rng = random.Random(seed)
    pairs: dict[str, str] = {}
    tries = 0
    while len(pairs) < n:
        tries += 1
        if tries > 20 * n + 1000:
            raise ValueError(f"could not draw {n} different dates")
        date = random_date(rng)
        _, locale, pattern = rng.choice(formats)
        pairs.setdefault(format_human(date, locale, pattern), date.isoformat())
    return list(pairs.items())
