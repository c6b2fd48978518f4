"""The server's OTP keychain (§5.4)."""

from __future__ import annotations

import pytest

from distant_auth import Keychain, SecretKey

OTP = SecretKey(bytes(range(32)))


def test_the_right_otp_is_accepted_once() -> None:
    keychain = Keychain()
    keychain.insert(7, OTP)
    assert 7 in keychain
    assert len(keychain) == 1
    assert keychain.verify_and_take(7, SecretKey(bytes(range(32))))
    assert 7 not in keychain
    assert not keychain.verify_and_take(7, OTP)  # replay


def test_a_wrong_otp_fails_and_keeps_the_entry() -> None:
    keychain = Keychain()
    keychain.insert(7, OTP)
    assert not keychain.verify_and_take(7, SecretKey(bytes(32)))
    assert not keychain.verify_and_take(7, SecretKey(bytes(range(16))))
    assert 7 in keychain
    assert keychain.verify_and_take(7, OTP)


def test_an_unknown_id_fails() -> None:
    keychain = Keychain()
    keychain.insert(7, OTP)
    assert not keychain.verify_and_take(8, OTP)
    assert not keychain.verify_and_take(True, OTP)
    assert 7 in keychain


def test_a_new_otp_replaces_the_old_one() -> None:
    keychain = Keychain()
    keychain.insert(7, OTP)
    newer = SecretKey.generate()
    keychain.insert(7, newer)
    assert len(keychain) == 1
    assert not keychain.verify_and_take(7, OTP)
    assert keychain.verify_and_take(7, newer)


def test_raw_bytes_may_be_presented() -> None:
    keychain = Keychain()
    keychain.insert(0, OTP)
    assert keychain.verify_and_take(0, bytes(range(32)))


def test_remove_and_contains() -> None:
    keychain = Keychain()
    keychain.insert(2**32 - 1, OTP)
    assert keychain.remove(2**32 - 1)
    assert not keychain.remove(2**32 - 1)
    assert not keychain.remove("x")  # type: ignore[arg-type]
    assert 2**32 - 1 not in keychain
    assert [] not in keychain
    assert "7" not in keychain


@pytest.mark.parametrize("bad_id", [-1, 2**32, "1", 1.0, True])
def test_ids_must_be_u32(bad_id: object) -> None:
    with pytest.raises(ValueError):
        Keychain().insert(bad_id, OTP)  # type: ignore[arg-type]


def test_otps_must_be_secret_keys() -> None:
    with pytest.raises(TypeError):
        Keychain().insert(1, bytes(32))  # type: ignore[arg-type]


def test_repr_shows_no_otp() -> None:
    keychain = Keychain()
    keychain.insert(1, OTP)
    assert OTP.to_hex() not in repr(keychain)
    assert repr(keychain) == "Keychain(<1 entries>)"
