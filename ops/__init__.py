"""Operations: starting the services class mode needs (PostgreSQL, an MLflow tracking server,
Redis, job workers) on this machine, for ``make class`` and the classroom tests."""
