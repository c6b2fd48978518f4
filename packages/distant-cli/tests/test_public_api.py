"""Pins the public API of distant_cli: the package imports and exports what it declares."""

import distant_cli


def test_public_api() -> None:
    assert distant_cli.__all__ == ["__version__", "main"]
    assert distant_cli.__version__
    assert callable(distant_cli.main)
    assert distant_cli.__doc__
