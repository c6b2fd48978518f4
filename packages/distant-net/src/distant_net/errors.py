"""The exceptions of distant-net: one flat tree under :class:`NetError`."""

from __future__ import annotations

__all__ = [
    "NetError",
    "ConnectionClosed",
    "HandshakeError",
    "IncompatibleVersion",
    "AuthenticationError",
    "ReconnectFailed",
    "RequestTimeout",
]


class NetError(Exception):
    """Base of every error raised by distant-net."""


class ConnectionClosed(NetError):
    """The connection is closed (locally, by the peer, or after reconnection gave up)."""


class HandshakeError(NetError):
    """The peer broke the connection bootstrap of §3.1 (bad frame, bad choice, EOF...)."""


class IncompatibleVersion(HandshakeError):
    """The server's protocol version is not compatible with ours (§3.2)."""


class AuthenticationError(HandshakeError):
    """Authentication failed: a fatal auth_error, or the server closed during the dialogue."""


class ReconnectFailed(ConnectionClosed):
    """The reconnect strategy ran out of attempts (or is ``fail``)."""


class RequestTimeout(NetError):
    """No reply arrived in time."""
