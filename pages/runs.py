"""Runs: every tracked training run of the lab, filtered, compared and exported."""

from ui.runs import page

page.main()
