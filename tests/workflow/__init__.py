"""Workflow tests: Temporal workflows on the time-skipping test server (or the dev server)."""
