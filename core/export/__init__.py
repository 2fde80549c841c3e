"""Any training set-up as code: a Jupyter notebook and a ``.py`` that reproduce it with plain PyTorch
(data, model, loop, the same seed), explained cell by cell.

:func:`core.export.builder.export` picks the template for the config's type (:mod:`.playground`,
:mod:`.race`, :mod:`.cnn`, :mod:`.regularization`, :mod:`.charlm`, :mod:`.tagging`, :mod:`.vae`,
:mod:`.toygan`; shared cells in :mod:`.snippets`); the :class:`~core.export.notebook.Export`
it returns writes the notebook and the script. Each notebook ends with ``final``: the tracked run's
final metrics under the same names.
"""
