"""Deep Learning Lab: the router. Run with ``make run`` (or ``streamlit run app.py``)."""

import streamlit as st

from ui import auth, shell

st.set_page_config(page_title="Deep Learning Lab", page_icon="🧪", layout="wide")
auth.gate()  # class mode: nothing below runs until someone is signed in (a laptop passes straight on)
page = shell.navigation()
notice = shell.startup()
if notice and not st.session_state.get("global.startup_noticed"):
    st.session_state["global.startup_noticed"] = True  # once per session, not at every rerun
    st.toast(notice)
auth.sidebar()
shell.sidebar()
page.run()
