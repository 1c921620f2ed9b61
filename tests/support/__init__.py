"""What several kinds of tests share, so no test module imports another."""
