"""P-256 ECDH + HKDF-SHA256 key exchange (§3.4)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from distant_auth import KeyExchange, KeyExchangeData, LocalProtocolError, SecretKey
from distant_codec import CodecError, packb


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes = b"", length: int = 32) -> bytes:
    """RFC 5869, written out with hmac so the test does not trust the code under test."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
        counter += 1
    return okm[:length]


def raw_public(key: ec.EllipticCurvePrivateKey, *, compressed: bool = False) -> bytes:
    fmt = (
        serialization.PublicFormat.CompressedPoint
        if compressed
        else serialization.PublicFormat.UncompressedPoint
    )
    return key.public_key().public_bytes(serialization.Encoding.X962, fmt)


def test_hkdf_helper_matches_rfc5869_case_1() -> None:
    okm = hkdf_sha256(
        bytes.fromhex("000102030405060708090a0b0c"),
        bytes.fromhex("0b" * 22),
        bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"),
        42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_both_sides_derive_the_same_key() -> None:
    client, server = KeyExchange(), KeyExchange()
    client_key = client.derive(server.data)
    server_key = server.derive(client.data)
    assert isinstance(client_key, SecretKey)
    assert len(client_key) == 32
    assert client_key == server_key


def test_fresh_exchanges_give_fresh_keys() -> None:
    a1, b1, a2, b2 = KeyExchange(), KeyExchange(), KeyExchange(), KeyExchange()
    assert a1.data.salt != a2.data.salt
    assert a1.data.public_key != a2.data.public_key
    assert a1.derive(b1.data) != a2.derive(b2.data)


@pytest.mark.parametrize("compressed", [False, True])
def test_derivation_matches_an_independent_computation(compressed: bool) -> None:
    exchange = KeyExchange()
    peer_private = ec.generate_private_key(ec.SECP256R1())
    peer_salt = bytes(range(100, 132))
    peer = KeyExchangeData(
        public_key=raw_public(peer_private, compressed=compressed), salt=peer_salt
    )

    derived = exchange.derive(peer)

    ours = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), exchange.data.public_key)
    ikm = peer_private.exchange(ec.ECDH(), ours)  # the x-coordinate of the shared point
    assert len(ikm) == 32
    shared_salt = bytes(a ^ b for a, b in zip(exchange.data.salt, peer_salt, strict=True))
    assert derived.expose() == hkdf_sha256(shared_salt, ikm)


def test_data_is_an_uncompressed_point_and_a_32_byte_salt() -> None:
    data = KeyExchange().data
    assert len(data.public_key) == 65
    assert data.public_key[0] == 0x04
    assert len(data.salt) == 32


def test_wire_bytes_have_the_shape_of_the_spec() -> None:
    data = KeyExchange().data
    wire = data.to_msgpack()
    expected = (
        bytes.fromhex("82 aa") + b"public_key" + bytes.fromhex("c4 41") + data.public_key
        + bytes.fromhex("a4") + b"salt" + bytes.fromhex("c4 20") + data.salt
    )  # fmt: skip
    assert wire == expected
    assert len(wire) == 0x76  # the frame length in §13
    assert KeyExchangeData.from_msgpack(wire) == data


def test_a_compressed_point_is_accepted_on_decode() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    wire = packb({"public_key": raw_public(private, compressed=True), "salt": bytes(32)})
    data = KeyExchangeData.from_msgpack(wire)
    assert len(data.public_key) == 33
    assert KeyExchange().derive(data) is not None


@pytest.mark.parametrize("length", [0, 1, 16, 31, 33, 64])
def test_a_salt_that_is_not_32_bytes_is_a_codec_error(length: int) -> None:
    public = KeyExchange().data.public_key
    with pytest.raises(CodecError, match="salt"):
        KeyExchangeData.from_msgpack(packb({"public_key": public, "salt": bytes(length)}))
    with pytest.raises(ValueError):
        KeyExchangeData(public_key=public, salt=bytes(length))


def _bad_points() -> list[bytes]:
    good = KeyExchange().data.public_key
    not_on_curve = b"\x04" + bytes(31) + b"\x01" + bytes(31) + b"\x01"
    return [
        b"",
        b"\x00",  # the point at infinity
        good[:-1],
        good + b"\x00",
        b"\x06" + good[1:],  # hybrid form
        b"\x05" + good[1:],
        not_on_curve,
        b"\x02" + b"\xff" * 32,  # x beyond the field prime
        b"\x04" + b"\xff" * 64,
        bytes(65),
    ]


@pytest.mark.parametrize("point", _bad_points())
def test_a_bad_point_is_a_codec_error(point: bytes) -> None:
    with pytest.raises(CodecError, match="public_key"):
        KeyExchangeData.from_msgpack(packb({"public_key": point, "salt": bytes(32)}))


def test_missing_extra_and_mistyped_fields_are_codec_errors() -> None:
    data = KeyExchange().data
    for obj in (
        {"public_key": data.public_key},
        {"salt": data.salt},
        {"public_key": data.public_key, "salt": data.salt, "x": 1},
        {"public_key": "04", "salt": data.salt},
        {"public_key": data.public_key, "salt": 32},
        [data.public_key, data.salt],
    ):
        with pytest.raises(CodecError):
            KeyExchangeData.from_msgpack(packb(obj))


def used(exchange: KeyExchange) -> bool:
    return exchange.used  # a call, so that mypy does not narrow the property across steps


def test_a_key_exchange_derives_only_once() -> None:
    exchange, peer = KeyExchange(), KeyExchange()
    assert not used(exchange)
    exchange.derive(peer.data)
    assert used(exchange)
    with pytest.raises(LocalProtocolError):
        exchange.derive(peer.data)
    assert "used=True" in repr(exchange)


@given(st.binary(max_size=160))
def test_random_bytes_only_raise_codec_error(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        KeyExchangeData.from_msgpack(data)


@settings(max_examples=200)
@given(
    st.one_of(
        st.binary(max_size=70), st.integers(-(2**63), 2**64 - 1), st.text(max_size=4), st.none()
    ),
    st.one_of(st.binary(max_size=40), st.lists(st.integers(-2, 300), max_size=34), st.none()),
)
def test_random_fields_only_raise_codec_error(public_key: object, salt: object) -> None:
    with contextlib.suppress(CodecError):
        KeyExchangeData.from_msgpack(packb({"public_key": public_key, "salt": salt}))
