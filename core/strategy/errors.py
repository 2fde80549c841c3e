"""Error analysis: tag misclassified dev examples by category and count them.

The share of examined errors that fall into a category is the *ceiling* on what fixing
that category can give: if a share ``s`` of the errors are blurry images, even a perfect
fix for blurry images cuts the dev error ``e`` only to ``e · (1 − s)``. An example may
carry several categories, so the shares can add up to more than 100 %.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from core.tags import TAG_SUMMARY

BUILTIN_CATEGORIES = ("blurry/ambiguous", "looks like the predicted digit", "mislabelled", "unusual stroke")
FIXED_COLUMNS = ("example", "true", "predicted", "confidence")
MAX_CATEGORY_LEN = 40
MAX_CATEGORIES = 12


def add_category(categories: Sequence[str], name: str) -> tuple[str, ...]:
    """``categories`` with ``name`` added (trimmed); ``ValueError`` with a plain message when
    it is empty, too long, already there, or would clash with a column of the table."""
    name = " ".join(str(name).split())
    if not name:
        raise ValueError("type a name for the new category")
    if len(name) > MAX_CATEGORY_LEN:
        raise ValueError(f"a category name can have at most {MAX_CATEGORY_LEN} characters")
    if name.lower() in {c.lower() for c in (*categories, *FIXED_COLUMNS)}:
        raise ValueError(f"there is already a column called {name!r}")
    if len(categories) >= MAX_CATEGORIES:
        raise ValueError(f"at most {MAX_CATEGORIES} categories")
    return (*categories, name)


def tag_table(
    examples: Sequence[Mapping[str, Any]], categories: Sequence[str], previous: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per misclassified example (``example``, ``true``, ``predicted``,
    ``confidence``) and one boolean column per category, all False — or, where
    ``previous`` (an earlier table of the same examples) has that column, its ticks."""
    table = pd.DataFrame([{c: ex[c] for c in FIXED_COLUMNS} for ex in examples], columns=list(FIXED_COLUMNS))
    for cat in categories:
        if previous is not None and cat in previous and len(previous) == len(table):
            table[cat] = previous[cat].fillna(False).astype(bool).to_numpy()
        else:
            table[cat] = False
    return table


def tally(table: pd.DataFrame, categories: Sequence[str], dev_error: float) -> pd.DataFrame:
    """Per category: ``errors`` (ticked examples), ``share`` of the examined errors, and the
    ``ceiling`` dev error if every error of that category were fixed (``dev_error · (1 −
    share)``), sorted by share, largest first. ``dev_error`` is a fraction in [0, 1]."""
    if not 0.0 <= dev_error <= 1.0:
        raise ValueError(f"the dev error must be a fraction between 0 and 1, got {dev_error:g}")
    n = len(table)
    rows = []
    for cat in categories:
        count = int(table[cat].fillna(False).astype(bool).sum()) if cat in table and n else 0
        share = count / n if n else 0.0
        rows.append({"category": cat, "errors": count, "share": share,
                     "gain": dev_error * share, "ceiling": dev_error * (1 - share)})
    out = pd.DataFrame(rows, columns=["category", "errors", "share", "gain", "ceiling"])
    return out.sort_values(["share", "category"], ascending=[False, True], kind="stable").reset_index(drop=True)


def untagged(table: pd.DataFrame, categories: Sequence[str]) -> int:
    """How many examples carry no category yet."""
    cats = [c for c in categories if c in table]
    if not cats or table.empty:
        return len(table)
    return int((~table[cats].fillna(False).astype(bool).any(axis=1)).sum())


def ceiling_sentence(row: Mapping[str, Any], dev_error: float) -> str:
    """"Fixing all 3 errors of 'x' would cut dev error from 9.0 % to 7.5 % at best."""
    n = int(row["errors"])
    return (f"Fixing all {n} error{'s' if n != 1 else ''} tagged '{row['category']}' would cut dev error "
            f"from {dev_error:.1%} to {row['ceiling']:.1%} at best.")


def tags_csv(table: pd.DataFrame) -> str:
    """The tag table as CSV text (categories as True/False columns)."""
    return table.to_csv(index=False)


def summary_tag(counts: pd.DataFrame, n_examined: int) -> dict[str, str]:
    """Run tags that summarise a tally: ``dll.error_analysis`` = "cat: k of n; …"."""
    parts = [f"{r.category}: {r.errors} of {n_examined}" for r in counts.itertuples() if r.errors]
    return {TAG_SUMMARY: "; ".join(parts) or "no category ticked", f"{TAG_SUMMARY}.examined": str(n_examined)}


# --------------------------------------------------------------- what the page shows

SAVED_MESSAGE = "Saved: the tags are kept with the run as error_analysis.csv."


def as_sentence(text: str) -> str:
    """A plain message as a sentence: first letter upper-case, a full stop at the end."""
    text = str(text)
    return f"{text[:1].upper()}{text[1:]}."


def error_summary(dev_error: float, n_errors: int, dev_size: int, shown: int) -> str:
    """One Markdown sentence on the classifier's dev error and how many mistakes are shown."""
    return (f"Dev error **{dev_error:.1%}**: {n_errors} of {dev_size:,} dev examples are wrong; "
            f"the {shown} most confident mistakes are shown.")


def example_captions(examples: Sequence[Mapping[str, Any]]) -> list[str]:
    """``"#example: true → predicted"`` per misclassified example."""
    return [f"#{e['example']}: {e['true']} → {e['predicted']}" for e in examples]


def editor_entry(
    entry: dict[str, Any] | None, examples: Sequence[Mapping[str, Any]], categories: Sequence[str]
) -> dict[str, Any]:
    """The state of one run's tag editor: ``cats`` (its columns), ``base`` (the table the editor
    starts from), ``latest`` (the last edited table) and ``ver`` (a version for the editor's key).

    ``entry`` itself is returned while its categories are ``categories``; otherwise (first time, or a
    category was added) a new table starts from the latest ticks, with the next version."""
    cats = tuple(categories)
    if entry is not None and entry["cats"] == cats:
        return entry
    base = tag_table(examples, cats, previous=entry["latest"] if entry else None)
    return {"cats": cats, "base": base, "latest": base, "ver": entry["ver"] + 1 if entry else 0}


def any_ticked(counts: pd.DataFrame) -> bool:
    """Whether a :func:`tally` counts at least one ticked error."""
    return int(counts["errors"].sum()) > 0


def ceiling_markdown(counts: pd.DataFrame, dev_error: float) -> str:
    """A Markdown list of :func:`ceiling_sentence` for every category with ticked errors."""
    return "\n".join(f"- {ceiling_sentence(r, dev_error)}" for r in counts.to_dict("records") if r["errors"])


def untagged_note(n: int) -> str:
    """A reminder that ``n`` examples carry no category yet."""
    return f"{n} example(s) have no category yet; an example may have several."
