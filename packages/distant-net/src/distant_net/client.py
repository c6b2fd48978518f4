"""A generic request/response client over a :class:`~distant_net.connection.Connection`.

Responses are routed by ``origin_id`` to mailboxes. A mailbox is bounded; when it is full
the router waits (backpressure) rather than drop anything. Responses whose ``origin_id``
nobody is waiting for (a stream still running after its first reply was taken, say) are
kept in a bounded queue per origin until :meth:`Client.subscribe` claims them; nothing is
dropped while nobody awaits it.

:meth:`Client.request` (one reply) is the hot path: it waits on a one-shot slot rather than a
mailbox, which the router fills and unregisters in one step, so later replies with the same
id go straight to the unclaimed queue.
"""

from __future__ import annotations

import logging
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
            if timeout is None:  # no cancel scope to set up: the common case
                return await self._receive.receive()
            with anyio.fail_after(timeout):
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
            try:
                self._send.send_nowait(response)  # no scheduler round trip when there is room
            except anyio.WouldBlock:
                await self._send.send(response)  # full: wait for the owner (backpressure)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        return True

    def _close(self, error: str | None = None) -> None:
        self._error = error
        self._send.close()

    def _release(self) -> None:
        self._receive.close()


class _Reply(Generic[Resp]):
    """The one reply :meth:`Client.request` waits for: filled (or closed) by the router."""

    __slots__ = ("done", "error", "response")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.response: Response[Resp] | None = None
        self.error: str | None = None

    def close(self, error: str | None) -> None:
        self.error = error
        self.done.set()


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
        self._replies: dict[str, _Reply[Resp]] = {}
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
        """Send and await the single reply; :class:`RequestTimeout` after ``timeout``
        seconds, :class:`ConnectionClosed` once the connection is gone. Later replies with
        the same id wait in the unclaimed queue (see :meth:`subscribe`)."""
        request = Request(payload, header=dict(header or {}))
        origin = request.id
        reply: _Reply[Resp] = _Reply()
        self._replies[origin] = reply  # before the request leaves: no reply can be missed
        try:
            await self.connection.send(request.to_bytes(self.request_kind))
            if timeout is None:
                await reply.done.wait()
            else:
                with anyio.move_on_after(timeout):
                    await reply.done.wait()
        except BaseException:
            if reply.response is not None:  # it arrived, but we are cancelled: keep it
                self._keep_unclaimed(reply.response)
            raise
        finally:
            if self._replies.get(origin) is reply:
                del self._replies[origin]
        if reply.response is not None:
            return reply.response
        if reply.done.is_set():
            raise ConnectionClosed(reply.error or "the connection closed")
        raise RequestTimeout(f"no response to {origin!r} in {timeout} s")

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

    def release(self, mailbox: Mailbox[Resp]) -> None:
        """Stop receiving into a mailbox from :meth:`subscribe`; replies already in it that
        were not read stay queued as unclaimed."""
        self._retire(mailbox)

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
            for reply in self._replies.values():
                reply.close(error)

    async def _deliver(self, response: Response[Resp]) -> None:
        origin = response.origin_id
        reply = self._replies.pop(origin, None)
        if reply is not None:  # the first reply to a request(): later ones are unclaimed
            reply.response = response
            reply.done.set()
            return
        box = self._mailboxes.get(origin)
        if box is not None and await box._put(response):
            return
        if box is not None:  # its owner is done with it: later replies are unclaimed
            del self._mailboxes[origin]
        box = self._unclaimed.get(origin)
        if box is None:
            box = self._unclaimed[origin] = Mailbox(origin, self.mailbox_size)
        await box._put(response)

    def _keep_unclaimed(self, response: Response[Resp]) -> None:
        """Queue a reply that was taken for a request() whose caller then went away."""
        origin = response.origin_id
        box = self._unclaimed.get(origin)
        if box is None:
            box = self._unclaimed[origin] = Mailbox(origin, self.mailbox_size)
        try:
            # Only possible where a woken task can still be cancelled (asyncio); a later
            # reply routed in that instant would then precede this one in the queue.
            box._send.send_nowait(response)
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            log.warning("dropping a reply to %s: its unclaimed queue is full or closed", origin)
