"""Widgets built from a config's declared settings (:mod:`core.settings`), and the one way a page
turns a submitted form into a config and a started job.

``form.field(col, DetectorConfig, "epochs", key=...)`` draws the widget the field declares, with its
label, help, range, step and default, so the page and core share one set of limits.
``form.start(job, fn, lambda: DetectorConfig(...), name=...)`` builds the config, shows the plain
message when a value is refused, and starts the job otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import streamlit as st

from core.settings import Setting, default_of, meta
from ui import jobs


def widget_kind(s: Setting, value: Any) -> str:
    """The widget a setting is drawn with: declared, or inferred from its default."""
    if s.widget:
        return s.widget
    if s.options is not None:
        return "select_slider"
    if isinstance(value, bool):
        return "toggle"
    if s.choices is not None:
        return "multiselect" if isinstance(value, (tuple, list)) else "select"
    if isinstance(value, str):
        return "text"
    return "number"


def _number(x: float | None, like: Any) -> Any:
    if x is None:
        return None
    return float(x) if isinstance(like, float) else int(x)


def field(where: Any, cfg: type, name: str, *, key: str, value: Any = None, label: str | None = None,
          options: Any = None, **kw: Any) -> Any:
    """Draw field ``name`` of config class ``cfg`` in ``where`` (``st``, a column, a form) and return its
    value. ``value`` overrides the declared default (a page's remembered choice); ``options`` narrows a
    choice's list (a subset of the allowed values); ``label`` replaces the label where the page's layout
    says it already (a table header); other keywords go to Streamlit (``disabled``, ``label_visibility``,
    ``format_func``, …)."""
    s = meta(cfg, name)
    value = default_of(cfg, name) if value is None else value
    kind = widget_kind(s, value)
    text = s.label if label is None else label
    common: dict[str, Any] = {"key": key, **({"help": s.help} if s.help else {}), **kw}
    if s.labels is not None and kind not in ("number", "slider", "toggle", "checkbox", "text"):
        common.setdefault("format_func", s.label_of)
    if kind in ("number", "slider"):
        lo, hi = _number(s.lo, value), _number(s.hi, value)
        step = _number(s.step, value) if s.step is not None else None
        extra = {"format": s.fmt} if s.fmt and "format" not in kw else {}
        if kind == "number":
            return where.number_input(text, min_value=lo, max_value=hi, value=value, step=step, **extra, **common)
        return where.slider(text, min_value=lo, max_value=hi, value=value, step=step, **extra, **common)
    choices = list(options) if options is not None else list(s.allowed() or ())
    if kind == "select_slider":
        return where.select_slider(text, options=choices, value=value, **common)
    if kind == "select":
        return where.selectbox(text, choices, index=choices.index(value) if value in choices else 0, **common)
    if kind == "radio":
        return where.radio(text, choices, index=choices.index(value) if value in choices else 0, **common)
    if kind == "multiselect":
        return tuple(where.multiselect(text, choices, default=[v for v in value if v in choices], **common))
    if kind == "segmented":  # several of a few choices, as one row of buttons
        picked = where.segmented_control(text, choices, selection_mode="multi",
                                         default=[v for v in value if v in choices], **common)
        return tuple(v for v in choices if v in (picked or ()))
    if kind == "toggle":
        return where.toggle(text, value=bool(value), **common)
    if kind == "checkbox":
        return where.checkbox(text, value=bool(value), **common)
    return where.text_input(text, value=str(value), **common)


def fields(cfg: type, rows: Iterable[tuple], *, keys: Mapping[str, str] | str) -> dict[str, Any]:
    """Several fields of ``cfg`` laid out at once: ``rows`` holds ``(where, name)`` or ``(where, name, {kwargs})``;
    each widget's key is ``keys[name]`` (a mapping) or ``keys + name`` (a prefix). Returns ``{name: value}``,
    ready for ``cfg(**values, ...)``."""
    out: dict[str, Any] = {}
    for where, name, *rest in rows:
        key = keys[name] if isinstance(keys, Mapping) else f"{keys}{name}"
        out[name] = field(where, cfg, name, key=key, **(rest[0] if rest else {}))
    return out


def submit(label: str, job: str, *, icon: str | None = ":material/play_arrow:", where: Any = st) -> bool:
    """A form's primary submit button that starts ``job``; disabled while that job runs."""
    return where.form_submit_button(label, type="primary", icon=icon, disabled=jobs.is_active(job))


def start(job: str, fn: Callable[[Any, Any], Any], build: Callable[[], Any], *,
          name: str | Callable[[Any], str] = "") -> Any | None:
    """The form → config → message → job sequence: build the config with ``build()``; a refused
    value (``ValueError``) is shown as the page's error and nothing starts; otherwise the job starts
    (``name`` may be a function of the config). Returns the config, or None when it was refused."""
    try:
        cfg = build()
    except ValueError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    jobs.start(job, fn, cfg, name=name(cfg) if callable(name) else name)
    return cfg
