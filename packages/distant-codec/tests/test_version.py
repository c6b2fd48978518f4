"""Version bytes and the §3.2 compatibility rule."""

import pytest

from distant_codec import PROTOCOL_VERSION, CodecError, ProtocolVersion


def test_protocol_version_bytes() -> None:
    assert PROTOCOL_VERSION.to_bytes().hex() == "0" * 30 + "15" + "0" * 16
    assert str(PROTOCOL_VERSION) == "0.21.0"


@pytest.mark.parametrize(
    ("client", "server", "ok"),
    [
        ("0.21.0", "0.21.0", True),
        ("0.21.0", "0.21.7", True),
        ("0.21.0", "0.22.0", False),
        ("0.21.3", "0.21.2", False),
        ("0.21.0", "0.20.9", False),
        ("1.2.0", "1.9.0", True),
        ("1.2.0", "2.0.0", False),
        ("1.2.0", "1.1.9", False),
    ],
)
def test_compatibility(client: str, server: str, ok: bool) -> None:
    assert ProtocolVersion.parse(client).is_compatible_with(ProtocolVersion.parse(server)) is ok


def test_parse_drops_prerelease_and_build() -> None:
    assert ProtocolVersion.parse("0.21.0-dev+abc") == ProtocolVersion(0, 21, 0)


@pytest.mark.parametrize("bad", [b"", b"\0" * 23, b"\0" * 25])
def test_wrong_length(bad: bytes) -> None:
    with pytest.raises(CodecError):
        ProtocolVersion.from_bytes(bad)
