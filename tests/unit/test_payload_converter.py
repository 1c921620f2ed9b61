"""The payload converter the worker's SDK makes again for every workflow activation."""

from __future__ import annotations

import dataclasses

from workflows.codec import SharedPydanticPayloadConverter, data_converter
from workflows.models import FileComplaintInput

INTAKE = FileComplaintInput(
    intake_ref="convert-1",
    channel="homepage",
    category="inquiry",
    topic="program",
    contact="010-0000-0000",
    text="프로그램 신청 방법을 알려주세요",
)


def test_every_data_converter_made_from_ours_shares_one_set_of_encoding_converters() -> None:
    first = data_converter(None)
    # What the SDK does per activation: a copy of the data converter, which makes its
    # payload converter anew (dataclasses.replace runs __post_init__).
    again = dataclasses.replace(first)
    assert again.payload_converter is not first.payload_converter
    ours = [SharedPydanticPayloadConverter(), SharedPydanticPayloadConverter()]
    json_plain = {id(converter.converters[b"json/plain"]) for converter in ours}
    assert len(json_plain) == 1
    assert list(ours[0].converters) == list(ours[1].converters)


def test_a_model_converts_to_the_same_payload_and_back_through_any_of_them() -> None:
    first, again = data_converter(None), dataclasses.replace(data_converter(None))
    [payload] = first.payload_converter.to_payloads([INTAKE])
    assert payload.metadata["encoding"] == b"json/plain"
    assert again.payload_converter.to_payloads([INTAKE]) == [payload]
    [back] = again.payload_converter.from_payloads([payload], [FileComplaintInput])
    assert back == INTAKE
