"""The "export as code" buttons under a training form: the set-up the learner last trained as a Jupyter
notebook and as a ``.py`` (:mod:`core.export`), both plain PyTorch with the same seed.

A page remembers the config its form submitted (``export.remember(key, form.start(...))``) and draws the
buttons under the form (``export.buttons(key)``); the playground, which has no form, passes its network's
set-up directly (``export.buttons(key, cfg, epochs=...)``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.export.builder import export, exportable
from core.export.notebook import Export

CAPTION = ("This training's set-up as code: plain PyTorch with the same data, network, training loop and seed. "
           "Open the notebook in Jupyter (or run the .py with Python); it explains each step and ends with the "
           "final numbers of the tracked run. **Try:** change one line and see what it does.")


def remember(key: str, cfg: Any) -> None:
    """Keep ``cfg`` as the set-up ``key``'s buttons offer (``None``, a refused form, keeps the last one)."""
    if cfg is not None:
        st.session_state[f"{key}.export_cfg"] = cfg


def _built(key: str, cfg: Any, options: dict[str, Any]) -> tuple[Export, str, str]:
    """The export of ``cfg`` with its two files, built once per set-up and kept in the session."""
    kept = st.session_state.get(f"{key}.export_built")
    if kept is not None and kept[0] == (cfg, options):
        return kept[1]
    ex = export(cfg, **options)
    files = (ex, ex.notebook(), ex.script())
    st.session_state[f"{key}.export_built"] = ((cfg, options), files)
    return files


def buttons(key: str, cfg: Any = None, *, where: Any = st, **options: Any) -> None:
    """Download buttons for ``cfg`` (default: the set-up remembered for ``key``); nothing before a first
    training or for a kind of set-up no template covers; a set-up a template cannot reproduce (a playground
    setting it does not know yet) gets one line saying so. ``options`` go to the
    template (the playground's ``epochs``)."""
    cfg = cfg if cfg is not None else st.session_state.get(f"{key}.export_cfg")
    if cfg is None or not exportable(cfg):
        return
    try:
        ex, notebook, script = _built(key, cfg, options)
    except ValueError as exc:
        where.caption(f"Export as code: {exc}.")
        return
    c1, c2 = where.columns(2)
    c1.download_button("Download as a notebook (.ipynb)", notebook, f"{ex.name}.ipynb", mime="application/x-ipynb+json",
                       key=f"{key}.export_nb", on_click="ignore", icon=":material/code:")
    c2.download_button("Download as Python (.py)", script, f"{ex.name}.py", mime="text/x-python",
                       key=f"{key}.export_py", on_click="ignore", icon=":material/description:")
    where.caption(CAPTION)
