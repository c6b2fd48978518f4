"""Codec negotiation (§3.3): wire bytes, the client's selection rule, server validation."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distant_auth import (
    COMPRESSION_LEVELS,
    COMPRESSION_TYPES,
    KNOWN_ENCRYPTION_TYPES,
    UNKNOWN,
    HandshakeChoice,
    HandshakeOptions,
    RemoteProtocolError,
    choose,
    compression_type_name,
    default_server_options,
    encryption_type_name,
    is_known_compression_level,
    is_known_compression_type,
    is_known_encryption_type,
    validate_choice,
)
from distant_codec import CodecError, CompressionLevel, CompressionType, packb

# The worked bytes of §3.3.
OPTIONS_HEX = (
    "82 b1" + b"compression_types".hex() + "93 a7" + b"Deflate".hex() + "a4" + b"Gzip".hex()
    + "a4" + b"Zlib".hex() + "b0" + b"encryption_types".hex() + "91 b1"
    + b"XChaCha20Poly1305".hex()
)  # fmt: skip
CHOICE_HEX = (
    "83 b1" + b"compression_level".hex() + "c0 b0" + b"compression_type".hex() + "c0 af"
    + b"encryption_type".hex() + "b1" + b"XChaCha20Poly1305".hex()
)  # fmt: skip
OPTIONS = bytes.fromhex(OPTIONS_HEX)
CHOICE = bytes.fromhex(CHOICE_HEX)
COUNTER = "XChaCha20Poly1305Counter"


def test_default_options_bytes_match_the_spec() -> None:
    options = default_server_options()
    assert options == HandshakeOptions(("Deflate", "Gzip", "Zlib"), ("XChaCha20Poly1305",))
    assert options.to_msgpack() == OPTIONS
    assert len(OPTIONS) == 0x4A  # the frame length in §13
    assert HandshakeOptions.from_msgpack(OPTIONS) == options


def test_default_choice_bytes_match_the_spec() -> None:
    choice = choose(default_server_options())
    assert choice == HandshakeChoice(None, None, "XChaCha20Poly1305")
    assert choice.to_msgpack() == CHOICE
    assert len(CHOICE) == 0x48  # the frame length in §13
    assert HandshakeChoice.from_msgpack(CHOICE) == choice


def test_choice_always_emits_all_three_keys() -> None:
    assert HandshakeChoice().to_obj() == {
        "compression_level": None,
        "compression_type": None,
        "encryption_type": None,
    }
    assert HandshakeChoice().to_json() == HandshakeChoice().to_obj()


def test_choice_with_missing_keys_decodes_as_none() -> None:
    assert HandshakeChoice.from_msgpack(packb({})) == HandshakeChoice()
    assert HandshakeChoice.from_msgpack(packb({"encryption_type": "X"})) == HandshakeChoice(
        encryption_type="X"
    )


def test_unknown_type_names_survive_decoding() -> None:
    data = packb({"compression_types": ["Brotli", "Gzip"], "encryption_types": ["Foo", COUNTER]})
    options = HandshakeOptions.from_msgpack(data)
    assert options.compression_types == ("Brotli", "Gzip")
    assert options.encryption_types == ("Foo", COUNTER)
    assert options.to_msgpack() == data
    assert [compression_type_name(t) for t in options.compression_types] == [UNKNOWN, "Gzip"]
    assert [encryption_type_name(t) for t in options.encryption_types] == [UNKNOWN, UNKNOWN]
    assert encryption_type_name(COUNTER, KNOWN_ENCRYPTION_TYPES | {COUNTER}) == COUNTER


@pytest.mark.parametrize(
    "obj",
    [
        {"compression_types": ["Gzip"]},
        {"compression_types": ["Gzip"], "encryption_types": [], "extra": 1},
        {"compression_types": "Gzip", "encryption_types": []},
        {"compression_types": [1], "encryption_types": []},
        ["Gzip"],
        None,
    ],
)
def test_bad_options_are_codec_errors(obj: object) -> None:
    with pytest.raises(CodecError):
        HandshakeOptions.from_msgpack(packb(obj))


@pytest.mark.parametrize(
    "obj",
    [
        {"compression_level": 6},
        {"encryption_type": b"XChaCha20Poly1305"},
        {"encryption_type": None, "nonce": "x"},
        "XChaCha20Poly1305",
    ],
)
def test_bad_choices_are_codec_errors(obj: object) -> None:
    with pytest.raises(CodecError):
        HandshakeChoice.from_msgpack(packb(obj))


def test_helpers_know_the_names() -> None:
    assert COMPRESSION_TYPES == ("Deflate", "Gzip", "Zlib")
    assert COMPRESSION_LEVELS == (
        "Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine",
    )  # fmt: skip
    assert all(is_known_compression_type(t) for t in COMPRESSION_TYPES)
    assert not is_known_compression_type("deflate")
    assert not is_known_compression_type(UNKNOWN)
    assert all(is_known_compression_level(level) for level in COMPRESSION_LEVELS)
    assert not is_known_compression_level("6")
    assert is_known_encryption_type("XChaCha20Poly1305")
    assert not is_known_encryption_type(COUNTER)
    assert is_known_encryption_type(COUNTER, {COUNTER})


def test_default_server_options_take_extra_ciphers() -> None:
    options = default_server_options([COUNTER, "XChaCha20Poly1305", COUNTER])
    assert options.encryption_types == ("XChaCha20Poly1305", COUNTER)
    assert options.compression_types == COMPRESSION_TYPES


# --- the client's selection rule ----------------------------------------------------


def test_compression_only_if_offered() -> None:
    offer = HandshakeOptions(("Gzip",), ("XChaCha20Poly1305",))
    assert choose(offer, compression="Gzip").compression_type == "Gzip"
    assert choose(offer, compression="Zlib").compression_type is None
    assert choose(offer).compression_type is None


def test_level_is_passed_through_as_given() -> None:
    offer = HandshakeOptions((), ())
    assert choose(offer, level="Nine").compression_level == "Nine"
    assert choose(offer).compression_level is None
    # A level is sent even when no compression is chosen, as Rust does.
    assert choose(offer, compression="Gzip", level="One") == HandshakeChoice("One", None, None)


def test_encryption_preferred_then_first_known_then_none() -> None:
    known = KNOWN_ENCRYPTION_TYPES | {COUNTER}
    both = HandshakeOptions((), ("Foo", COUNTER, "XChaCha20Poly1305"))
    assert choose(both).encryption_type == "XChaCha20Poly1305"
    assert choose(both, encryption=COUNTER, known_encryption_types=known).encryption_type == (
        COUNTER
    )
    only_counter = HandshakeOptions((), ("Foo", COUNTER))
    # Preferred not offered: the first *known* offered type, skipping unknown ones.
    assert choose(only_counter).encryption_type is None
    assert choose(only_counter, known_encryption_types=known).encryption_type == COUNTER
    assert choose(HandshakeOptions((), ())).encryption_type is None
    assert choose(HandshakeOptions((), ("Foo", "Bar"))).encryption_type is None


def test_no_preference_still_falls_back_like_rust() -> None:
    offer = default_server_options()
    assert choose(offer, encryption=None).encryption_type == "XChaCha20Poly1305"


def test_encrypt_false_chooses_plain_frames() -> None:
    choice = choose(default_server_options(), encrypt=False)
    assert choice == HandshakeChoice(None, None, None)
    assert validate_choice(choice).encryption_type is None


@pytest.mark.parametrize(
    "kwargs",
    [{"compression": "Brotli"}, {"level": "Ten"}, {"level": "6"}, {"encryption": "Foo"}],
)
def test_unknown_preferences_are_value_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        choose(default_server_options(), **kwargs)


name = st.sampled_from(["Deflate", "Gzip", "Zlib", "XChaCha20Poly1305", COUNTER, "Foo", "Unknown"])


@given(
    ctypes=st.lists(name, max_size=5),
    etypes=st.lists(name, max_size=5),
    compression=st.sampled_from([None, *COMPRESSION_TYPES]),
    level=st.sampled_from([None, *COMPRESSION_LEVELS]),
    encryption=st.sampled_from([None, "XChaCha20Poly1305", COUNTER]),
    extend=st.booleans(),
)
def test_selection_rule_properties(
    *,
    ctypes: list[str],
    etypes: list[str],
    compression: str | None,
    level: str | None,
    encryption: str | None,
    extend: bool,
) -> None:
    known = KNOWN_ENCRYPTION_TYPES | {COUNTER} if extend else KNOWN_ENCRYPTION_TYPES
    if encryption is not None and encryption not in known:
        return
    offer = HandshakeOptions(tuple(ctypes), tuple(etypes))
    choice = choose(
        offer,
        compression=compression,
        level=level,
        encryption=encryption,
        known_encryption_types=known,
    )
    assert choice.compression_level == level
    assert choice.compression_type == (compression if compression in ctypes else None)
    if encryption in etypes:
        assert choice.encryption_type == encryption
    else:
        assert choice.encryption_type == next((t for t in etypes if t in known), None)
    # Whatever the client chose, a server that knows the same ciphers accepts it.
    negotiated = validate_choice(choice, known_encryption_types=known, offered=offer)
    assert negotiated.encryption_type == choice.encryption_type


# --- server-side validation ----------------------------------------------------------


def test_validate_choice_returns_codec_types_with_default_level() -> None:
    negotiated = validate_choice(HandshakeChoice(None, "Gzip", "XChaCha20Poly1305"))
    assert negotiated.compression_type is CompressionType.Gzip
    assert negotiated.compression_level is CompressionLevel.Six
    assert negotiated.encryption_type == "XChaCha20Poly1305"
    negotiated = validate_choice(HandshakeChoice("Zero", None, None))
    assert negotiated.compression_type is None
    assert negotiated.compression_level is CompressionLevel.Zero
    assert negotiated.encryption_type is None


@pytest.mark.parametrize(
    "choice",
    [
        HandshakeChoice(None, None, "Foo"),
        HandshakeChoice(None, None, UNKNOWN),
        HandshakeChoice(None, None, COUNTER),
        HandshakeChoice(None, "Brotli", "XChaCha20Poly1305"),
        HandshakeChoice("Ten", None, "XChaCha20Poly1305"),
    ],
)
def test_validate_choice_rejects_unknown_names(choice: HandshakeChoice) -> None:
    with pytest.raises(RemoteProtocolError):
        validate_choice(choice)


def test_validate_choice_accepts_extension_ciphers_when_known() -> None:
    choice = HandshakeChoice(None, None, COUNTER)
    known = KNOWN_ENCRYPTION_TYPES | {COUNTER}
    assert validate_choice(choice, known_encryption_types=known).encryption_type == COUNTER


def test_validate_choice_does_not_check_the_offer_unless_asked() -> None:
    offer = HandshakeOptions(("Gzip",), ("XChaCha20Poly1305",))
    choice = HandshakeChoice(None, "Zlib", "XChaCha20Poly1305")
    assert validate_choice(choice).compression_type is CompressionType.Zlib
    with pytest.raises(RemoteProtocolError):
        validate_choice(choice, offered=offer)
    with pytest.raises(RemoteProtocolError):
        validate_choice(
            HandshakeChoice(None, None, COUNTER),
            known_encryption_types={COUNTER},
            offered=offer,
        )


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_codec_error(data: bytes) -> None:
    for decoder in (HandshakeOptions.from_msgpack, HandshakeChoice.from_msgpack):
        with contextlib.suppress(CodecError):
            decoder(data)


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.text(max_size=20),
    st.binary(max_size=8),
)
_obj = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "compression_types",
                    "encryption_types",
                    "compression_level",
                    "compression_type",
                    "encryption_type",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@given(_obj)
def test_random_msgpack_objects_only_raise_codec_error(obj: object) -> None:
    data = packb(obj)
    for decoder in (HandshakeOptions.from_msgpack, HandshakeChoice.from_msgpack):
        with contextlib.suppress(CodecError):
            decoder(data)
