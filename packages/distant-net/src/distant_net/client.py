"""A generic request/response client over a :class:`~distant_net.connection.Connection`.

Responses are routed by ``origin_id`` to mailboxes. A mailbox is bounded; when it is full
the router waits (backpressure) rather than drop anything. Responses whose ``origin_id``
nobody is waiting for (a stream still running after its first reply was taken, say) are
kept in a bounded queue per origin until :meth:`Client.subscribe` claims them; nothing is
dropped while nobody awaits it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Generic, TypeVar

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from distant_codec import CodecError, Header, Kind, Msg, MsgKind, Request, Response

from .connection import Connection
from .errors import ConnectionClosed, RequestTimeout

__all__ = ["Client", "Mailbox", "DEFAULT_MAILBOX_SIZE"]

log = logging.getLogger("distant_net.client")

Req = TypeVar("Req")
Resp = TypeVar("Resp")

DEFAULT_MAILBOX_SIZE = 1024


class Mailbox(Generic[Resp]):
    """The responses to one request, in arrival order; iterate it, or call :meth:`next`."""

    def __init__(self, origin_id: str, size: int) -> None:
        self.origin_id = origin_id
        self._send: MemoryObjectSendStream[Response[Resp]]
        self._receive: MemoryObjectReceiveStream[Response[Resp]]
        self._send, self._receive = anyio.create_memory_object_stream[Response[Resp]](size)
        self._error: str | None = None

    async def next(self, timeout: float | None = None) -> Response[Resp]:
        """The next response; :class:`RequestTimeout` after ``timeout`` seconds, and
        :class:`ConnectionClosed` once the connection is gone."""
        try:
            with anyio.fail_after(timeout if timeout is not None else math.inf):
                return await self._receive.receive()
        except TimeoutError:
            raise RequestTimeout(f"no response to {self.origin_id!r} in {timeout} s") from None
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise ConnectionClosed(self._error or "the connection closed") from None

    def __aiter__(self) -> AsyncIterator[Response[Resp]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Response[Resp]]:
        while True:
            try:
                yield await self.next()
            except ConnectionClosed:
                return

    @property
    def pending(self) -> int:
        return self._receive.statistics().current_buffer_used

    async def _put(self, response: Response[Resp]) -> bool:
        """Deliver; False if the owner stopped listening."""
        try:
            await self._send.send(response)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        return True

    def _close(self, error: str | None = None) -> None:
        self._error = error
        self._send.close()

    def _release(self) -> None:
        self._receive.close()


class Client(Generic[Req, Resp]):
    """Use as ``async with Client(conn, REQUEST_KIND, RESPONSE_KIND) as client:``."""

    def __init__(
        self,
        connection: Connection,
        request_kind: Kind[Req],
        response_kind: Kind[Resp],
        *,
        mailbox_size: int = DEFAULT_MAILBOX_SIZE,
    ) -> None:
        self.connection = connection
        self.request_kind = request_kind
        self.response_kind = response_kind
        self.mailbox_size = mailbox_size
        self._mailboxes: dict[str, Mailbox[Resp]] = {}
        self._unclaimed: dict[str, Mailbox[Resp]] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> Client[Req, Resp]:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._route)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        return await self._tg.__aexit__(exc_type, exc, tb)

    # -- sending ---------------------------------------------------------------------------

    async def fire(self, payload: Req, *, header: Header | None = None) -> str:
        """Send without waiting for anything; returns the request id. Replies, if any,
        wait in the unclaimed queue of that id."""
        request = Request(payload, header=dict(header or {}))
        await self.connection.send(request.to_bytes(self.request_kind))
        return request.id

    async def request(
        self, payload: Req, *, header: Header | None = None, timeout: float | None = None
    ) -> Response[Resp]:
        """Send and await the single reply."""
        async with self.stream(payload, header=header) as mailbox:
            return await mailbox.next(timeout)

    @asynccontextmanager
    async def stream(
        self, payload: Req, *, header: Header | None = None
    ) -> AsyncIterator[Mailbox[Resp]]:
        """Send and yield the mailbox of every reply with this request's id. The mailbox
        is registered before the request leaves, so no reply can be missed."""
        request = Request(payload, header=dict(header or {}))
        mailbox: Mailbox[Resp] = Mailbox(request.id, self.mailbox_size)
        self._mailboxes[request.id] = mailbox
        try:
            await self.connection.send(request.to_bytes(self.request_kind))
            yield mailbox
        finally:
            self._retire(mailbox)

    async def batch(
        self,
        payloads: Iterable[Any],
        *,
        sequence: bool = False,
        timeout: float | None = None,
    ) -> Response[Resp]:
        """Send several payloads as one ``Msg`` batch (§7.2); ``sequence`` runs them in
        order and stops at the first error. Requires a ``Msg`` request kind."""
        if not isinstance(self.request_kind, MsgKind):
            raise TypeError("batch() needs a client whose request kind is a MsgKind")
        header: Header = {"sequence": True} if sequence else {}
        msg: Any = Msg.batch(payloads)
        return await self.request(msg, header=header, timeout=timeout)

    def _retire(self, mailbox: Mailbox[Resp]) -> None:
        """Its owner is done with ``mailbox``. Replies already in it that nobody read stay
        queued as unclaimed (never dropped); an empty one is released."""
        origin = mailbox.origin_id
        if self._mailboxes.get(origin) is mailbox:
            del self._mailboxes[origin]
            if mailbox.pending:
                self._unclaimed[origin] = mailbox
                return
        mailbox._release()

    def subscribe(self, origin_id: str) -> Mailbox[Resp]:
        """Claim the responses to ``origin_id`` that nobody awaited, and all later ones."""
        mailbox = self._unclaimed.pop(origin_id, None)
        if mailbox is None:
            mailbox = Mailbox(origin_id, self.mailbox_size)
        self._mailboxes[origin_id] = mailbox
        return mailbox

    def unclaimed(self) -> dict[str, int]:
        """Origin ids with responses nobody has claimed yet, and how many of each."""
        return {origin: box.pending for origin, box in self._unclaimed.items()}

    # -- routing ---------------------------------------------------------------------------

    async def _route(self) -> None:
        error: str | None = None
        try:
            async for item in self.connection:
                try:
                    response = Response.from_bytes(item, self.response_kind)
                except CodecError as exc:
                    log.warning("ignoring a frame that is not a response: %s", exc)
                    continue
                await self._deliver(response)
            error = self.connection.close_reason
        finally:
            for box in (*self._mailboxes.values(), *self._unclaimed.values()):
                box._close(error)

    async def _deliver(self, response: Response[Resp]) -> None:
        origin = response.origin_id
        box = self._mailboxes.get(origin)
        if box is not None and await box._put(response):
            return
        if box is not None:  # its owner is done with it: later replies are unclaimed
            del self._mailboxes[origin]
        box = self._unclaimed.get(origin)
        if box is None:
            box = self._unclaimed[origin] = Mailbox(origin, self.mailbox_size)
        await box._put(response)
