"""Temporal worker (written with the workflows)."""
