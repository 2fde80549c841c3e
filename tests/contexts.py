"""Job contexts for calling job functions directly in tests (no worker process)."""

from __future__ import annotations

from core.jobs import Recorder


class StopAfter(Recorder):
    """A :class:`core.jobs.Recorder` that presses Stop once ``series`` holds ``rows`` rows (any series
    with ``series=None``), as a learner would while watching the live view."""

    def __init__(self, series: str | None, rows: int, page: str = "direct") -> None:
        super().__init__(page)
        self.series, self.rows = series, rows

    def _emit(self, event: tuple) -> None:
        super()._emit(event)
        if event[0] == "push" and (self.series is None or event[1] == self.series):
            if len(self.state.metrics.get(event[1], [])) >= self.rows:
                self.cancel.cancel()
