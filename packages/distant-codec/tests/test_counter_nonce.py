"""The counter-nonce extension cipher: in-order only, and standard XChaCha20-Poly1305."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import distant_codec as dc
from distant_codec.counter_nonce import _CLIENT_TO_SERVER


def _pair() -> tuple[dc.CounterNonceCodec, dc.CounterNonceCodec]:
    key = os.urandom(32)
    return dc.CounterNonceCodec(key, client=True), dc.CounterNonceCodec(key, client=False)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_in_order_roundtrip(items: list[bytes]) -> None:
    client, server = _pair()
    for item in items:
        assert server.decode(client.encode(item)) == item
        assert client.decode(server.encode(item)) == item


def test_replayed_reordered_dropped_and_reflected_frames_fail() -> None:
    client, server = _pair()
    a, b, c = (client.encode(x) for x in (b"a", b"b", b"c"))
    assert server.decode(a) == b"a"
    with pytest.raises(dc.CodecError, match="replayed"):
        server.decode(a)  # replay
    with pytest.raises(dc.CodecError):
        server.decode(c)  # b was dropped
    assert server.decode(b) == b"b"  # a failed decode does not advance the counter
    with pytest.raises(dc.CodecError):
        client.decode(client.encode(b"x"))  # reflected back to its sender


def test_it_is_xchacha20poly1305_with_a_counter_nonce() -> None:
    key = os.urandom(32)
    codec = dc.CounterNonceCodec(key, client=True)
    codec.encode(b"first")
    sealed = codec.encode(b"second")
    nonce = _CLIENT_TO_SERVER + (1).to_bytes(8, "big")
    assert dc.XChaCha20Poly1305(key).decrypt(nonce, sealed) == b"second"


def test_framed_matches_encode_frame() -> None:
    key = os.urandom(32)
    one, two = dc.CounterNonceCodec(key, client=True), dc.CounterNonceCodec(key, client=True)
    assert bytes(one.encode_framed(b"hello")) == dc.encode_frame(two.encode(b"hello"))
    assert len(one.encode(b"")) == 16  # a heartbeat costs only its tag


def test_short_item_is_rejected() -> None:
    _, server = _pair()
    with pytest.raises(dc.CodecError):
        server.decode(b"short")
