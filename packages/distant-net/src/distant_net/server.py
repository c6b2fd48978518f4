"""A generic server: accepts links, runs the handshake, and hands requests to a handler.

* Each connection has its own state (from :meth:`Handler.on_connect`) and handles its
  requests concurrently, each in its own task.
* A link that dies is not the end of a connection: the client may reconnect (§5.4) within
  ``grace`` seconds, and what each side missed is replayed. Past that, the connection is
  closed and :meth:`Handler.on_disconnect` runs (where processes get killed).
* A peer that sends a bad handshake, a wrong key, a bad OTP, an oversized or undecodable
  frame is disconnected with one logged line naming it and the reason; nothing else is
  affected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.abc

from distant_auth import Keychain, SecretKey
from distant_codec import (
    DEFAULT_MAX_ITEM_SIZE,
    CodecError,
    Header,
    Kind,
    Request,
    Response,
    UntypedResponse,
    new_id,
)

from .connection import DEFAULT_HEARTBEAT, Connection
from .errors import ConnectionClosed, HandshakeError, ReplyTooLarge
from .framed import TRANSPORT_ERRORS, FramedTransport
from .handshake import NewConnection, Reconnection, ServerSettings, server_accept
from .shutdown import Shutdown
from .workers import Lanes, WorkerPool

__all__ = ["Server", "Handler", "RequestContext", "ConnectionInfo"]

log = logging.getLogger("distant_net.server")

_HANDSHAKE_ERRORS = (HandshakeError, CodecError, TimeoutError, *TRANSPORT_ERRORS)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
State = TypeVar("State")
State_co = TypeVar("State_co", covariant=True)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    connection_id: int
    peer: str
    method: str | None


@dataclass(slots=True)
class RequestContext(Generic[Req, Resp, State]):
    """One request being handled: reply to it any number of times (streams)."""

    connection_id: int
    request: Request[Req]
    state: State
    _connection: Connection = field(repr=False)
    _response_kind: Kind[Resp] = field(repr=False)
    _max_item_size: int = field(default=DEFAULT_MAX_ITEM_SIZE, repr=False)

    async def reply(self, payload: Resp, *, header: Header | None = None) -> None:
        """Send a reply; :class:`ReplyTooLarge` (nothing sent) if it would not fit in one
        frame the peer accepts: sent anyway, it would break the link, and be replayed into
        the same wall after every reconnect."""
        response = Response(self.request.id, payload, header=dict(header or {}))
        await self._send(response.to_bytes(self._response_kind))

    async def reply_encoded(self, payload: bytes, *, header: Header | None = None) -> None:
        """Reply with a payload that is already msgpack (a forwarding hot path)."""
        response = UntypedResponse(new_id(), self.request.id, payload, dict(header or {}))
        await self._send(response.to_bytes())

    async def _send(self, item: bytes) -> None:
        if len(item) > self._max_item_size:
            raise ReplyTooLarge(len(item), self._max_item_size)
        await self._connection.send(item)


class Handler(Protocol[Req, Resp, State]):
    """``lane_of`` (optional) names the lane of a request that must run after the earlier
    requests of the same lane, in arrival order (e.g. writes to one process's stdin);
    ``None`` for requests that may run concurrently with everything."""

    async def on_connect(self, info: ConnectionInfo) -> State: ...

    async def on_request(self, ctx: RequestContext[Req, Resp, State]) -> None: ...

    async def on_disconnect(self, state: State) -> None: ...


class Server(Generic[Req, Resp, State]):
    """``await server.serve(listener)`` until the shutdown policy fires or it is cancelled."""

    def __init__(
        self,
        handler: Handler[Req, Resp, State],
        *,
        request_kind: Kind[Req],
        response_kind: Kind[Resp],
        settings: ServerSettings,
        shutdown: Shutdown | None = None,
        heartbeat: float | None = DEFAULT_HEARTBEAT,
        grace: float = 300.0,
        handshake_timeout: float = 60.0,
        max_item_size: int = DEFAULT_MAX_ITEM_SIZE,
        replay_bytes: int | None = None,
    ) -> None:
        """``replay_bytes`` bounds each connection's backup of sent frames (§5.4); 0 keeps
        none, for clients that never reconnect (the manager's local socket)."""
        self.handler = handler
        self.replay_bytes = replay_bytes
        self.request_kind = request_kind
        self.response_kind = response_kind
        self.settings = settings
        self.shutdown = shutdown or Shutdown.never()
        self.heartbeat = heartbeat
        self.grace = grace
        self.handshake_timeout = handshake_timeout
        self.max_item_size = max_item_size
        self.keychain = Keychain()
        self._previous_otp: dict[int, SecretKey] = {}
        self.connections: dict[int, Connection] = {}
        self._count_changed = anyio.Event()
        self._tg: anyio.abc.TaskGroup | None = None

    async def serve(
        self,
        listener: anyio.abc.Listener[Any],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._watch_shutdown, tg.cancel_scope)
            tg.start_soon(listener.serve, self.handle_stream, tg)
            task_status.started()
        log.info("server stopped")

    async def kill(self, connection_id: int) -> bool:
        """Close a connection for good (its handler's on_disconnect runs)."""
        conn = self.connections.get(connection_id)
        if conn is None:
            return False
        await conn.aclose("killed")
        return True

    # -- per link --------------------------------------------------------------------------

    async def handle_stream(self, stream: anyio.abc.ByteStream) -> None:
        """Serve one link (what :meth:`serve` does for each accepted stream); public for
        links that do not come from a listener, such as an in-memory pair."""
        transport = FramedTransport(stream, max_item_size=self.max_item_size)
        peer = transport.peer
        try:
            with anyio.fail_after(self.handshake_timeout):
                result = await server_accept(
                    transport,
                    settings=self.settings,
                    keychain=self.keychain,
                    is_taken=self.connections.__contains__,
                    previous_otp=self._previous_otp,
                    replay_bytes=self.replay_bytes,
                )
                if not isinstance(result, NewConnection):
                    await self._resume(result, transport, peer)
                    return
        except _HANDSHAKE_ERRORS as exc:
            log.warning("closing connection from %s: %s", peer, _describe(exc))
            await transport.aclose()
            return
        except Exception:
            # A bug, not the peer's fault; still, one link must not take the server down.
            log.exception("closing connection from %s: unexpected error in the handshake", peer)
            await transport.aclose()
            return
        try:
            await self._run_connection(result, transport, peer)
        except Exception:
            log.exception("connection %d from %s failed", result.connection_id, peer)

    async def _resume(self, result: Reconnection, transport: FramedTransport, peer: str) -> None:
        connection_id = result.connection_id
        conn = self.connections.get(connection_id)
        if conn is None or conn.closed:
            raise HandshakeError(f"connection {connection_id} no longer exists")
        try:
            await conn.attach(transport, synchronize_first=True)
        except ConnectionClosed as exc:
            raise HandshakeError(str(exc)) from None
        # The OTP this reconnection was opened with is spent now; but a later attempt
        # (begun while this one was finishing on a dead link) may have replaced it with
        # the one it offered, which must stay valid until that attempt completes.
        if self._previous_otp.get(connection_id) is result.otp:
            del self._previous_otp[connection_id]
        log.info("connection %d resumed from %s", connection_id, peer)

    async def _run_connection(
        self, new: NewConnection, transport: FramedTransport, peer: str
    ) -> None:
        cid = new.connection_id
        info = ConnectionInfo(cid, peer, new.method)
        async with Connection(cid, new.replay, heartbeat=self.heartbeat, name="server") as conn:
            await conn.attach(transport, synchronize_first=False)
            self.connections[cid] = conn
            self._signal_count()
            log.info("connection %d from %s (auth: %s)", cid, peer, new.method)
            state = await self.handler.on_connect(info)
            try:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._expire_when_gone, conn)
                    workers: WorkerPool[RequestContext[Req, Resp, State]]
                    workers = WorkerPool(tg, self._dispatch)
                    lanes: Lanes[RequestContext[Req, Resp, State]] = Lanes(tg, self._dispatch)
                    lane_of = getattr(self.handler, "lane_of", None)
                    async for item in conn:
                        try:
                            request = Request.from_bytes(item, self.request_kind)
                        except CodecError as exc:
                            # Upstream ignores frames it cannot parse as a request (§5.1).
                            log.warning("connection %d: ignoring a bad request: %s", cid, exc)
                            continue
                        ctx = RequestContext(
                            cid, request, state, conn, self.response_kind, self.max_item_size
                        )
                        lane = lane_of(request.payload) if lane_of is not None else None
                        if lane is None:
                            workers.submit(ctx)
                        else:
                            lanes.submit(lane, ctx)
                    workers.close()
                    tg.cancel_scope.cancel()
            finally:
                with anyio.CancelScope(shield=True):
                    self.connections.pop(cid, None)
                    self.keychain.remove(cid)
                    self._previous_otp.pop(cid, None)
                    self._signal_count()
                    try:
                        await self.handler.on_disconnect(state)
                    finally:
                        log.info(
                            "connection %d closed: %s", cid, conn.close_reason or "server stopped"
                        )

    async def _dispatch(self, ctx: RequestContext[Req, Resp, State]) -> None:
        try:
            await self.handler.on_request(ctx)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception(
                "connection %d: handler failed on request %s", ctx.connection_id, ctx.request.id
            )

    async def _expire_when_gone(self, conn: Connection) -> None:
        """Close the connection when its client has been gone for ``grace`` seconds."""
        while True:
            await conn.wait_lost()
            if conn.closed:
                return
            with anyio.move_on_after(self.grace) as timer:
                await conn.wait_attached()
            if timer.cancelled_caught:
                await conn.aclose(f"client did not come back within {self.grace:g} s")

    # -- shutdown --------------------------------------------------------------------------

    def _signal_count(self) -> None:
        self._count_changed.set()
        self._count_changed = anyio.Event()

    async def _watch_shutdown(self, scope: anyio.CancelScope) -> None:
        policy = self.shutdown
        if policy.kind == "after":
            await anyio.sleep(policy.seconds)
            log.info("shutting down: %s", policy)
            scope.cancel()
        elif policy.kind == "lonely":
            while True:
                if self.connections:
                    await self._count_changed.wait()
                    continue
                with anyio.move_on_after(policy.seconds) as timer:
                    await self._count_changed.wait()
                if timer.cancelled_caught:
                    log.info("shutting down: %s", policy)
                    scope.cancel()
                    return


def _describe(exc: BaseException) -> str:
    if isinstance(exc, anyio.EndOfStream):
        return "the peer closed the link during the handshake"
    if isinstance(exc, TimeoutError):
        return "the handshake timed out"
    if isinstance(exc, (anyio.BrokenResourceError, anyio.ClosedResourceError)):
        cause = exc.__cause__
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return f"the link broke during the handshake{detail}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
