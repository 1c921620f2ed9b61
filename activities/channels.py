"""Delivery channels for notices: e-mail over SMTP, SMS through a gateway.

Settings come from the environment. Without SMTP settings, e-mail is written
as .eml files under var/mail-outbox/ (the embedded default), and SMS goes to
a JSON-lines file outbox that a real gateway adapter would replace.
"""

from __future__ import annotations

import json
import re
import smtplib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.header import Header
from email.message import Message as EmailMessage
from email.policy import SMTPUTF8
from email.utils import formatdate
from pathlib import Path
from typing import Protocol

from privacy.files import appending, write_private
from runtime.paths import VAR


class DeliveryError(Exception):
    """A notice not delivered: a reason code and a detail that names no one.

    The message travels into the log, into Temporal's activity failure and into the
    case's `NoticeFailed.reason`, none of which is sealed per person: a mail
    server's answer often repeats the address, so only its numeric codes are kept.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code} ({detail})" if detail else code)


def delivery_code(message: str) -> str:
    """The code a DeliveryError's message begins with (`recipient-refused (SMTP 550)`),
    as it arrives in a Temporal ApplicationError."""
    return message.split(" ", 1)[0]


# A refusal of the mail server's own setup (a failed login, a refused sender, a refused
# greeting): fixed by ops, then the same address works, and until then every message
# would be refused alike. A message refused later (`mail-refused`, e.g. at DATA) may be
# refused for itself or its recipient.
SETUP_REFUSED = "mail-setup-refused"
# The SMTP answers that refuse the center's own setup (its login, its sender, its greeting).
_SETUP_ERRORS = (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused, smtplib.SMTPHeloError)
# Refusals about the address itself, not the mail server's setup.
ADDRESS_REFUSALS = frozenset(
    {"recipient-refused", "address-invalid", "address-not-ascii", "no-usable-contact"}
)


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: a refused address, no usable contact."""


class TemporaryDeliveryError(DeliveryError):
    """The mail server is away or says to try again: retried, then recorded."""


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    message_id: str  # derived from the command id, so a receiver can drop a duplicate


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    sender: str = "minwon@localhost"
    timeout: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings | None:
        host = env.get("MINWON_SMTP_HOST")
        if not host:
            return None
        return cls(
            host=host,
            port=int(env.get("MINWON_SMTP_PORT", "25")),
            user=env.get("MINWON_SMTP_USER") or None,
            password=env.get("MINWON_SMTP_PASSWORD") or None,
            starttls=env.get("MINWON_SMTP_STARTTLS", "") in ("1", "true", "yes"),
            sender=env.get("MINWON_MAIL_FROM", cls.sender),
        )


def email_message(
    sender: str, to: str, message: Message, *, utf8: bool = False
) -> EmailMessage[str, str | Header]:
    """The e-mail of a notice: UTF-8, body in base64 (7-bit clean for any relay),
    a subject that is not ASCII RFC 2047-encoded (`utf8`: left as it is, for a server
    that takes SMTPUTF8).

    Built with the `email` package's compat32 API: the header registry of its newer
    one parses and refolds every header, five times the cost, and at a deadline
    peak the worker builds thousands of these.
    """
    mail: EmailMessage[str, str | Header] = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    subject = message.subject
    mail["Subject"] = (
        subject if subject.isascii() or utf8 else Header(subject, "utf-8", header_name="Subject")
    )
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = f"<{message.message_id}@minwon>"
    mail.set_payload(message.body, "utf-8")
    return mail


def smtp_address(address: str) -> str:
    """The address as mail servers take it: a domain that is not ASCII (한국.kr) in its
    IDNA form, which every server takes. A local part that is not ASCII stays as it is:
    only a server that offers SMTPUTF8 (RFC 6531) takes it."""
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        raise PermanentDeliveryError("address-invalid", "the domain is no valid name") from None


class EmailSender(Protocol):
    def send(self, to: str, message: Message) -> None: ...


class SmtpEmail:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, to: str, message: Message) -> None:
        s = self.settings
        address = smtp_address(to)
        international = not address.isascii()
        mail = email_message(s.sender, address, message, utf8=international)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout) as smtp:
                if s.starttls:
                    smtp.starttls()
                if s.user and s.password:
                    smtp.login(s.user, s.password)
                if not international:
                    smtp.send_message(mail)
                    return
                smtp.ehlo_or_helo_if_needed()
                if not smtp.has_extn("smtputf8"):
                    raise PermanentDeliveryError(
                        "address-not-ascii", "the mail server does not offer SMTPUTF8"
                    )
                smtp.sendmail(
                    s.sender,
                    [address],
                    mail.as_bytes(policy=SMTPUTF8),
                    mail_options=["SMTPUTF8", "BODY=8BITMIME"],
                )
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({str(answer[0]) for answer in error.recipients.values()})
            raise PermanentDeliveryError("recipient-refused", f"SMTP {', '.join(codes)}") from None
        except smtplib.SMTPResponseException as error:
            detail = f"SMTP {error.smtp_code}{_enhanced_status(error.smtp_error)}"
            if error.smtp_code < 500:
                raise TemporaryDeliveryError("mail-deferred", detail) from None
            # A refusal of the center's own setup (before any recipient) has its own code:
            # every message would be refused alike.
            code = SETUP_REFUSED if isinstance(error, _SETUP_ERRORS) else "mail-refused"
            raise PermanentDeliveryError(code, detail) from None
        except (smtplib.SMTPException, OSError) as error:
            raise TemporaryDeliveryError("mail-server-unreachable", type(error).__name__) from None


def _enhanced_status(answer: bytes | str) -> str:
    """The enhanced status code (RFC 3463, e.g. 5.1.1) of a server's answer, if any:
    the rest of the answer may repeat the address."""
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer
    found = re.match(r"\s*([245]\.[0-9]{1,3}\.[0-9]{1,3})\b", text)
    return f" {found.group(1)}" if found else ""


class FileEmail:
    """The embedded default: each e-mail an .eml file, named by its message id."""

    def __init__(self, folder: Path, sender: str = "minwon@localhost") -> None:
        self.folder = folder
        self.sender = sender

    def send(self, to: str, message: Message) -> None:
        path = self.folder / f"{message.message_id}.eml"
        write_private(path, email_message(self.sender, to, message).as_bytes())


class SmsGateway(Protocol):
    def send(self, to: str, message: Message) -> None: ...


class FileSmsOutbox:
    """JSON lines a gateway adapter picks up; the embedded default."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def send(self, to: str, message: Message) -> None:
        record = {"to": to, "id": message.message_id, "text": f"{message.subject}\n{message.body}"}
        with self._lock, appending(self.path) as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class Channels:
    email: EmailSender
    sms: SmsGateway

    @classmethod
    def from_env(cls, env: Mapping[str, str], var: Path = VAR) -> Channels:
        smtp = SmtpSettings.from_env(env)
        mail_folder = Path(env.get("MINWON_MAIL_OUTBOX") or var / "mail-outbox")
        email: EmailSender = SmtpEmail(smtp) if smtp else FileEmail(mail_folder)
        sms_path = Path(env.get("MINWON_SMS_OUTBOX") or var / "sms-outbox.jsonl")
        return cls(email=email, sms=FileSmsOutbox(sms_path))
