"""Receipt codes: what residents are given, and what they may type back."""

from __future__ import annotations

import re
import uuid

import pytest

from domain.receipt import (
    ALPHABET,
    ReceiptCodeError,
    ReceiptIndex,
    new_receipt_code,
    normalise_receipt_code,
)

CODE_SHAPE = re.compile(r"MW-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")


def test_a_new_code_looks_like_mw_and_two_groups_of_five() -> None:
    for _ in range(200):
        code = new_receipt_code()
        assert CODE_SHAPE.fullmatch(code), code


def test_codes_never_contain_letters_that_are_misread_over_the_phone() -> None:
    assert not set("ILOU") & set(ALPHABET)
    assert len(set(ALPHABET)) == 32
    for _ in range(200):
        assert not set("ILOU") & set(new_receipt_code().removeprefix("MW-"))


def test_a_thousand_new_codes_are_all_different() -> None:
    codes = [new_receipt_code() for _ in range(1000)]

    assert len(set(codes)) == 1000


def test_a_new_code_is_its_own_normal_form() -> None:
    for _ in range(200):
        code = new_receipt_code()
        assert normalise_receipt_code(code) == code


@pytest.mark.parametrize(
    "typed",
    [
        "MW-7K3QX-9PD2M",
        "mw-7k3qx-9pd2m",
        "MW7K3QX9PD2M",
        "mw 7k3qx 9pd2m",
        "  MW-7K3QX-9PD2M\n",
        "7K3QX-9PD2M",
        "7k3qx9pd2m",
    ],
)
def test_what_residents_type_is_normalised_to_the_printed_code(typed: str) -> None:
    assert normalise_receipt_code(typed) == "MW-7K3QX-9PD2M"


def test_the_letter_o_is_read_as_zero_and_i_or_l_as_one() -> None:
    assert normalise_receipt_code("MW-O1OIL-ABCDE") == "MW-01011-ABCDE"
    assert normalise_receipt_code("mw-oo0ii-lllll") == "MW-00011-11111"


def test_a_code_whose_own_characters_begin_with_mw_is_accepted_without_the_prefix() -> None:
    # About one code in a thousand starts with M, W; typed without "MW-" it must still work.
    assert normalise_receipt_code("MW-MW3QX-9PD2M") == "MW-MW3QX-9PD2M"
    assert normalise_receipt_code("MW3QX-9PD2M") == "MW-MW3QX-9PD2M"
    assert normalise_receipt_code("mw3qx9pd2m") == "MW-MW3QX-9PD2M"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "MW-",
        "MW-7K3QX-9PD2",
        "MW-7K3QX-9PD2MM",
        "MW-7K3QX-9PD2U",
        "MW-7K3QX-9PD2!",
        "MW-7K3QX-9PD2Ｍ",
        "XY-7K3QX-9PD2M",
        "MWMW-7K3QX-9PD2M",
        "홍길동",
        "DROP TABLE cases",
    ],
)
def test_anything_that_is_not_a_code_is_refused(garbage: str) -> None:
    with pytest.raises(ReceiptCodeError, match="is not a receipt code"):
        normalise_receipt_code(garbage)


def test_the_index_entry_of_a_code_has_an_id_derived_from_the_code() -> None:
    case_id = uuid.uuid4()
    entry = ReceiptIndex(code="MW-7K3QX-9PD2M", case_id=case_id)

    assert entry.id == ReceiptIndex.create_id("MW-7K3QX-9PD2M")
    assert entry.id != ReceiptIndex.create_id("MW-7K3QX-9PD2N")
    assert entry.case_id == case_id
