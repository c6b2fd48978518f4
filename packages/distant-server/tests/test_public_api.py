"""Pins the public API of distant_server: the package imports and exports what it declares."""

import distant_server
from distant_server.host.tunnels import TcpNetwork, TunnelOps


def test_public_api() -> None:
    for name in distant_server.__all__:
        assert hasattr(distant_server, name), name
    assert distant_server.__doc__


def test_the_generic_tunnels_are_public_and_the_host_uses_them() -> None:
    for name in ("NetworkTunnelOps", "TunnelNetwork", "TunnelListener", "AcceptedStream"):
        assert name in distant_server.__all__, name
    assert issubclass(TunnelOps, distant_server.NetworkTunnelOps)
    assert isinstance(TunnelOps().tunnel_network(), TcpNetwork)
