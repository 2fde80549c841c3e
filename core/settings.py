"""Each setting of the lab declared once: its default, range, label and help live in the config
dataclass's field metadata, one validator checks every config against them, and the UI builds its
widgets from the same metadata (:mod:`ui.form`), so a page's limits cannot drift from core's.

A config declares its fields with :func:`setting` and derives from :class:`Settings`::

    @dataclass(frozen=True)
    class DetectorConfig(Settings):
        epochs: int = setting(8, lo=1, hi=60, label="Epochs")
        lr: float = setting(3e-3, lo=1e-5, hi=1.0, label="Learning rate α", fmt="%g")
        optimizer: str = setting("Adam", choices=OPTIMIZERS, label="Optimizer")

        def check(self) -> None:  # only what one field cannot say on its own
            if self.n_test > self.n_train: ...

Building it runs :func:`validate` (every field against its metadata, with one wording for every
message) and then the config's own :meth:`Settings.check`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KEY = "dll.setting"
WIDGETS = ("number", "slider", "select_slider", "select", "radio", "multiselect", "segmented", "toggle", "checkbox",
           "text")


@dataclass(frozen=True)
class Setting:
    """What a field may hold and how a learner sets it.

    ``lo``/``hi`` bound a number (or, for a tuple of numbers, each of its items), inclusive unless
    ``above`` (then the value must be greater than ``lo``, as a learning rate is above 0).
    ``choices`` are the allowed values of a choice (a sequence, or a mapping whose keys are the
    values, or a function returning either — read when checked, so a registry can grow);
    ``options`` the discrete values a ``select_slider`` offers (they are also the allowed values).
    ``count`` bounds how many items a tuple holds. ``widget`` names the widget :mod:`ui.form`
    builds; by default it follows the value: a choice → select, a bool → toggle, a tuple of
    choices → multiselect, a number → number input. ``step`` and ``fmt`` go to the widget.
    ``name`` is how a message calls the setting when the label is not a phrase (default: the label).
    ``labels`` names the values of a choice for people (a mapping value → name, or a function): the
    widget shows the names, the config holds the values.
    """

    label: str
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    above: bool = False
    choices: Any = None
    options: tuple | None = None
    count: tuple[int, int] | None = None
    widget: str | None = None
    step: float | None = None
    fmt: str | None = None
    name: str | None = None
    labels: Any = None

    def label_of(self, value: Any) -> str:
        """How the widget names ``value``."""
        if self.labels is None:
            return str(value)
        if callable(self.labels):
            return str(self.labels(value))
        return str(self.labels.get(value, value))

    def allowed(self) -> tuple | None:
        """The values a choice may take, or None when any value of the type is allowed."""
        found = self.choices() if callable(self.choices) else self.choices
        if found is None:
            found = self.options
        if found is None:
            return None
        return tuple(found.keys()) if isinstance(found, Mapping) else tuple(found)

    def range_text(self) -> str:
        lo, hi = _num(self.lo), _num(self.hi)
        if self.lo is not None and self.hi is not None:
            return f"above {lo} and at most {hi}" if self.above else f"between {lo} and {hi}"
        if self.lo is not None:
            return f"above {lo}" if self.above else f"at least {lo}"
        return f"at most {hi}"

    @property
    def called(self) -> str:
        return self.name or self.label


def setting(default: Any = dataclasses.MISSING, *, label: str, help: str = "", lo: float | None = None,
            hi: float | None = None, above: bool = False, choices: Any = None, options: Sequence | None = None,
            count: tuple[int, int] | None = None, widget: str | None = None, step: float | None = None,
            fmt: str | None = None, name: str | None = None, labels: Any = None, factory: Callable[[], Any] | None = None,
            **field_kw: Any) -> Any:
    """A dataclass field that carries its :class:`Setting` (use it as the field's default)."""
    if widget is not None and widget not in WIDGETS:
        raise ValueError(f"unknown widget {widget!r}: one of {', '.join(WIDGETS)}")
    meta = Setting(label=label, help=help, lo=lo, hi=hi, above=above, choices=choices,
                   options=tuple(options) if options is not None else None, count=count, widget=widget,
                   step=step, fmt=fmt, name=name, labels=labels)
    metadata = {**field_kw.pop("metadata", {}), KEY: meta}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata, **field_kw)
    return dataclasses.field(default=default, metadata=metadata, **field_kw)


def meta(cls_or_cfg: Any, name: str) -> Setting:
    """The :class:`Setting` of field ``name`` of a config class (or instance)."""
    for f in dataclasses.fields(cls_or_cfg):
        if f.name == name:
            found = f.metadata.get(KEY)
            if found is None:
                raise KeyError(f"{type(cls_or_cfg).__name__}.{name} is not declared with setting()")
            return found
    raise KeyError(f"{getattr(cls_or_cfg, '__name__', type(cls_or_cfg).__name__)} has no field {name!r}")


def settings_of(cls_or_cfg: Any) -> dict[str, Setting]:
    """Every declared setting of a config, by field name, in declaration order."""
    return {f.name: f.metadata[KEY] for f in dataclasses.fields(cls_or_cfg) if KEY in f.metadata}


def default_of(cls: Any, name: str) -> Any:
    """The declared default of field ``name``."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int) or (isinstance(x, float) and x.is_integer() and abs(x) < 1e15):
        return f"{int(x):,}"
    return f"{x:g}"


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_value(s: Setting, value: Any) -> str | None:
    """Why ``value`` is not allowed for ``s`` (one sentence), or None when it is."""
    allowed = s.allowed()
    many = isinstance(value, (tuple, list))
    items: Iterable[Any] = value if many else (value,)
    if many and s.count is not None and not s.count[0] <= len(value) <= s.count[1]:
        lo, hi = s.count
        return (f"{s.called}: choose at least {lo}" if hi >= 10**6 else
                f"{s.called}: choose exactly {lo}" if lo == hi else f"{s.called}: choose between {lo} and {hi}")
    for item in items:
        if allowed is not None:
            if item not in allowed:
                shown = ", ".join(map(str, allowed))
                return f"{s.called}: {item!r} is not one of {shown}"
            continue
        if s.lo is None and s.hi is None:
            continue
        if not _is_number(item) or not math.isfinite(item):
            return f"{s.called} must be a number {s.range_text()}"
        if s.lo is not None and (item <= s.lo if s.above else item < s.lo):
            return f"{s.called} must be {s.range_text()}"
        if s.hi is not None and item > s.hi:
            return f"{s.called} must be {s.range_text()}"
    return None


def validate(cfg: Any) -> None:
    """Check every declared field of ``cfg``; raise ``ValueError`` with the first problem."""
    for f in dataclasses.fields(cfg):
        s = f.metadata.get(KEY)
        if s is None:
            continue
        problem = check_value(s, getattr(cfg, f.name))
        if problem:
            raise ValueError(problem)


class Settings:
    """Base of every config: building one validates it (:func:`validate`, then :meth:`check`)."""

    def __post_init__(self) -> None:
        validate(self)
        self.check()

    def check(self) -> None:
        """What the config needs beyond each field's own range (override; raise ``ValueError``)."""
