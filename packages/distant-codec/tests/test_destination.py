"""Destinations and the credentials a server prints (§8.1)."""

import pytest

from distant_codec import CodecError, Destination, find_credentials, format_credentials

KEY = "3f" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssh://user@host:22", Destination("host", "ssh", "user", None, 22)),
        ("host", Destination("host")),
        ("DISTANT://:abc@10.0.0.1:8080", Destination("10.0.0.1", "distant", None, "abc", 8080)),
        ("[::1]:22", Destination("::1", port=22)),
        ("::1", Destination("::1")),
        ("docker://my-container", Destination("my-container", "docker")),
        ("u:p@h", Destination("h", None, "u", "p")),
    ],
)
def test_parse_and_display(text: str, expected: Destination) -> None:
    assert Destination.parse(text) == expected
    assert Destination.parse(str(expected)) == expected


@pytest.mark.parametrize("bad", ["", "ssh://", "h:99999", "h:x", "[::1", "[::1]x"])
def test_bad(bad: str) -> None:
    with pytest.raises(CodecError):
        Destination.parse(bad)


def test_credentials_block_of_server_listen() -> None:
    block = "\r\n" + format_credentials(KEY, "0.0.0.0", 41234) + "\n\r\n"
    assert block == f"\r\ndistant://:{KEY}@0.0.0.0:41234\n\r\n"
    found = find_credentials("noise [distant server detached, pid = 5]\n" + block, strict=True)
    assert found == Destination("0.0.0.0", "distant", None, KEY, 41234)
    assert format_credentials(KEY, "::", 1) == f"distant://:{KEY}@[::]:1"


def test_finder_rules() -> None:
    assert find_credentials(f"xdistant://:{KEY}@h:1", strict=True) is None
    assert find_credentials(f"xdistant://:{KEY}@h:1") is not None
    assert find_credentials("distant://:short@h:1") is None
    assert Destination.parse(f"distant://:{KEY}@h:1").redacted() == "distant://:***@h:1"
