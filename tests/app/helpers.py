"""Helpers for driving pages with Streamlit's AppTest."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def page(name: str, timeout: float = 60) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=timeout)


def by_label(elements, label: str):
    found = [e for e in elements if e.label == label]
    assert found, f"no element labelled {label!r}; have {[e.label for e in elements]}"
    return found[0]


def texts(at: AppTest) -> str:
    """All visible text of messages, markdown and captions, for assertions."""
    parts = []
    for kind in ("success", "info", "warning", "error", "markdown", "caption", "toast"):
        parts += [str(e.value) for e in at.get(kind)]
    return "\n".join(parts)


def run_until(at: AppTest, predicate, timeout: float = 120, every: float = 0.5) -> AppTest:
    """Rerun the page (as the job panel's auto-refresh would) until ``predicate(at)``."""
    end = time.time() + timeout
    while time.time() < end:
        at.run()
        assert not at.exception, at.exception
        if predicate(at):
            return at
        time.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s; page says:\n{texts(at)}")


def chart(at: AppTest, title: str) -> dict:
    """The Plotly spec of the page's chart whose title contains ``title``."""
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if title in json.dumps(spec.get("layout", {}).get("title", ""), ensure_ascii=False):
            return spec
    raise AssertionError(f"no chart titled {title!r}")


def plotly_array(value) -> np.ndarray:
    """A Plotly array from a figure's JSON: a list, or a typed array ``{dtype, bdata, shape}``."""
    if isinstance(value, dict):
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return arr.reshape([int(s) for s in str(value.get("shape", len(arr))).split(",")])
    return np.asarray(value)
