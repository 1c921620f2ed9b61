"""The `minwon` command line: one module per group of subcommands."""
