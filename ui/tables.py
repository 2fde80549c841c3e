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


def confusion_with_csv(counts: Any, classes: Any, key: str, *, title: str = "Confusion matrix (dev set)") -> None:
    """The confusion-matrix heatmap (rows = true class) and a button that downloads it as CSV
    (``key``: the page's prefix, e.g. ``"cnn"`` gives ``cnn.confusion`` and ``cnn.confusion_csv``)."""
    from core.plots.cnn import confusion_heatmap

    st.plotly_chart(confusion_heatmap(counts, classes, title=title), key=f"{key}.confusion")
    frame = pd.DataFrame(counts, index=list(classes), columns=list(classes))
    csv_button(st, "Download the confusion matrix (CSV)", frame.reset_index(names="true \\ predicted"),
               "confusion_matrix.csv", f"{key}.confusion_csv")
