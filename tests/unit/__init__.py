"""Unit tests: the domain, policy and calendar rules alone (no store, no Temporal, no server)."""
