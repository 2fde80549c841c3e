"""Tables the way every page shows them: a result table and a button that downloads it as CSV."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st


def csv_button(where: Any, label: str, table: pd.DataFrame | list[dict[str, Any]], file: str, key: str, **kw: Any) -> None:
    """A download button for ``table`` (a DataFrame or a list of row dicts) as UTF-8 CSV
    without the index, drawn in ``where`` (``st`` or a column); ``key`` is the full widget key."""
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    where.download_button(label, frame.to_csv(index=False).encode(), file, "text/csv", key=key, **kw)


def table_with_csv(table: pd.DataFrame, label: str, file: str, key: str, *, column_config: dict[str, Any] | None = None,
                   caption: str | None = None) -> None:
    """The table, an optional caption under it, then a button to download it as CSV."""
    st.dataframe(table, hide_index=True, width="stretch", column_config=column_config)
    if caption:
        st.caption(caption)
    csv_button(st, label, table, file, key)
