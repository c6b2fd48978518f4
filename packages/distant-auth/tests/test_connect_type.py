"""ConnectType and the connection id frame (§3.6)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distant_auth import (
    Connect,
    Reconnect,
    SecretKey,
    decode_connect_type,
    decode_connection_id,
    encode_connect_type,
    encode_connection_id,
)
from distant_codec import CodecError, packb

OTP = SecretKey(bytes(range(32)))
# The worked bytes of §3.6.
CONNECT = bytes.fromhex("a7 43 6f 6e 6e 65 63 74")
RECONNECT = (
    bytes.fromhex("81 a9") + b"Reconnect" + bytes.fromhex("82 a2") + b"id"
    + bytes.fromhex("ce deadbeef a3") + b"otp" + bytes.fromhex("c4 20") + bytes(range(32))
)  # fmt: skip


def test_connect_bytes() -> None:
    assert encode_connect_type(Connect()) == CONNECT
    assert decode_connect_type(CONNECT) == Connect()


def test_reconnect_bytes() -> None:
    assert encode_connect_type(Reconnect(0xDEADBEEF, OTP)) == RECONNECT
    decoded = decode_connect_type(RECONNECT)
    assert isinstance(decoded, Reconnect)
    assert decoded.id == 0xDEADBEEF
    assert decoded.otp == OTP
    assert decoded == Reconnect(0xDEADBEEF, OTP)


def test_reconnect_repr_hides_the_otp() -> None:
    assert OTP.to_hex() not in repr(Reconnect(1, OTP))
    assert OTP.to_hex() not in repr(decode_connect_type(RECONNECT))


@pytest.mark.parametrize(
    ("id_", "otp"),
    [(-1, OTP), (2**32, OTP), (True, OTP), (1, SecretKey(bytes(31))), (1, bytes(32))],
)
def test_reconnect_validates_its_fields(id_: object, otp: object) -> None:
    with pytest.raises(ValueError):
        Reconnect(id_, otp)  # type: ignore[arg-type]


def test_encode_refuses_other_types() -> None:
    with pytest.raises(TypeError):
        encode_connect_type("Connect")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "obj",
    [
        "connect",
        "Reconnect",
        b"Connect",
        None,
        1,
        {"Connect": None},
        {"Reconnect": {"id": 1}},
        {"Reconnect": {"otp": bytes(32)}},
        {"Reconnect": {"id": 1, "otp": bytes(31)}},
        {"Reconnect": {"id": 1, "otp": bytes(33)}},
        {"Reconnect": {"id": -1, "otp": bytes(32)}},
        {"Reconnect": {"id": 2**32, "otp": bytes(32)}},
        {"Reconnect": {"id": "1", "otp": bytes(32)}},
        {"Reconnect": {"id": 1, "otp": "00" * 32}},
        {"Reconnect": {"id": 1, "otp": bytes(32), "extra": 0}},
        {"Reconnect": [1, bytes(32)]},
        {"Reconnect": {"id": 1, "otp": bytes(32)}, "Connect": None},
    ],
)
def test_anything_else_is_a_codec_error(obj: object) -> None:
    with pytest.raises(CodecError):
        decode_connect_type(packb(obj))


@pytest.mark.parametrize(
    ("value", "hex_"),
    [(0, "00"), (127, "7f"), (255, "ccff"), (0xDEADBEEF, "cedeadbeef"), (2**32 - 1, "ceffffffff")],
)
def test_connection_id_is_a_bare_msgpack_uint(value: int, hex_: str) -> None:
    assert encode_connection_id(value) == bytes.fromhex(hex_)
    assert decode_connection_id(bytes.fromhex(hex_)) == value


@pytest.mark.parametrize("value", [-1, 2**32, True, "1"])
def test_connection_id_encoder_refuses_non_u32(value: object) -> None:
    with pytest.raises(ValueError):
        encode_connection_id(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("obj", [-1, 2**32, 2**64 - 1, True, "1", None, [1], {"id": 1}])
def test_connection_id_decoder_refuses_non_u32(obj: object) -> None:
    with pytest.raises(CodecError):
        decode_connection_id(packb(obj))


@given(st.binary(max_size=80))
def test_random_bytes_only_raise_codec_error(data: bytes) -> None:
    for decoder in (decode_connect_type, decode_connection_id):
        with contextlib.suppress(CodecError):
            decoder(data)


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.text(max_size=12),
    st.binary(max_size=40),
)
_obj = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["Reconnect", "Connect", "id", "otp"]), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(_obj)
def test_random_msgpack_objects_only_raise_codec_error(obj: object) -> None:
    data = packb(obj)
    for decoder in (decode_connect_type, decode_connection_id):
        with contextlib.suppress(CodecError):
            decoder(data)
