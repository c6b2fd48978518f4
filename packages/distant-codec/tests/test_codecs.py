from __future__ import annotations

import contextlib
import gzip
import os
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from distant_codec.codecs import (
    DEFAULT_COMPRESSION_LEVEL,
    ChainCodec,
    Codec,
    CompressionCodec,
    CompressionLevel,
    CompressionType,
    EncryptionType,
    PlainCodec,
    XChaCha20Poly1305Codec,
    codec_for,
)
from distant_codec.errors import CodecError
from distant_codec.frame import DEFAULT_MAX_ITEM_SIZE

KEY = bytes(range(32))
items = st.binary(max_size=4096)
types = st.sampled_from(list(CompressionType))
levels = st.sampled_from(list(CompressionLevel))
WBITS = {CompressionType.Deflate: -15, CompressionType.Gzip: 31, CompressionType.Zlib: 15}


def all_codecs() -> list[Codec]:
    encryption = XChaCha20Poly1305Codec(KEY)
    codecs: list[Codec] = [PlainCodec(), encryption]
    for type_ in CompressionType:
        compression = CompressionCodec(type_, CompressionLevel.Six)
        codecs += [compression, ChainCodec(encryption, compression)]
    return codecs


# --- enums -------------------------------------------------------------------------------


def test_enum_wire_names() -> None:
    assert [t.value for t in CompressionType] == ["Deflate", "Gzip", "Zlib"]
    assert [e.value for e in EncryptionType] == ["XChaCha20Poly1305"]
    assert [level.value for level in CompressionLevel] == [
        "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
    ]  # fmt: skip
    assert [level.as_int for level in CompressionLevel] == list(range(10))
    assert CompressionLevel("Nine").as_int == 9
    assert DEFAULT_COMPRESSION_LEVEL is CompressionLevel.Six
    assert CompressionType("Gzip") == "Gzip"


# --- plain ---------------------------------------------------------------------------------


@given(item=items)
def test_plain_is_identity(item: bytes) -> None:
    assert PlainCodec().encode(item) == item
    assert PlainCodec().decode(item) == item


# --- compression ---------------------------------------------------------------------------


@given(item=items, type_=types, level=levels)
def test_compression_round_trip(
    item: bytes, type_: CompressionType, level: CompressionLevel
) -> None:
    codec = CompressionCodec(type_, level)
    assert codec.decode(codec.encode(item)) == item


def test_compression_defaults() -> None:
    codec = CompressionCodec(CompressionType.Zlib)
    assert codec.level is CompressionLevel.Six
    assert codec.type is CompressionType.Zlib
    assert codec.max_decompressed_size == DEFAULT_MAX_ITEM_SIZE
    assert CompressionCodec(CompressionType.Zlib, None).level is CompressionLevel.Six
    # Wire strings are accepted too (StrEnum lookups by value).
    assert CompressionCodec("Gzip", "Nine").level is CompressionLevel.Nine  # type: ignore[arg-type]


def test_level_affects_encoding_only() -> None:
    item = b"distant " * 500
    stored = CompressionCodec(CompressionType.Zlib, CompressionLevel.Zero).encode(item)
    best = CompressionCodec(CompressionType.Zlib, CompressionLevel.Nine).encode(item)
    assert len(stored) > len(item) > len(best)
    decoder = CompressionCodec(CompressionType.Zlib, CompressionLevel.One)
    assert decoder.decode(stored) == decoder.decode(best) == item


@given(item=items, level=levels)
def test_gzip_interoperates_with_gzip_module(item: bytes, level: CompressionLevel) -> None:
    codec = CompressionCodec(CompressionType.Gzip, level)
    assert gzip.decompress(codec.encode(item)) == item
    assert codec.decode(gzip.compress(item, compresslevel=level.as_int)) == item


@given(item=items, level=levels)
def test_zlib_interoperates_with_zlib_module(item: bytes, level: CompressionLevel) -> None:
    codec = CompressionCodec(CompressionType.Zlib, level)
    encoded = codec.encode(item)
    assert encoded[0] == 0x78  # RFC 1950 header: deflate, 32 KiB window
    assert zlib.decompress(encoded) == item
    assert codec.decode(zlib.compress(item, level.as_int)) == item


@given(item=items, level=levels)
def test_deflate_is_raw_and_interoperates(item: bytes, level: CompressionLevel) -> None:
    codec = CompressionCodec(CompressionType.Deflate, level)
    assert zlib.decompress(codec.encode(item), wbits=-15) == item
    raw = zlib.compressobj(level.as_int, zlib.DEFLATED, -15)
    assert codec.decode(raw.compress(item) + raw.flush()) == item


def test_containers_are_not_interchangeable() -> None:
    item = b"x" * 100
    gz = CompressionCodec(CompressionType.Gzip).encode(item)
    zl = CompressionCodec(CompressionType.Zlib).encode(item)
    with pytest.raises(CodecError):
        CompressionCodec(CompressionType.Zlib).decode(gz)
    with pytest.raises(CodecError):
        CompressionCodec(CompressionType.Gzip).decode(zl)
    with pytest.raises(CodecError):
        CompressionCodec(CompressionType.Deflate).decode(zl)


@pytest.mark.parametrize("type_", list(CompressionType))
def test_decompression_bomb_is_rejected(type_: CompressionType) -> None:
    limit = 64 * 1024
    codec = CompressionCodec(type_, max_decompressed_size=limit)
    bomb = CompressionCodec(type_, CompressionLevel.Nine).encode(bytes(64 * 1024 * 1024))
    assert len(bomb) < 100 * 1024  # small on the wire
    with pytest.raises(CodecError, match="more than 65536 bytes"):
        codec.decode(bomb)
    # Exactly at the limit is fine; one byte over is not.
    assert codec.decode(codec.encode(bytes(limit))) == bytes(limit)
    with pytest.raises(CodecError):
        codec.decode(codec.encode(bytes(limit + 1)))


def test_default_limit_rejects_bomb() -> None:
    bomb = zlib.compress(bytes(DEFAULT_MAX_ITEM_SIZE + 1), 9)
    with pytest.raises(CodecError):
        CompressionCodec(CompressionType.Zlib).decode(bomb)


@pytest.mark.parametrize("type_", list(CompressionType))
def test_truncated_and_trailing_data_are_rejected(type_: CompressionType) -> None:
    codec = CompressionCodec(type_)
    encoded = codec.encode(os.urandom(1000))
    for cut in (0, 1, len(encoded) // 2, len(encoded) - 1):
        with pytest.raises(CodecError):
            codec.decode(encoded[:cut])
    with pytest.raises(CodecError, match="after the end"):
        codec.decode(encoded + b"junk")


def test_negative_limit_is_value_error() -> None:
    with pytest.raises(ValueError, match="max_decompressed_size"):
        CompressionCodec(CompressionType.Zlib, max_decompressed_size=-1)


# --- encryption ----------------------------------------------------------------------------


@given(item=items)
def test_encryption_round_trip_and_layout(item: bytes) -> None:
    codec = XChaCha20Poly1305Codec(KEY)
    encoded = codec.encode(item)
    assert len(encoded) == 24 + len(item) + 16
    assert codec.decode(encoded) == item
    # nonce || ciphertext || tag, no AAD: exactly libsodium's output for that nonce.
    nonce, sealed = encoded[:24], encoded[24:]
    assert crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, None, nonce, KEY) == item


@given(item=items, nonce=st.binary(min_size=24, max_size=24))
def test_encryption_decodes_libsodium_items(item: bytes, nonce: bytes) -> None:
    encoded = nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(item, None, nonce, KEY)
    assert XChaCha20Poly1305Codec(KEY).decode(encoded) == item


def test_empty_plaintext_is_40_bytes() -> None:
    codec = XChaCha20Poly1305Codec(KEY)
    encoded = codec.encode(b"")
    assert len(encoded) == 40
    assert codec.decode(encoded) == b""


def test_fresh_nonce_per_item() -> None:
    codec = XChaCha20Poly1305Codec(KEY)
    nonces = {codec.encode(b"same")[:24] for _ in range(100)}
    assert len(nonces) == 100


@pytest.mark.parametrize("size", [0, 1, 23, 24])
def test_encryption_rejects_items_of_24_bytes_or_less(size: int) -> None:
    with pytest.raises(CodecError, match="too short"):
        XChaCha20Poly1305Codec(KEY).decode(bytes(size))


@pytest.mark.parametrize("size", [25, 39])
def test_encryption_rejects_items_shorter_than_a_tag(size: int) -> None:
    with pytest.raises(CodecError):
        XChaCha20Poly1305Codec(KEY).decode(os.urandom(size))


def test_raw_empty_frame_is_a_decode_error_when_encrypted() -> None:
    # PROTOCOL.md §3.5: a plain empty item on an encrypted connection is an error.
    with pytest.raises(CodecError):
        XChaCha20Poly1305Codec(KEY).decode(b"")


@given(item=items, data=st.data())
def test_encryption_tampering_is_codec_error(item: bytes, data: st.DataObject) -> None:
    codec = XChaCha20Poly1305Codec(KEY)
    encoded = bytearray(codec.encode(item))
    index = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[index] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    with pytest.raises(CodecError):
        codec.decode(bytes(encoded))


def test_wrong_key_is_codec_error() -> None:
    encoded = XChaCha20Poly1305Codec(KEY).encode(b"secret")
    with pytest.raises(CodecError):
        XChaCha20Poly1305Codec(bytes(32)).decode(encoded)


def test_encryption_codec_key_checks_and_repr() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        XChaCha20Poly1305Codec(bytes(31))
    codec = XChaCha20Poly1305Codec(KEY)
    assert KEY.hex() not in repr(codec)
    assert codec.type is EncryptionType.XChaCha20Poly1305


# --- chain ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", list(CompressionType))
def test_chain_decodes_compress_of_encrypt(type_: CompressionType) -> None:
    item = b"hello, world " * 20
    nonce = os.urandom(24)
    encrypted = nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(item, None, nonce, KEY)
    compressor = zlib.compressobj(6, zlib.DEFLATED, WBITS[type_])
    wire = compressor.compress(encrypted) + compressor.flush()
    chain = ChainCodec(XChaCha20Poly1305Codec(KEY), CompressionCodec(type_))
    assert chain.decode(wire) == item


@pytest.mark.parametrize("type_", list(CompressionType))
def test_chain_encodes_encrypt_then_compress(type_: CompressionType) -> None:
    item = b"hello, world " * 20
    chain = codec_for(XChaCha20Poly1305Codec(KEY), CompressionCodec(type_))
    wire = chain.encode(item)
    encrypted = zlib.decompress(wire, wbits=WBITS[type_])
    assert len(encrypted) == 24 + len(item) + 16
    nonce, sealed = encrypted[:24], encrypted[24:]
    assert crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, None, nonce, KEY) == item
    assert chain.decode(wire) == item


def test_codec_for() -> None:
    encryption = XChaCha20Poly1305Codec(KEY)
    compression = CompressionCodec(CompressionType.Gzip)
    assert isinstance(codec_for(None, None), PlainCodec)
    assert codec_for(encryption, None) is encryption
    assert codec_for(None, compression) is compression
    chain = codec_for(encryption, compression)
    assert isinstance(chain, ChainCodec)
    assert chain.first is encryption
    assert chain.second is compression


@given(item=items)
def test_every_codec_round_trips(item: bytes) -> None:
    for codec in all_codecs():
        assert codec.decode(codec.encode(item)) == item, codec


# --- hostile input -------------------------------------------------------------------------


@given(data=st.binary(max_size=512))
def test_decoders_raise_only_codec_error_on_random_bytes(data: bytes) -> None:
    for codec in all_codecs():
        with contextlib.suppress(CodecError):
            codec.decode(data)


@given(data=st.binary(max_size=64), type_=types)
def test_compressed_random_bytes_raise_only_codec_error(
    data: bytes, type_: CompressionType
) -> None:
    # Valid containers around garbage reach the decrypt step of the chain.
    chain = ChainCodec(XChaCha20Poly1305Codec(KEY), CompressionCodec(type_))
    with pytest.raises(CodecError):
        chain.decode(CompressionCodec(type_).encode(data))
