"""Deep Learning Lab engine: everything the pages compute, with no Streamlit inside.

Importable and testable on its own. Pages and ``ui`` call into it; it never calls back.
"""
