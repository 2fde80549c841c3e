"""Every page's widgets against the config fields they set (core.settings): a slider or number box has its
field's range, a choice offers only its field's values — so a page's limits cannot drift from core's."""

from __future__ import annotations

import math

import pytest

from core.settings import Setting, settings_of
from tests.app.helpers import page
from tests.unit.test_settings import configs

# page → the core packages whose configs its widgets set
PAGES = {
    "basics": ("core.basics",), "optimizers": ("core.optimizers",),
    "regularization": ("core.regularization", "core.training"), "strategy": ("core.strategy",),
    "cnn": ("core.cnn", "core.lr_finder"), "detection": ("core.detection",), "faces": ("core.faces",), "style": ("core.style",),
    "transfer": ("core.transfer", "core.lr_finder"), "rnn": ("core.rnn",), "seq2seq": ("core.seq2seq",),
    "generative": ("core.generative",),
}


def _declared(packages: tuple[str, ...]) -> dict[str, list[Setting]]:
    by_label: dict[str, list[Setting]] = {}
    for cls in configs():
        if cls.__module__.startswith(packages):
            for s in settings_of(cls).values():
                by_label.setdefault(s.label, []).append(s)
    return by_label


def _same(a, b) -> bool:
    return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_widget_has_the_range_of_the_field_it_sets(name: str) -> None:
    declared = _declared(PAGES[name])
    assert declared, f"no configs found for {name}"
    at = page(name, timeout=180)
    at.run()
    assert not at.exception, at.exception
    matched = 0
    for kind in ("slider", "number_input"):
        for w in at.get(kind):
            ranged = [s for s in declared.get(w.label, []) if s.lo is not None or s.hi is not None or s.count]
            if not ranged:
                continue
            assert any(_spans(w, s) for s in ranged), \
                f"{name}: {w.label!r} spans {w.min}–{w.max}, its field {[(s.lo, s.hi, s.count) for s in ranged]}"
            matched += 1
    for kind in ("select_slider", "selectbox", "multiselect", "radio"):
        for w in at.get(kind):
            chosen = [s for s in declared.get(w.label, []) if s.allowed() is not None]
            if not chosen:
                continue
            shown = {str(o) for o in w.options}
            assert any(shown <= _names(s) for s in chosen), \
                f"{name}: {w.label!r} offers {sorted(shown)}, its field {[sorted(_names(s)) for s in chosen]}"
            matched += 1
    assert matched >= 3, f"{name}: only {matched} widgets set a declared field"


def _spans(w, s: Setting) -> bool:
    """The widget's range is its field's: the values' range, or how many items a tuple holds (a slider of
    layers). A field without an upper bound (it depends on another field: the backbone's blocks) only fixes
    the start."""
    if s.count and _same(w.min, s.count[0]) and _same(w.max, s.count[1]):
        return True
    return _same(w.min, s.lo) and (s.hi is None or _same(w.max, s.hi))


def _names(s: Setting) -> set[str]:
    """How a widget may show the allowed values of ``s``: by their declared names, or as they are."""
    out = set()
    for a in s.allowed() or ():
        out |= {s.label_of(a), str(a)}
        if isinstance(a, float):
            out.add(f"{a:g}")
    return out
