"""Channel messages: both encodings decode alike, and the scatter-gather form is
byte-identical to the joined one."""

from __future__ import annotations

import pytest

from distant_codec import CodecError, UntypedRequest, UntypedResponse, packb
from distant_manager.channel_wire import (
    channel_request_parts,
    decode_channel_response,
    encode_channel_request,
    encode_channel_response,
)


@pytest.mark.parametrize("size", [0, 5, 255, 256, 65535, 65536, 3 * 1024 * 1024])
@pytest.mark.parametrize("header", [{}, {"sequence": True}])
def test_parts_match_the_joined_encoding(size: int, header: dict[str, object]) -> None:
    request = UntypedRequest("42", bytes(range(256)) * (size // 256) + b"x" * (size % 256), header)
    joined = UntypedRequest("7", encode_channel_request(9, request, binary=True)).to_bytes()
    assert b"".join(channel_request_parts(9, request, "7")) == joined


@pytest.mark.parametrize("binary", [True, False])
def test_response_round_trip(binary: bool) -> None:
    response = UntypedResponse("1", "2", b"\x81\xa4type\xa2ok", {"x": 1})
    decoded = decode_channel_response(encode_channel_response(5, response, binary=binary))
    assert decoded == (5, response)


def test_other_responses_and_malformed_ones() -> None:
    assert decode_channel_response(packb({"type": "killed"})) is None
    with pytest.raises(CodecError):
        decode_channel_response(packb({"type": "channel", "id": "x", "response": {}}))
    with pytest.raises(CodecError):
        decode_channel_response(
            packb({"type": "channel", "id": 1, "response": {"id": "a", "origin_id": "b",
                                                             "payload": [300]}})
        )  # fmt: skip
