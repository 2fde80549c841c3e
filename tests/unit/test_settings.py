"""Each setting declared once (core.settings): the validator against hand-worked cases, every config of
the lab walked field by field (its range accepted at both ends, refused just beyond, with one wording),
(tests/app/test_widgets.py checks every page's widgets against the fields they set)."""

from __future__ import annotations

import dataclasses
import importlib
import math
import pkgutil
from dataclasses import dataclass
from functools import cache

import pytest

import core
from core.settings import Setting, Settings, check_value, meta, setting, settings_of

OPTIONS = {"Adam": 1, "SGD": 2}


@dataclass(frozen=True)
class Demo(Settings):
    epochs: int = setting(5, lo=1, hi=60, label="Epochs")
    lr: float = setting(0.01, lo=0.0, hi=10.0, above=True, label="Learning rate α", name="the learning rate")
    optimizer: str = setting("Adam", choices=lambda: OPTIONS, label="Optimizer")
    width: int = setting(8, options=(4, 8, 16), label="Width")
    shapes: tuple[str, ...] = setting(("a",), choices=("a", "b", "c"), count=(1, 3), label="Shapes")
    hidden: tuple[int, ...] = setting((4,), lo=1, hi=64, count=(0, 3), label="Hidden units")
    n_train: int = setting(100, lo=10, hi=1000, label="Training examples")
    n_test: int = setting(10, lo=10, hi=1000, label="Test examples")

    def check(self) -> None:
        if self.n_test > self.n_train:
            raise ValueError("keep fewer test examples than training examples")


def test_a_valid_config_builds_and_each_field_is_checked_with_one_wording() -> None:
    assert Demo().epochs == 5
    cases = [
        (dict(epochs=0), "Epochs must be between 1 and 60"),
        (dict(epochs=61), "Epochs must be between 1 and 60"),
        (dict(lr=0.0), "the learning rate must be above 0 and at most 10"),
        (dict(lr=float("nan")), "the learning rate must be a number above 0 and at most 10"),
        (dict(optimizer="Lion"), "Optimizer: 'Lion' is not one of Adam, SGD"),
        (dict(width=5), "Width: 5 is not one of 4, 8, 16"),
        (dict(shapes=()), "Shapes: choose between 1 and 3"),
        (dict(shapes=("a", "z")), "Shapes: 'z' is not one of a, b, c"),
        (dict(hidden=(4, 65)), "Hidden units must be between 1 and 64"),
        (dict(hidden=(1, 2, 3, 4)), "Hidden units: choose between 0 and 3"),
        (dict(n_train=20, n_test=30), "keep fewer test examples than training examples"),  # check(), after the fields
        (dict(epochs=True), "Epochs must be a number between 1 and 60"),  # a bool is not a number here
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError) as info:
            Demo(**kwargs)
        assert str(info.value) == message, kwargs
    Demo(epochs=1, lr=10.0, optimizer="SGD", width=16, shapes=("a", "b", "c"), hidden=(), n_train=10, n_test=10)


def test_choices_are_read_when_checked_so_a_registry_can_grow() -> None:
    OPTIONS["Lion"] = 3
    try:
        assert Demo(optimizer="Lion").optimizer == "Lion"
    finally:
        del OPTIONS["Lion"]
    with pytest.raises(ValueError):
        Demo(optimizer="Lion")


def test_metadata_is_read_back() -> None:
    s = meta(Demo, "lr")
    assert isinstance(s, Setting) and (s.lo, s.hi, s.above) == (0.0, 10.0, True)
    assert list(settings_of(Demo)) == ["epochs", "lr", "optimizer", "width", "shapes", "hidden", "n_train", "n_test"]
    assert check_value(meta(Demo, "epochs"), 1e9) == "Epochs must be between 1 and 60"


# ----------------------------------------------------------------------------- every config of the lab


@cache
def configs() -> tuple[type, ...]:
    found = []
    for info in pkgutil.walk_packages(core.__path__, "core."):
        if info.name.startswith(("core.plots", "core.worker")) or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, Settings) and obj is not Settings
                    and obj.__module__ == module.__name__ and dataclasses.is_dataclass(obj)):
                found.append(obj)
    return tuple(sorted(found, key=lambda c: (c.__module__, c.__name__)))


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__name__}"


def test_every_config_of_the_lab_is_declared_with_settings() -> None:
    """Every dataclass of core named ...Config (or holding a setting) validates through core.settings, and no
    config keeps a hand-written validator of its own."""
    assert len(configs()) >= 20
    loose = []
    for info in pkgutil.walk_packages(core.__path__, "core."):
        if info.name.startswith(("core.plots", "core.worker")) or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
                    and name.endswith("Config") and not issubclass(obj, Settings)):
                loose.append(_name(obj))
    assert not loose, f"configs that do not derive from core.settings.Settings: {loose}"
    own = [_name(c) for c in configs() if "__post_init__" in vars(c)]
    assert not own, f"configs with a __post_init__ of their own (use check()): {own}"
    bare = [_name(c) for c in configs() if not settings_of(c) and "check" not in vars(c)]
    assert not bare, f"configs that neither declare a setting nor check anything: {bare}"


def _beyond(value: float, up: bool, integer: bool) -> float:
    if integer:
        return value + 1 if up else value - 1
    step = max(abs(value) * 0.01, 1e-12)
    return value + step if up else value - step


def test_each_setting_takes_its_range_and_refuses_beyond_it() -> None:
    checked = 0
    for cls in configs():
        for name, s in settings_of(cls).items():
            default = next(f for f in dataclasses.fields(cls) if f.name == name)
            value = default.default if default.default is not dataclasses.MISSING else (
                default.default_factory() if default.default_factory is not dataclasses.MISSING else None)
            where = f"{_name(cls)}.{name}"
            if value is not None:
                assert check_value(s, value) is None, f"{where}: its default {value!r} is outside its own range"
            if s.lo is not None and s.hi is not None:
                assert s.lo <= s.hi, where
            sample = value[0] if isinstance(value, (tuple, list)) and value else value
            integer = isinstance(sample, int) and not isinstance(sample, bool)
            allowed = s.allowed()
            if allowed is not None:
                for v in allowed:
                    assert check_value(s, (v,) if isinstance(value, (tuple, list)) else v) is None, where
                assert check_value(s, "not a choice") is not None, where
                checked += 1
                continue
            wrap = (lambda v: (v,)) if isinstance(value, (tuple, list)) else (lambda v: v)
            if s.lo is not None:
                lo = s.lo if not s.above else _beyond(s.lo, True, integer)
                assert check_value(s, wrap(int(lo) if integer else lo)) is None, where
                below = s.lo if s.above else _beyond(s.lo, False, integer)
                assert check_value(s, wrap(below)) is not None, f"{where} takes {below}"
            if s.hi is not None:
                assert check_value(s, wrap(int(s.hi) if integer else s.hi)) is None, where
                above = _beyond(s.hi, True, integer)
                assert check_value(s, wrap(above)) is not None, f"{where} takes {above}"
            if s.lo is not None or s.hi is not None:
                assert check_value(s, wrap(math.nan)) is not None, where
                checked += 1
    assert checked >= 100  # the lab declares well over a hundred ranges and choices


def test_building_a_config_beyond_a_range_raises_the_one_message() -> None:
    tried = 0
    for cls in configs():
        try:
            cfg = cls()
        except TypeError:  # a config without defaults for every field
            continue
        for name, s in settings_of(cls).items():
            value = getattr(cfg, name)
            if s.hi is None or s.allowed() is not None or isinstance(value, (bool, tuple, list, str)):
                continue
            too_big = _beyond(s.hi, True, isinstance(value, int))
            with pytest.raises(ValueError) as info:
                dataclasses.replace(cfg, **{name: too_big})
            assert str(info.value) == check_value(s, too_big), f"{_name(cls)}.{name}"
            tried += 1
    assert tried >= 30
