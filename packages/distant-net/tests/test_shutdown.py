"""Shutdown policy parsing (§8.1); the timing behaviour is tested in test_server."""

import pytest

from distant_net import Shutdown


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("never", Shutdown.never()),
        ("after=5", Shutdown.after(5)),
        ("lonely=2.5", Shutdown.lonely(2.5)),
        (" Lonely = 3 ", Shutdown.lonely(3)),
    ],
)
def test_parse(text: str, expected: Shutdown) -> None:
    assert Shutdown.parse(text) == expected
    assert Shutdown.parse(str(expected)) == expected


@pytest.mark.parametrize("bad", ["", "sometimes", "after", "after=x", "lonely=-1"])
def test_bad(bad: str) -> None:
    with pytest.raises(ValueError, match="never, after=N or lonely=N"):
        Shutdown.parse(bad)
