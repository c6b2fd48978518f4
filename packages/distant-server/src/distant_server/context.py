"""What an API operation sees of its request and its connection."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from distant_codec.extensions import ExtendedResponse

__all__ = ["ApiContext", "ConnectionState", "Resource"]

log = logging.getLogger("distant_server")

R = TypeVar("R", bound="Resource")


class Resource(Protocol):
    """Something a connection owns (processes, watches, tunnels...), released with it."""

    async def aclose(self) -> None: ...


class ConnectionState:
    """Per-connection state: resources created on first use and closed with the connection.

    Closing a connection kills its processes and closes its watches and tunnels: each is a
    :class:`Resource` whose ``aclose`` does that.
    """

    def __init__(self, connection_id: int) -> None:
        self.connection_id = connection_id
        self._resources: dict[type[Any], Resource] = {}

    def resource(self, cls: type[R], factory: Callable[[], R] | None = None) -> R:
        """The connection's instance of ``cls``, made with ``factory`` (or ``cls()``) the
        first time it is asked for."""
        found = self._resources.get(cls)
        if found is None:
            found = self._resources[cls] = (factory or cls)()
        return found  # type: ignore[return-value]

    def existing(self, cls: type[R]) -> R | None:
        return self._resources.get(cls)  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Close every resource, newest first; one failing does not stop the others."""
        for resource in reversed(list(self._resources.values())):
            try:
                await resource.aclose()
            except Exception:
                log.exception("connection %d: closing %r failed", self.connection_id, resource)
        self._resources.clear()


class ApiContext:
    """The request being answered.

    An operation returns its main reply. Work that produces more replies afterwards (a
    process's output, a watch, a search, a tunnel) is registered with :meth:`after_reply`:
    it starts only once the main reply is on its way, so e.g. ``proc_spawned`` always
    precedes the first ``proc_stdout`` (§5.2). It runs in this request's task, which is
    cancelled when the connection closes.
    """

    def __init__(
        self,
        connection: ConnectionState,
        send: Callable[[ExtendedResponse], Awaitable[None]],
        *,
        request_id: str = "",
    ) -> None:
        self.connection = connection
        self.request_id = request_id
        self._send = send
        self._followups: list[Callable[[], Coroutine[Any, Any, None]]] = []

    @property
    def connection_id(self) -> int:
        return self.connection.connection_id

    async def send(self, payload: ExtendedResponse) -> None:
        """Send one streamed follow-up (always a single ``Msg``, never a batch, §7.2)."""
        await self._send(payload)

    def after_reply(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work`` once the main reply has been sent."""
        self._followups.append(work)

    def take_followups(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        work, self._followups = self._followups, []
        return work
