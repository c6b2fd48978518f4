"""Map-string parsing errors and round trips (the vectors are in test_vectors)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distant_codec import CodecError, format_options, parse_options

from .strategies import option_keys


@pytest.mark.parametrize(
    "text", ["=value", "1key=v", "key", 'key="unterminated', 'key="v" trailing', "a=1,,"]
)
def test_bad_maps(text: str) -> None:
    with pytest.raises(CodecError):
        parse_options(text)


def test_empty_and_quoted() -> None:
    assert parse_options("") == {}
    assert parse_options("   ") == {}
    assert format_options({"k": 'a"b'}) == 'k="a\\"b"'


@given(st.dictionaries(option_keys, st.text(max_size=20), max_size=5))
def test_display_then_parse(options: dict[str, str]) -> None:
    assert parse_options(format_options(options)) == options
