"""Pins the public API of distant_net: the package imports and exports what it declares."""

import distant_net


def test_public_api() -> None:
    assert distant_net.__all__ == []
    assert distant_net.__doc__
