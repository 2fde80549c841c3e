"""Deep Learning Lab: the router. Run with ``make run`` (or ``streamlit run app.py``)."""

import streamlit as st

from ui import shell

st.set_page_config(page_title="Deep Learning Lab", page_icon="🧪", layout="wide")
page = shell.navigation()
notice = shell.startup()
if notice:
    st.toast(notice)
shell.sidebar()
page.run()
