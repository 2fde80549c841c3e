"""ML strategy: split the data, read bias and variance, pick a metric, analyse errors."""

from ui import shell
from ui.strategy import curves, diagnosis, errors, metrics, orthogonal, splits, views

runs, store_error = views.tracked_runs()  # read once a rerun, for the two tabs that use them


def _with_runs(render):
    def tab() -> None:
        views.store_warning(store_error)
        render(runs)

    return tab


shell.topic_page(
    "ML strategy",
    "Training is only half the work; the other half is deciding **what to try next**. This page turns that "
    "decision into numbers: how to split the data, how far training and dev errors are from human level, "
    "which single metric to optimize, and which kind of mistake is worth fixing. Every training here is small, "
    "real and tracked, so you can bring its numbers into the diagnosis.",
    {
        "Data splits": splits.render,
        "Bias and variance": _with_runs(diagnosis.render),
        "Learning curves": curves.render,
        "Metrics": _with_runs(metrics.render),
        "Error analysis": errors.render,
        "Orthogonalization": orthogonal.render,
    },
)
