"""Adapters over eventsourcing's datastores that are not events: tables of our own in
the same SQLite file or PostgreSQL schema (`store.tables`), used by the person keys
(privacy/) and the residents' rate limits (web/)."""
