"""The plugin interface: how the manager reaches servers (§9.4).

A plugin turns a destination into a :class:`ServerLink`, a connection that carries
positional envelopes (§6) to and from a distant API server, and may *launch* a server and
report the destination to connect to. Built-in and external plugins share this interface.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Protocol

from distant_codec import Destination
from distant_net import (
    AsyncAuthHandler,
    AuthenticationError,
    HandshakeError,
    find_os_error,
)

__all__ = ["ServerLink", "Plugin", "PluginError", "connection_errors"]


class PluginError(Exception):
    """A plugin could not launch or connect; the text goes back to the user."""


@contextmanager
def connection_errors(where: str) -> Iterator[None]:
    """Turn the ways a distant-net connection to ``where`` fails (a refused key, a broken
    handshake, a timeout, a socket error) into one-line :class:`PluginError` texts."""
    try:
        yield
    except AuthenticationError as exc:
        raise PluginError(f"authentication with {where} failed: {exc}") from None
    except HandshakeError as exc:
        raise PluginError(f"{where}: {exc}") from None
    except TimeoutError:
        raise PluginError(f"cannot connect to {where}: timed out") from None
    except OSError as exc:
        os_error = find_os_error(exc) or exc
        reason = os.strerror(os_error.errno) if os_error.errno else str(os_error)
        raise PluginError(f"cannot connect to {where}: {reason}") from None


class ServerLink(Protocol):
    """A live connection to a server (a :class:`distant_net.Connection` is one)."""

    @property
    def closed(self) -> bool: ...

    @property
    def close_reason(self) -> str | None: ...

    async def send(self, item: bytes) -> None: ...

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self, reason: str = ...) -> None: ...


class Plugin(Protocol):
    """``name`` is for messages; ``schemes`` are the destination schemes it serves."""

    name: str
    schemes: tuple[str, ...]

    def connect(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> AbstractAsyncContextManager[ServerLink]:
        """Connect; the link lives until the context exits (when the connection is killed,
        or the manager stops), which also releases whatever the plugin holds for it."""
        ...

    async def launch(
        self, destination: Destination, options: dict[str, str], auth: AsyncAuthHandler
    ) -> Destination:
        """Start a server reachable through ``destination``; return where to connect."""
        ...

    async def aclose(self) -> None:
        """The manager is stopping: release everything (launched servers, processes)."""
        ...
