"""A real SMTP server in the test process (aiosmtpd) and the mailbox behind it."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from activities.channels import FileEmail, Message, SmtpSettings, TemporaryDeliveryError
from tests.support.processes import free_port


class Mailbox:
    """An SMTP server's handler: keeps every message, or refuses them all."""

    def __init__(self, refuse_with: str | None = None) -> None:
        self.refuse_with = refuse_with
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[list[str], bool]] = []  # recipients, SMTPUTF8 asked
        self.attempts = 0

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        self.attempts += 1
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(message)
        self.envelopes.append((envelope.rcpt_tos, envelope.smtp_utf8))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.received if m["To"] == address]


def smtp_server(
    mailbox: Mailbox, *, smtputf8: bool = False, password: str | None = None
) -> Iterator[SmtpSettings]:
    """`smtputf8`: the server offers SMTPUTF8 (RFC 6531), as aiosmtpd does only if told.
    `password`: the server offers AUTH (without TLS, on the loopback) and takes the
    center's account only with this password; the settings yielded log in with
    `ansim` and it."""
    port = free_port()
    auth: dict[str, object] = {}
    if password is not None:

        def check(server, session, envelope, mechanism, data) -> AuthResult:  # type: ignore[no-untyped-def]
            # `handled=False`: the server answers a refusal itself (535).
            return AuthResult(success=data.password == password.encode(), handled=False)

        auth = {"authenticator": check, "auth_require_tls": False}
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8, **auth
    )
    controller.start()
    try:
        yield SmtpSettings(
            host="127.0.0.1",
            port=port,
            sender="minwon@ansim.example",
            user="ansim" if password is not None else None,
            password=password,
        )
    finally:
        controller.stop()


class DownableMail(FileEmail):
    """Files each e-mail, or answers as a mail server that is down does (`down`)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.down = False

    def send(self, to: str, message: Message) -> None:
        if self.down:
            raise TemporaryDeliveryError("connection-refused", "the mail server is down")
        super().send(to, message)
