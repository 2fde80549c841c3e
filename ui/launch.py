"""Start the lab: ``python -m ui.launch [streamlit run options]`` — what ``make run`` does.

Streamlit decides once per process whether to run its legacy multipage mode, by looking
for a ``pages/`` folder beside the entry script, and only a call of ``st.navigation``
turns that off. When the first visitor of a fresh server opens a deep link such as
``/optimizers``, Streamlit runs that page script alone — without app.py's navigation,
sidebar and start-up — and the whole process stays in the legacy mode. The lab routes
only with ``st.navigation`` (app.py), so the launcher says so before the server starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str] | None = None) -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
