"""`python -m web`: serve the API and the pages alone, next to workers elsewhere.

Temporal and the event store come from the same environment variables as the
worker (TEMPORAL_ADDRESS, MINWON_PAYLOAD_KEY, PERSISTENCE_MODULE …); without a
payload key the embedded stack's key file is used, as `minwon` does.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from privacy.files import private_umask
from runtime.settings import Settings, SettingsError
from web.app import create_app
from workflows.client import exit_without_finalizing


def main() -> int:
    # The store (SQLite) and the dev keys this process may create are this user's alone.
    private_umask()
    try:
        settings = Settings.load()
    except SettingsError as error:
        print(f"python -m web: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m web", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=settings.web_host)
    parser.add_argument("--port", type=int, default=settings.web_port)
    args = parser.parse_args()
    app = create_app(settings=settings, dev=not settings.has_payload_key)
    # The proxies whose X-Forwarded-For is believed are MINWON_TRUSTED_PROXIES, in the
    # app (`web.app.trusted_proxies`), not uvicorn's default of 127.0.0.1.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False)
    return 0


if __name__ == "__main__":
    exit_without_finalizing(main())
