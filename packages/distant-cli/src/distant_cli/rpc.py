"""One-shot requests over a channel, for commands that send one request and print its reply.

Fast-path safe: imports neither click nor anyio.
"""

from __future__ import annotations

from typing import Any, TypeVar

from distant_codec import Error, Msg

from .errors import CliError
from .session import Globals, open_channel

__all__ = ["call", "expect"]

T = TypeVar("T")


def expect(payload: Any, kind: type[T]) -> T:
    """``payload`` if it is a ``kind``; the server's ``error`` becomes a :class:`CliError`."""
    if isinstance(payload, kind):
        return payload
    if isinstance(payload, Error):
        raise CliError(payload.description)
    raise CliError(f"unexpected response from the server: {type(payload).__name__}")


def call(g: Globals, connection: int | None, request: Any, kind: type[T]) -> T:
    """Open a channel to the resolved connection, send ``request``, return the reply."""
    client, channel, _cid = open_channel(g, connection)
    try:
        response = channel.request(Msg.single(request))
        return expect(response.payload.value, kind)
    finally:
        client.close()
