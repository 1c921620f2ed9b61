"""The web: an HTTP API (FastAPI, documented by its OpenAPI schema) and server-rendered pages.

`web.app.create_app()` builds the application; `python -m web` serves it alone,
`worker.py --dev` serves it beside the embedded stack (`make run`).
"""
