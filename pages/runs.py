"""Runs: every tracked training run of the lab, filtered, compared and exported."""

from ui import challenges
from ui.runs import page

page.main()
challenges.block("runs")
