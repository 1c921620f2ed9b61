"""A notice's e-mail as it goes on the wire: 7-bit clean, lines within RFC 5322's 78,
and read back by a standard parser as the text that was written."""

from __future__ import annotations

import email
import email.policy

import pytest

from activities.channels import Message, email_message

LONG_SUBJECT = (
    "[민원 MW-2026-000123] 처리기한이 지났습니다 — 지정책임관에게 보고되었습니다. "
    "담당자와 지정책임관이 다시 살펴봅니다"
)
BODY = (
    "안녕하세요.\n접수하신 민원의 처리기한이 지났습니다.\n" * 8 + "URL: https://example.kr/s/abc\n"
)


@pytest.mark.parametrize("subject", [LONG_SUBJECT, "짧은 제목", "Receipt MW-2026-000123"])
def test_a_notice_email_is_seven_bit_with_short_lines_and_reads_back_as_written(
    subject: str,
) -> None:
    raw = email_message("minwon@localhost", "kim@example.kr", Message(subject, BODY, "m-1"))
    wire = raw.as_bytes()

    assert wire.isascii()
    assert max(len(line) for line in wire.splitlines()) <= 78
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert parsed["To"] == "kim@example.kr"
    assert parsed["Message-ID"] == "<m-1@minwon>"
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content() == BODY  # type: ignore[attr-defined]
