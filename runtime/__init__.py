"""The composition root: where a process reads its settings (`runtime.settings`),
configures its logs (`runtime.logs`) and puts the worker together
(`runtime.worker`). Nothing imports `worker.py`, the entry point."""
