"""SecretKey: parsing, rendering, constant-time equality and redaction."""

from __future__ import annotations

import copy
import pickle
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distant_auth import SECRET_KEY_LENGTH, Reconnect, SecretKey
from distant_codec import AUTHENTICATION_RESPONSE, AuthChallengeResponse

KEY_BYTES = bytes(range(32))
KEY_HEX = KEY_BYTES.hex()


def test_generate_gives_fresh_32_byte_keys() -> None:
    a, b = SecretKey.generate(), SecretKey.generate()
    assert len(a) == SECRET_KEY_LENGTH == 32
    assert len(a.expose()) == 32
    assert a != b
    assert len(SecretKey.generate(16)) == 16
    with pytest.raises(ValueError):
        SecretKey.generate(0)


def test_empty_key_is_refused() -> None:
    with pytest.raises(ValueError):
        SecretKey(b"")


@pytest.mark.parametrize("text", [KEY_HEX, KEY_HEX.upper(), KEY_HEX[:32] + KEY_HEX[32:].upper()])
def test_from_hex_accepts_either_case(text: str) -> None:
    key = SecretKey.from_hex(text)
    assert key.expose() == KEY_BYTES
    assert bytes(key) == KEY_BYTES


def test_to_hex_is_lowercase_and_round_trips() -> None:
    key = SecretKey.from_hex(KEY_HEX.upper())
    assert key.to_hex() == KEY_HEX
    assert SecretKey.from_hex(key.to_hex()) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        KEY_HEX[:-1],
        KEY_HEX + "0",
        KEY_HEX[:-2],
        "0x" + KEY_HEX[:-2],
        " " + KEY_HEX[:-1],
        KEY_HEX[:-1] + "\n",
        KEY_HEX[:-1] + "g",
        KEY_HEX[:-1] + "é",
        "z" * 64,
        KEY_HEX[:31] + " " + KEY_HEX[32:],
    ],
)
def test_from_hex_rejects_anything_but_64_hex_digits(text: str) -> None:
    with pytest.raises(ValueError) as info:
        SecretKey.from_hex(text)
    message = str(info.value)
    assert "64 hexadecimal digits" in message
    if text.strip():
        assert text not in message
        assert text.strip() not in message


def test_from_hex_needs_a_str() -> None:
    with pytest.raises(TypeError):
        SecretKey.from_hex(KEY_BYTES)  # type: ignore[arg-type]


@given(st.text(max_size=80))
def test_from_hex_errors_never_echo_the_input(text: str) -> None:
    try:
        SecretKey.from_hex(text)
    except ValueError as exc:
        rendered = str(exc) + repr(exc) + repr(exc.args)
        # Short inputs can occur by chance in the fixed message text, so only check
        # inputs long enough to be recognisable.
        if len(text) >= 8:
            assert text not in rendered


def test_repr_str_and_format_are_redacted() -> None:
    key = SecretKey.from_hex(KEY_HEX)
    for rendered in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert KEY_HEX not in rendered
        assert KEY_HEX.upper() not in rendered
        assert "redacted" in rendered


def test_redaction_inside_dataclasses_and_messages() -> None:
    @dataclass
    class Holder:
        key: SecretKey

    key = SecretKey.from_hex(KEY_HEX)
    assert KEY_HEX not in repr(Holder(key))
    assert KEY_HEX not in repr(Reconnect(7, key))
    response = AuthChallengeResponse(answers=(KEY_HEX,))
    assert KEY_HEX not in repr(response)
    assert KEY_HEX not in str(response)
    decoded = AUTHENTICATION_RESPONSE.decode(AUTHENTICATION_RESPONSE.encode(response))
    assert KEY_HEX not in repr(decoded)


def test_equality_is_by_value_and_only_with_secret_keys() -> None:
    a = SecretKey(KEY_BYTES)
    assert a == SecretKey(bytes(KEY_BYTES))
    assert (a != SecretKey(KEY_BYTES)) is False
    assert a != SecretKey(bytes(32))
    assert a != SecretKey(KEY_BYTES[:16])
    assert a != KEY_BYTES
    assert a != KEY_HEX


def test_keys_are_unhashable_and_immutable() -> None:
    key = SecretKey(KEY_BYTES)
    with pytest.raises(TypeError):
        hash(key)
    with pytest.raises(TypeError):
        {key}  # noqa: B018
    with pytest.raises(AttributeError):
        key._data = b"x"


def test_copy_and_pickle_keep_the_value() -> None:
    key = SecretKey(KEY_BYTES)
    assert copy.copy(key) == key
    assert copy.deepcopy(key) == key
    assert pickle.loads(pickle.dumps(key)) == key
