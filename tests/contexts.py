"""Job contexts for calling job functions directly in tests (no worker process)."""

from __future__ import annotations

from core import tracking
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


class StopBetweenLanes(Recorder):
    """A :class:`core.jobs.Recorder` that presses Stop the moment the job's first tracked run has ended
    FINISHED: after the first lane's last step, before the next lane starts. Use it in a ``with``
    block (it listens to the tracking module's run events, as a worker does, until the block ends)."""

    def __enter__(self) -> StopBetweenLanes:
        tracking.set_run_listener(self._heard)
        return self

    def __exit__(self, *exc: object) -> None:
        tracking.set_run_listener(None)

    def _heard(self, run_id: str, uri: str, status: str) -> None:
        if status == "FINISHED":
            self.cancel.cancel()
