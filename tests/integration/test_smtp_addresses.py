"""E-mail addresses that are not ASCII, sent to a real SMTP server (aiosmtpd).

A Korean domain goes out in its IDNA form to any server; a local part
that is not ASCII goes out only to a server that offers SMTPUTF8, and to one that does
not it is a permanent failure at once, not a retry that can never succeed.
"""

from __future__ import annotations

import dataclasses

import pytest

from activities.channels import Message, PermanentDeliveryError, SmtpEmail
from tests.support.mail import Mailbox, smtp_server

NOTICE = Message(subject="[민원] 답변 안내", body="답변이 등록되었습니다.", message_id="n-1")


def test_a_korean_domain_goes_out_in_its_idna_form_to_any_server() -> None:
    mailbox = Mailbox()
    for settings in smtp_server(mailbox):
        SmtpEmail(settings).send("resident@한국.kr", NOTICE)

    [(recipients, utf8)] = mailbox.envelopes
    assert recipients == ["resident@xn--3e0b707e.kr"] and utf8 is False
    [mail] = mailbox.received
    assert mail["To"] == "resident@xn--3e0b707e.kr"
    assert mail["Subject"] == NOTICE.subject and mail.get_content().strip() == NOTICE.body


def test_a_local_part_that_is_not_ascii_goes_out_with_smtputf8() -> None:
    mailbox = Mailbox()
    for settings in smtp_server(mailbox, smtputf8=True):
        SmtpEmail(settings).send("홍길동@한국.kr", NOTICE)

    [(recipients, utf8)] = mailbox.envelopes
    assert recipients == ["홍길동@xn--3e0b707e.kr"] and utf8 is True
    [mail] = mailbox.received
    assert mail["To"] == "홍길동@xn--3e0b707e.kr"
    assert mail["Subject"] == NOTICE.subject and mail.get_content().strip() == NOTICE.body


def test_to_a_server_without_smtputf8_such_an_address_fails_at_once_and_sends_nothing() -> None:
    mailbox = Mailbox()
    for settings in smtp_server(mailbox):
        with pytest.raises(PermanentDeliveryError) as refused:
            SmtpEmail(settings).send("홍길동@example.org", NOTICE)

    assert refused.value.code == "address-not-ascii"
    assert "홍길동" not in str(refused.value)  # the reason names no one
    assert mailbox.attempts == 0 and mailbox.received == []


def test_a_domain_that_is_no_valid_name_fails_at_once_and_sends_nothing() -> None:
    mailbox = Mailbox()
    for settings in smtp_server(mailbox, smtputf8=True):
        with pytest.raises(PermanentDeliveryError) as refused:
            # A label of 70 characters: longer than a domain name's 63.
            SmtpEmail(settings).send("resident@" + "가" * 70 + ".kr", NOTICE)

    assert refused.value.code == "address-invalid"
    assert mailbox.attempts == 0 and mailbox.received == []


def test_a_failed_login_is_a_refusal_of_the_servers_setup_and_sends_nothing() -> None:
    """The center's account refused (SMTP 535): `mail-setup-refused`, which the survey
    takes as "every message would be refused alike"; a message refused at DATA stays
    `mail-refused` (it may be refused for itself or its recipient)."""
    mailbox = Mailbox()
    for settings in smtp_server(mailbox, password="right"):
        SmtpEmail(settings).send("resident@example.org", NOTICE)
        wrong = dataclasses.replace(settings, password="wrong")
        with pytest.raises(PermanentDeliveryError) as refused:
            SmtpEmail(wrong).send("resident@example.org", NOTICE)
    assert refused.value.code == "mail-setup-refused"
    assert str(refused.value).startswith("mail-setup-refused (SMTP 535")
    assert mailbox.attempts == 1 and len(mailbox.received) == 1

    at_data = Mailbox(refuse_with="554 5.7.1 Message refused")
    for settings in smtp_server(at_data):
        with pytest.raises(PermanentDeliveryError) as refused:
            SmtpEmail(settings).send("resident@example.org", NOTICE)
    assert refused.value.code == "mail-refused"
