"""Forward TCP tunnels from inside the container, through ``socat`` or ``nc``.

``tunnel_open`` runs ``socat - TCP:HOST:PORT`` (or ``nc HOST PORT``) as an exec with stdin
attached: ``tunnel_write`` goes to its stdin, its stdout streams back as ``tunnel_data``,
and its end as ``tunnel_closed``. The reply waits up to :data:`CONNECT_GRACE` seconds for the
command to fail, so a refused connection is answered as ``connection_refused`` rather than
as an opened tunnel that closes at once. With ``sh`` in the container the command's pid is
learnt (as for processes) so ``tunnel_close`` can kill it; otherwise closing only ends its
stdin and drops the exec's connection. Tunnel ids count from 1 per connection, as the
host's. ``tunnel_listen`` (reverse tunnels) is unsupported.
"""

from __future__ import annotations

import contextlib
import functools

import anyio

from distant_codec import ErrorKind, TunnelDirection, TunnelInfo
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_codec.extensions import ExtendedResponse as Response
from distant_server import ApiContext, ApiError

from .engine import Engine
from .exec import STDERR, ExecStream, open_exec
from .process import PID_WRAPPER

__all__ = ["DockerTunnels", "TunnelTable", "TUNNEL_TOOLS", "CONNECT_GRACE"]

TUNNEL_TOOLS = ("socat", "nc")
CONNECT_GRACE = 0.15
"""How long ``tunnel_open`` waits to see whether the connecting command fails (s)."""


class _Tunnel:
    def __init__(self, id: int, host: str, port: int, stream: ExecStream) -> None:
        self.id = id
        self.info = TunnelInfo(id, TunnelDirection.FORWARD, host, port)
        self.stream = stream
        self.pid: int | None = None
        self.pending: list[bytes] = []


class TunnelTable:
    """The tunnels of one connection; closed with it."""

    def __init__(self) -> None:
        self.next_id = 1
        self.tunnels: dict[int, _Tunnel] = {}
        self.owner: DockerTunnels | None = None

    async def aclose(self) -> None:
        tunnels = list(self.tunnels.values())
        self.tunnels.clear()
        for tunnel in tunnels:
            if self.owner is not None:
                with contextlib.suppress(Exception), anyio.move_on_after(5):
                    await self.owner.stop(tunnel)
            tunnel.stream.close()


class DockerTunnels:
    """``tunnel_open``, ``tunnel_write``, ``tunnel_close`` and ``status``."""

    def __init__(self, engine: Engine, tools: frozenset[str]) -> None:
        self.engine = engine
        self.tools = tools

    @property
    def available(self) -> bool:
        return any(t in self.tools for t in TUNNEL_TOOLS)

    def _table(self, ctx: ApiContext) -> TunnelTable:
        table = ctx.connection.resource(TunnelTable)
        table.owner = self
        return table

    async def stop(self, tunnel: _Tunnel) -> None:
        tunnel.stream.close_stdin()
        if tunnel.pid is not None:
            await self.engine.run(["sh", "-c", f"kill -9 {tunnel.pid}"])
        else:
            tunnel.stream.close()

    async def tunnel_open(self, ctx: ApiContext, req: rq.TunnelOpen) -> Response:
        if "socat" in self.tools:
            argv = ["socat", "-", f"TCP:{req.host}:{req.port}"]
        elif "nc" in self.tools:
            argv = ["nc", req.host, str(req.port)]
        else:
            raise ApiError(
                ErrorKind.UNSUPPORTED,
                "tunnel_open is unsupported in this container: it has neither socat nor nc",
            )
        wrapped = "sh" in self.tools
        if wrapped:
            argv = ["sh", "-c", PID_WRAPPER, "sh", *argv]
        stream = await open_exec(self.engine, argv)
        table = self._table(ctx)
        tunnel = _Tunnel(table.next_id, req.host, req.port, stream)
        errors = b""
        prefix = b""
        ended = False
        with anyio.move_on_after(CONNECT_GRACE):
            while not ended:
                chunk = await stream.receive()
                if chunk is None:
                    ended = True
                    break
                kind, data = chunk
                if kind == STDERR:
                    errors += data
                elif wrapped and tunnel.pid is None:
                    prefix += data
                    line, sep, rest = prefix.partition(b"\n")
                    if sep:
                        tunnel.pid = int(line) if line.strip().isdigit() else -1
                        if rest:
                            tunnel.pending.append(rest)
                else:
                    tunnel.pending.append(data)
        if ended:
            code = await stream.wait_exit()
            if code != 0 and not tunnel.pending:
                stream.close()
                text = errors.decode("utf-8", "replace").strip()
                refused = "refused" in text.lower()
                error = ErrorKind.CONNECTION_REFUSED if refused else ErrorKind.OTHER
                raise ApiError(error, f"{text or 'connect failed'}: {req.host}:{req.port}")
        if tunnel.pid == -1:
            tunnel.pid = None
        table.next_id += 1
        table.tunnels[tunnel.id] = tunnel
        ctx.after_reply(
            functools.partial(self._pump, ctx, table, tunnel, wrapped and tunnel.pid is None)
        )
        return rs.TunnelOpened(tunnel.id)

    async def _pump(
        self, ctx: ApiContext, table: TunnelTable, tunnel: _Tunnel, awaiting_pid: bool
    ) -> None:
        prefix = b""
        try:
            for data in tunnel.pending:
                await ctx.send(rs.TunnelData(tunnel.id, data))
            tunnel.pending.clear()
            while True:
                chunk = await tunnel.stream.receive()
                if chunk is None:
                    break
                kind, data = chunk
                if kind == STDERR:
                    continue
                if awaiting_pid:
                    prefix += data
                    line, sep, data = prefix.partition(b"\n")
                    if not sep:
                        continue
                    awaiting_pid = False
                    tunnel.pid = int(line) if line.strip().isdigit() else None
                    if not data:
                        continue
                await ctx.send(rs.TunnelData(tunnel.id, data))
            await ctx.send(rs.TunnelClosed(tunnel.id))
        finally:
            tunnel.stream.close()
            if table.tunnels.get(tunnel.id) is tunnel:
                del table.tunnels[tunnel.id]

    def _find(self, ctx: ApiContext, tunnel_id: int) -> _Tunnel:
        table = ctx.connection.existing(TunnelTable)
        tunnel = table.tunnels.get(tunnel_id) if table is not None else None
        if tunnel is None:
            raise ApiError(ErrorKind.NOT_FOUND, f"no tunnel with id {tunnel_id}")
        return tunnel

    async def tunnel_write(self, ctx: ApiContext, req: rq.TunnelWrite) -> Response:
        await self._find(ctx, req.id).stream.send(req.data)
        return rs.Ok()

    async def tunnel_close(self, ctx: ApiContext, req: rq.TunnelClose) -> Response:
        await self.stop(self._find(ctx, req.id))
        return rs.Ok()

    async def status(self, ctx: ApiContext, req: rq.Status) -> Response:
        table = ctx.connection.existing(TunnelTable)
        tunnels = tuple(t.info for t in table.tunnels.values()) if table is not None else ()
        return rs.StatusInfo(tuple(sorted(tunnels, key=lambda t: t.id)))
