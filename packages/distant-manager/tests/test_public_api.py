"""Pins the public API of distant_manager: the package imports and exports what it declares."""

import distant_manager


def test_public_api() -> None:
    assert distant_manager.__all__ == []
    assert distant_manager.__doc__
