"""End-to-end tests: the whole stack as `make run` serves it, processes, headless Chromium."""
