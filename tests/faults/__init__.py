"""Fault tests: killed workers and servers, dropped connections, floods, bad input."""
