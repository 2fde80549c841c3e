"""``python -m core.jobs``: the worker process the local runner starts beside the app."""

from core.jobs.worker import main

main()
