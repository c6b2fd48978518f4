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
    "ReplyTooLarge",
    "find_os_error",
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


class ReplyTooLarge(NetError):
    """A reply larger than the largest frame the peer accepts; it was not sent."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the reply is {size} bytes, over the {limit}-byte frame limit")
        self.size = size
        self.limit = limit


def find_os_error(exc: BaseException) -> OSError | None:
    """The first ``OSError`` with an errno in ``exc``, its causes, contexts and exception
    groups (anyio wraps connect failures, e.g. "All connection attempts failed")."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.errno is not None:
            return item
        if isinstance(item, BaseExceptionGroup):
            todo.extend(item.exceptions)
        for linked in (item.__cause__, item.__context__):
            if linked is not None:
                todo.append(linked)
    return None
