"""Pins the public API of distant_plugins: the package imports and exports what it declares."""

import distant_plugins


def test_public_api() -> None:
    assert distant_plugins.__all__ == []
    assert distant_plugins.__doc__
