from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from hypothesis import given
from hypothesis import strategies as st
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

from distant_codec.errors import CodecError
from distant_codec.xchacha import XChaCha20Poly1305, hchacha20

keys = st.binary(min_size=32, max_size=32)
nonces = st.binary(min_size=24, max_size=24)
messages = st.binary(max_size=2048)
aads = st.none() | st.binary(max_size=64)

# draft-irtf-cfrg-xchacha-03 §2.2.1: HChaCha20 test vector.
HCHACHA_KEY = bytes(range(32))
HCHACHA_NONCE = bytes.fromhex("000000090000004a0000000031415927")
HCHACHA_SUBKEY = bytes.fromhex("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")

# draft-irtf-cfrg-xchacha-03 Appendix A.3.1: AEAD_XChaCha20_Poly1305 test vector.
AEAD_KEY = bytes.fromhex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
AEAD_NONCE = bytes.fromhex("404142434445464748494a4b4c4d4e4f5051525354555657")
AEAD_AAD = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
AEAD_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
    b"the future, sunscreen would be it."
)
AEAD_CIPHERTEXT = bytes.fromhex(
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e"
)
AEAD_TAG = bytes.fromhex("c0875924c1c7987947deafd8780acf49")


def test_hchacha20_known_answer() -> None:
    assert hchacha20(HCHACHA_KEY, HCHACHA_NONCE) == HCHACHA_SUBKEY


def test_aead_known_answer() -> None:
    aead = XChaCha20Poly1305(AEAD_KEY)
    sealed = aead.encrypt(AEAD_NONCE, AEAD_PLAINTEXT, AEAD_AAD)
    assert sealed == AEAD_CIPHERTEXT + AEAD_TAG
    assert aead.decrypt(AEAD_NONCE, sealed, AEAD_AAD) == AEAD_PLAINTEXT


@given(key=keys, nonce16=st.binary(min_size=16, max_size=16))
def test_hchacha20_matches_the_cached_context(key: bytes, nonce16: bytes) -> None:
    # The one-shot function and the instance's re-nonced context must agree; the AEAD
    # comparison with libsodium below pins both to the real thing.
    nonce = nonce16 + bytes(8)
    aead = XChaCha20Poly1305(key)
    ours = aead.encrypt(nonce, b"")
    assert ours == ChaCha20Poly1305(hchacha20(key, nonce16)).encrypt(bytes(12), b"", None)


@given(key=keys, nonce=nonces, message=messages, aad=aads)
def test_we_encrypt_libsodium_decrypts(
    key: bytes, nonce: bytes, message: bytes, aad: bytes | None
) -> None:
    sealed = XChaCha20Poly1305(key).encrypt(nonce, message, aad)
    assert len(sealed) == len(message) + 16
    assert crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, aad, nonce, key) == message


@given(key=keys, nonce=nonces, message=messages, aad=aads)
def test_libsodium_encrypts_we_decrypt(
    key: bytes, nonce: bytes, message: bytes, aad: bytes | None
) -> None:
    sealed = crypto_aead_xchacha20poly1305_ietf_encrypt(message, aad, nonce, key)
    assert XChaCha20Poly1305(key).decrypt(nonce, sealed, aad) == message


@given(key=keys, message=messages, data=st.data())
def test_one_instance_many_nonces(key: bytes, message: bytes, data: st.DataObject) -> None:
    # Re-nonced context reuse must not leak state between messages.
    aead = XChaCha20Poly1305(key)
    for nonce in data.draw(st.lists(nonces, min_size=2, max_size=5)):
        sealed = aead.encrypt(nonce, message)
        assert sealed == crypto_aead_xchacha20poly1305_ietf_encrypt(message, None, nonce, key)
        assert aead.decrypt(nonce, sealed) == message


@given(
    key=keys,
    nonce=nonces,
    message=st.binary(min_size=0, max_size=256),
    aad=aads,
    data=st.data(),
)
def test_tampering_is_codec_error(
    key: bytes, nonce: bytes, message: bytes, aad: bytes | None, data: st.DataObject
) -> None:
    aead = XChaCha20Poly1305(key)
    sealed = bytearray(aead.encrypt(nonce, message, aad))
    index = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    bit = data.draw(st.integers(min_value=0, max_value=7))
    sealed[index] ^= 1 << bit
    with pytest.raises(CodecError):
        aead.decrypt(nonce, bytes(sealed), aad)


def test_wrong_nonce_or_aad_is_codec_error() -> None:
    aead = XChaCha20Poly1305(AEAD_KEY)
    sealed = aead.encrypt(AEAD_NONCE, b"payload", b"aad")
    with pytest.raises(CodecError):
        aead.decrypt(bytes(24), sealed, b"aad")
    with pytest.raises(CodecError):
        aead.decrypt(AEAD_NONCE, sealed, None)
    with pytest.raises(CodecError):
        XChaCha20Poly1305(bytes(32)).decrypt(AEAD_NONCE, sealed, b"aad")


@pytest.mark.parametrize("size", [0, 1, 15, 16])
def test_input_too_short_for_a_tag_is_codec_error(size: int) -> None:
    with pytest.raises(CodecError):
        XChaCha20Poly1305(AEAD_KEY).decrypt(AEAD_NONCE, bytes(size))


def test_empty_plaintext() -> None:
    aead = XChaCha20Poly1305(AEAD_KEY)
    sealed = aead.encrypt(AEAD_NONCE, b"")
    assert len(sealed) == 16
    assert aead.decrypt(AEAD_NONCE, sealed) == b""


def test_accepts_buffers() -> None:
    aead = XChaCha20Poly1305(AEAD_KEY)
    sealed = aead.encrypt(AEAD_NONCE, memoryview(AEAD_PLAINTEXT), bytearray(AEAD_AAD))
    assert sealed == AEAD_CIPHERTEXT + AEAD_TAG
    assert aead.decrypt(AEAD_NONCE, memoryview(sealed), AEAD_AAD) == AEAD_PLAINTEXT


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_bad_key_length_is_value_error(size: int) -> None:
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        XChaCha20Poly1305(bytes(size))
    with pytest.raises(ValueError, match="key must be 32 bytes"):
        hchacha20(bytes(size), bytes(16))


@pytest.mark.parametrize("size", [0, 12, 16, 23, 25])
def test_bad_nonce_length_is_value_error(size: int) -> None:
    aead = XChaCha20Poly1305(AEAD_KEY)
    with pytest.raises(ValueError, match="nonce must be 24 bytes"):
        aead.encrypt(bytes(size), b"x")
    with pytest.raises(ValueError, match="nonce must be 24 bytes"):
        aead.decrypt(bytes(size), bytes(17))


def test_hchacha20_bad_nonce_length() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        hchacha20(HCHACHA_KEY, bytes(24))


def test_repr_redacts_the_key() -> None:
    key = bytes(range(32))
    text = repr(XChaCha20Poly1305(key))
    assert "redacted" in text
    assert key.hex() not in text


def test_shared_instance_across_threads() -> None:
    aead = XChaCha20Poly1305(AEAD_KEY)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for i in range(300):
                nonce = seed.to_bytes(12, "little") + i.to_bytes(12, "little")
                message = bytes([seed]) * (i % 50)
                sealed = aead.encrypt(nonce, message)
                expected = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    message, None, nonce, AEAD_KEY
                )
                assert sealed == expected
                assert aead.decrypt(nonce, sealed) == message
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
