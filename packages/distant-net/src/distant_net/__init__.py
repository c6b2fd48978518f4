"""Encrypted distant connections on anyio: transports, framed connections with heartbeats, replay
and reconnect, and a generic client and server.

This package is a skeleton: its code lands with its own issue.
"""

__all__: list[str] = []
