"""Forward TCP tunnels from inside the container, through ``socat`` or ``nc``.

The requests are distant-server's :class:`~distant_server.NetworkTunnelOps` (the host's
semantics: ordered writes answered once sent, ``tunnel_close`` flushing them first, ids from
1 per connection); this module is its network. ``tunnel_open`` runs ``socat - TCP:HOST:PORT``
(or ``nc HOST PORT``) as an exec with stdin attached, and that exec is the tunnel's stream:
``tunnel_write`` goes to its stdin, its stdout streams back as ``tunnel_data`` (its stderr is
dropped), and its end is ``tunnel_closed``. The reply waits up to :data:`CONNECT_GRACE`
seconds for the command to fail, so a refused connection is answered as
``connection_refused`` rather than as an opened tunnel that closes at once. With ``sh`` in
the container the command's pid is learnt (as for processes) so closing the tunnel kills it;
otherwise closing only ends its stdin and drops the exec's connection. ``tunnel_listen``
(reverse tunnels) is unsupported.
"""

from __future__ import annotations

import contextlib
from collections import deque

import anyio
import anyio.abc

from distant_codec import ErrorKind
from distant_server import ApiError, NetworkTunnelOps, TunnelListener, TunnelNetwork, unsupported

from .engine import Engine
from .exec import STDERR, ExecStream, open_exec
from .process import PID_WRAPPER

__all__ = ["CONNECT_GRACE", "DockerTunnels", "TUNNEL_TOOLS"]

TUNNEL_TOOLS = ("socat", "nc")
CONNECT_GRACE = 0.15
"""How long ``tunnel_open`` waits to see whether the connecting command fails (s)."""

_MAX_ERRORS = 4096
"""Bytes of the command's stderr kept for the error message of a failed connect."""


class _TunnelExec(anyio.abc.ByteStream):
    """A connecting command's exec as a byte stream: sends go to its stdin; what it
    receives is its stdout after the pid line (when ``wrapped``); closing kills it."""

    def __init__(self, engine: Engine, stream: ExecStream, *, wrapped: bool) -> None:
        self._engine = engine
        self._exec = stream
        self._awaiting_pid = wrapped
        self._prefix = b""
        self._ready: deque[bytes] = deque()
        self._closed = False
        self.pid: int | None = None
        self.errors = b""

    async def _next(self) -> bytes | None:
        """The next piece of stdout past the pid line; None once the command ended."""
        while True:
            chunk = await self._exec.receive()
            if chunk is None:
                return None
            kind, data = chunk
            if kind == STDERR:
                self.errors = (self.errors + data)[-_MAX_ERRORS:]
                continue
            if self._awaiting_pid:
                self._prefix += data
                line, sep, data = self._prefix.partition(b"\n")
                if not sep:
                    continue
                self._awaiting_pid = False
                self._prefix = b""
                self.pid = int(line) if line.strip().isdigit() else None
            if data:
                return data

    async def ended_within(self, grace: float) -> bool:
        """Read ahead for ``grace`` seconds (keeping the data); True if the command ended."""
        with anyio.move_on_after(grace):
            while (data := await self._next()) is not None:
                self._ready.append(data)
            return True
        return False

    @property
    def received_data(self) -> bool:
        return bool(self._ready)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._ready:
            more = await self._next()
            if more is None:
                raise anyio.EndOfStream
            self._ready.append(more)
        data = self._ready.popleft()
        if len(data) > max_bytes:
            self._ready.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        return data

    async def send(self, item: bytes) -> None:
        await self._exec.send(item)

    async def send_eof(self) -> None:
        self._exec.close_stdin()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._exec.close_stdin()
        if self.pid is not None:
            with contextlib.suppress(Exception):
                await self._engine.run(["sh", "-c", f"kill -9 {self.pid}"])
        self._exec.close()


class _DockerNetwork:
    """Connections from inside the container (no listeners)."""

    def __init__(self, engine: Engine, tools: frozenset[str]) -> None:
        self.engine = engine
        self.tools = tools

    async def connect(self, host: str, port: int) -> anyio.abc.ByteStream:
        if "socat" in self.tools:
            argv = ["socat", "-", f"TCP:{host}:{port}"]
        elif "nc" in self.tools:
            argv = ["nc", host, str(port)]
        else:
            raise ApiError(
                ErrorKind.UNSUPPORTED,
                "tunnel_open is unsupported in this container: it has neither socat nor nc",
            )
        wrapped = "sh" in self.tools
        if wrapped:
            argv = ["sh", "-c", PID_WRAPPER, "sh", *argv]
        stream = await open_exec(self.engine, argv)
        tunnel = _TunnelExec(self.engine, stream, wrapped=wrapped)
        if await tunnel.ended_within(CONNECT_GRACE):
            code = await stream.wait_exit()
            if code != 0 and not tunnel.received_data:
                stream.close()
                text = tunnel.errors.decode("utf-8", "replace").strip()
                refused = "refused" in text.lower()
                error = ErrorKind.CONNECTION_REFUSED if refused else ErrorKind.OTHER
                raise ApiError(error, f"{text or 'connect failed'}: {host}:{port}")
        return tunnel

    async def listen(self, host: str, port: int) -> TunnelListener:
        raise unsupported("tunnel_listen")


class DockerTunnels(NetworkTunnelOps):
    """``tunnel_open``, ``tunnel_write``, ``tunnel_close`` and ``status`` in a container."""

    def __init__(self, engine: Engine, tools: frozenset[str]) -> None:
        self._network = _DockerNetwork(engine, tools)
        self.tools = tools

    @property
    def available(self) -> bool:
        return any(t in self.tools for t in TUNNEL_TOOLS)

    def tunnel_network(self) -> TunnelNetwork:
        return self._network
