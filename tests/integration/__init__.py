"""Integration tests: real SQLite/PostgreSQL stores, the API in process, the CLI, keys."""
