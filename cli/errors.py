"""The one exception a subcommand raises for a problem the user can fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.settings import Settings


class CliError(Exception):
    """Printed as one line on stderr; the process exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def server_settings() -> Settings:
    """The settings of a command run on the server's host (`minwon admin …`), read once;
    a value that does not parse is the user's to fix."""
    from runtime.settings import Settings, SettingsError

    try:
        return Settings.load()
    except SettingsError as error:
        raise CliError(str(error)) from None
