"""What an exported set-up is made of: cells (explanation or code), written out as a Jupyter notebook
(nbformat 4) or as one ``.py`` file whose cells are marked ``# %%`` (the cell marker VS Code, Spyder and
Jupytext read), the explanations turned into comments.

A template (:mod:`core.export.playground`, :mod:`core.export.race`, :mod:`core.export.cnn`) fills code
with a set-up's values through :func:`code`, which writes every value with ``repr`` so a string from a
config can never break out of its quotes.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from string import Template
from typing import Any

import nbformat

KINDS = ("markdown", "code")


@dataclass(frozen=True)
class Cell:
    """One notebook cell: ``kind`` is "markdown" (our explanation) or "code"."""

    kind: str
    text: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a cell is markdown or code, not {self.kind!r}")


def md(text: str) -> Cell:
    """An explanation cell (the text is dedented and stripped)."""
    return Cell("markdown", textwrap.dedent(text).strip())


def code(text: str, **values: Any) -> Cell:
    """A code cell from ``text`` (dedented) with each ``$name`` replaced by ``repr(values[name])``;
    raises ``ValueError`` naming a placeholder without a value."""
    try:
        body = Template(textwrap.dedent(text).strip()).substitute({k: repr(v) for k, v in values.items()})
    except KeyError as exc:
        raise ValueError(f"no value for the placeholder ${exc.args[0]}") from exc
    return Cell("code", body)


@dataclass(frozen=True)
class Export:
    """A set-up as code: ``name`` is the file stem of the downloads, ``title`` the first heading."""

    name: str
    title: str
    cells: tuple[Cell, ...]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name):
            raise ValueError("an export's name is letters, digits, - and _ only")
        if not any(c.kind == "code" for c in self.cells):
            raise ValueError("an export needs at least one code cell")

    def notebook(self) -> str:
        """The set-up as a Jupyter notebook (nbformat 4 JSON, python3 kernel)."""
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        cells = [md(f"# {self.title}"), *self.cells]
        nb.cells = [nbformat.v4.new_markdown_cell(c.text) if c.kind == "markdown" else nbformat.v4.new_code_cell(c.text)
                    for c in cells]
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"cell-{i}"  # stable ids: the same set-up gives the same file
        nbformat.validate(nb)
        return nbformat.writes(nb)

    def script(self) -> str:
        """The same cells as one Python file; explanations become ``#`` comments."""
        parts = [f'"""{self.title}\n\nExported from the Deep Learning Lab; run it with: python {self.name}.py\n"""']
        for c in self.cells:
            if c.kind == "markdown":
                parts.append("# %% [markdown]\n" + "\n".join(f"# {line}".rstrip() for line in c.text.splitlines()))
            else:
                parts.append("# %%\n" + c.text)
        return "\n\n".join(parts) + "\n"
