"""The manager: a distant-net server handler for every ManagerRequest of §9.2.

Long-lived work (a plugin connection, a managed tunnel) runs in the manager's own task
group, not in the task of the request that created it: the CLI process that asked for a
connection exits long before the connection ends.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from distant_codec import CodecError, Destination, Header
from distant_codec import manager_requests as mreq
from distant_codec import manager_responses as mresp
from distant_net import ConnectionInfo, NetError, RequestContext

from .auth_relay import AuthWaiters, RelayAuthHandler
from .channel_wire import BIN_PAYLOADS, encode_channel_response, wants_bin_payloads
from .connections import ChannelSink, ManagedConnection
from .plugin import PluginError
from .registry import PluginRegistry
from .tunnels import TunnelManager

__all__ = ["Manager", "ClientState", "MANAGER_VERSION"]

log = logging.getLogger("distant_manager")

MANAGER_VERSION = "0.21.0"
"""The manager version we report: the distant release whose protocol we speak."""

Ctx = RequestContext[mreq.ManagerRequest, mresp.ManagerResponse, "ClientState"]


@dataclass(eq=False)
class ClientState:
    """One CLI (or API) connection to the manager."""

    info: ConnectionInfo
    channels: set[int] = field(default_factory=set)


class Manager:
    """Use inside ``async with anyio.create_task_group() as tg: Manager(registry, tg)``."""

    def __init__(self, registry: PluginRegistry, tg: anyio.abc.TaskGroup) -> None:
        self.registry = registry
        self.tg = tg
        self.connections: dict[int, ManagedConnection] = {}
        self.channels: dict[int, ChannelSink] = {}
        self.waiters = AuthWaiters()
        self.tunnels = TunnelManager(self)

    # -- net Handler -------------------------------------------------------------------------

    async def on_connect(self, info: ConnectionInfo) -> ClientState:
        return ClientState(info)

    async def on_disconnect(self, state: ClientState) -> None:
        for channel_id in list(state.channels):
            self.drop_channel(channel_id)

    def lane_of(self, payload: mreq.ManagerRequest) -> tuple[str, int] | None:
        """A channel's requests reach the server in the order they came (distant-net
        lanes); run concurrently, two writes to one process could swap."""
        if isinstance(payload, mreq.Channel):
            return ("channel", payload.id)
        return None

    async def on_request(self, ctx: Ctx) -> None:
        payload = ctx.request.payload
        try:
            await self._handle(ctx, payload)
        except (PluginError, NetError, CodecError, OSError, ValueError) as exc:
            await ctx.reply(mresp.Error(_describe(exc)))

    async def _handle(self, ctx: Ctx, payload: mreq.ManagerRequest) -> None:
        if isinstance(payload, mreq.Channel):
            await self._channel(ctx, payload)
        elif isinstance(payload, mreq.Authenticate):
            if not self.waiters.answer(payload.id, payload.msg):
                log.warning("an answer for unknown or settled prompt %d", payload.id)
        elif isinstance(payload, mreq.OpenChannel):
            await self._open_channel(ctx, payload.id)
        elif isinstance(payload, mreq.CloseChannel):
            if not self.drop_channel(payload.id):
                raise ValueError(f"no channel with id {payload.id}")
            ctx.state.channels.discard(payload.id)
            await ctx.reply(mresp.ChannelClosed(payload.id))
        elif isinstance(payload, mreq.Version):
            await ctx.reply(mresp.Version(MANAGER_VERSION))
        elif isinstance(payload, mreq.Launch):
            await ctx.reply(mresp.Launched(await self._launch(ctx, payload)))
        elif isinstance(payload, mreq.Connect):
            await ctx.reply(mresp.Connected(await self._connect(ctx, payload)))
        elif isinstance(payload, mreq.Info):
            conn = self.connection(payload.id)
            await ctx.reply(mresp.ConnectionInfo(conn.id, conn.destination, dict(conn.options)))
        elif isinstance(payload, mreq.List):
            await ctx.reply(mresp.List({c.id: c.destination for c in self.connections.values()}))
        elif isinstance(payload, mreq.Kill):
            await self.kill(payload.id)
            await ctx.reply(mresp.Killed())
        elif isinstance(payload, mreq.ForwardTunnel):
            tid, port = await self.tunnels.forward(payload)
            await ctx.reply(mresp.ManagedTunnelStarted(tid, port))
        elif isinstance(payload, mreq.ReverseTunnel):
            tid, port = await self.tunnels.reverse(payload)
            await ctx.reply(mresp.ManagedTunnelStarted(tid, port))
        elif isinstance(payload, mreq.CloseManagedTunnel):
            await self.tunnels.close(payload.id)
            await ctx.reply(mresp.ManagedTunnelClosed())
        elif isinstance(payload, mreq.ListManagedTunnels):
            await ctx.reply(mresp.ManagedTunnels(self.tunnels.infos()))
        else:  # pragma: no cover - the union is exhaustive
            raise ValueError(f"unsupported request {type(payload).__name__}")

    # -- launch / connect --------------------------------------------------------------------

    def _relay(self, ctx: Ctx) -> RelayAuthHandler:
        async def send(msg: mresp.Authenticate) -> None:
            await ctx.reply(msg)

        return RelayAuthHandler(send, self.waiters)

    async def _launch(self, ctx: Ctx, request: mreq.Launch) -> str:
        destination = _parse_destination(request.destination)
        plugin = self.registry.for_scheme(destination.scheme, launch=True)
        launched = await plugin.launch(destination, dict(request.options), self._relay(ctx))
        return str(launched)

    async def _connect(self, ctx: Ctx, request: mreq.Connect) -> int:
        destination = _parse_destination(request.destination)
        plugin = self.registry.for_scheme(destination.scheme, launch=False)
        options = dict(request.options)
        relay = self._relay(ctx)

        async def run(*, task_status: anyio.abc.TaskStatus[int]) -> None:
            conn: ManagedConnection | None = None
            try:
                async with plugin.connect(destination, options, relay) as link:
                    conn = ManagedConnection(
                        self._new_id(), _shown(destination), _public(options), link
                    )
                    self.connections[conn.id] = conn
                    try:
                        with conn.scope:
                            task_status.started(conn.id)
                            try:
                                await conn.route()
                            except Exception:
                                log.exception("connection %d: routing failed", conn.id)
                        log.info("connection %d to %s ended", conn.id, destination.redacted())
                    finally:
                        with anyio.CancelScope(shield=True):
                            await self._forget(conn)
            except Exception:
                if conn is None:
                    raise  # before started(): the connect request gets the error
                log.exception("connection %d: closing failed", conn.id)
            finally:
                if conn is not None:
                    conn.done.set()  # after the plugin released it (a launched server too)

        connection_id: int = await self.tg.start(run)
        log.info("connection %d to %s", connection_id, destination.redacted())
        return connection_id

    def _new_id(self) -> int:
        while True:
            candidate = secrets.randbits(32)
            if candidate not in self.connections:
                return candidate

    def connection(self, connection_id: int) -> ManagedConnection:
        conn = self.connections.get(connection_id)
        if conn is None:
            raise ValueError(f"no connection with id {connection_id}")
        return conn

    async def kill(self, connection_id: int) -> None:
        """End a connection: its channels and tunnels, the link, and (for a launched
        server) the server process."""
        conn = self.connection(connection_id)
        conn.scope.cancel()
        await conn.done.wait()

    async def _forget(self, conn: ManagedConnection) -> None:
        self.connections.pop(conn.id, None)
        await self.tunnels.close_for_connection(conn.id)
        for channel_id, sink in list(conn.channels.items()):
            self.drop_channel(channel_id)
            if sink.on_close is not None:  # tell its client: no more responses will come
                with contextlib.suppress(Exception):
                    await sink.on_close()
        await conn.link.aclose("killed")

    # -- channels ----------------------------------------------------------------------------

    async def _open_channel(self, ctx: Ctx, connection_id: int) -> None:
        conn = self.connection(connection_id)
        binary = wants_bin_payloads(ctx.request.header)
        channel_id = self.new_channel_id()

        async def deliver(response: Any) -> None:
            await ctx.reply_encoded(encode_channel_response(channel_id, response, binary=binary))

        async def closed() -> None:
            await ctx.reply(mresp.ChannelClosed(channel_id))

        sink = ChannelSink(channel_id, connection_id, deliver, closed)
        conn.channels[channel_id] = sink
        self.channels[channel_id] = sink
        ctx.state.channels.add(channel_id)
        header: Header = {BIN_PAYLOADS: True} if binary else {}
        await ctx.reply(mresp.ChannelOpened(channel_id), header=header)

    def add_internal_channel(self, sink: ChannelSink) -> None:
        """A channel the manager itself uses (managed tunnels)."""
        self.connection(sink.connection_id).channels[sink.id] = sink
        self.channels[sink.id] = sink

    def new_channel_id(self) -> int:
        while True:
            candidate = secrets.randbits(32)
            if candidate not in self.channels:
                return candidate

    def drop_channel(self, channel_id: int) -> bool:
        sink = self.channels.pop(channel_id, None)
        if sink is None:
            return False
        conn = self.connections.get(sink.connection_id)
        if conn is not None:
            conn.channels.pop(channel_id, None)
        return True

    async def _channel(self, ctx: Ctx, request: mreq.Channel) -> None:
        sink = self.channels.get(request.id)
        if sink is None:
            raise ValueError(f"no channel with id {request.id}")
        conn = self.connection(sink.connection_id)
        await conn.send(request.id, request.request)

    async def send_on_channel(self, sink: ChannelSink, request: Any) -> None:
        await self.connection(sink.connection_id).send(sink.id, request)


def _parse_destination(text: str) -> Destination:
    try:
        return Destination.parse(text)
    except (ValueError, CodecError) as exc:
        raise PluginError(f"invalid destination: {exc}") from None


def _shown(destination: Destination) -> str:
    """The destination as ``list``/``info`` show it: without the key (a secret)."""
    d = destination
    return str(Destination(d.host, d.scheme, d.username, None, d.port))


def _public(options: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in options.items() if k.lower() not in _SECRET_OPTIONS}


_SECRET_OPTIONS = {"key", "password", "ssh.password"}


def _describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return text or type(exc).__name__
