"""Pins the public API of distant_server: the package imports and exports what it declares."""

import distant_server


def test_public_api() -> None:
    for name in distant_server.__all__:
        assert hasattr(distant_server, name), name
    assert distant_server.__doc__
