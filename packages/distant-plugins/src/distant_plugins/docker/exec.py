"""Streaming ``docker exec``: a hijacked socket per exec, read without holding a thread.

``POST /exec/{id}/start`` with ``Upgrade: tcp`` turns the HTTP connection into the exec's
stdin/stdout/stderr. Without a tty the output is multiplexed: frames of an 8-byte header
(stream type 1 = stdout, 2 = stderr; then a big-endian u32 length) and the payload. With a
tty it is the terminal's raw byte stream. Shutting down our write side closes the exec's
stdin.

The SDK's own ``exec_start(socket=True)`` returns the socket *after* its HTTP parser may
have buffered the first output bytes, so for ``unix://`` and ``tcp://`` engines the upgrade
is done here on a plain socket that keeps every byte; other transports (TLS, ssh) fall back
to the SDK's socket. Once upgraded the socket is non-blocking and read through
``anyio.wait_readable``: a running process costs no thread.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from typing import Any

import anyio

from distant_codec import ErrorKind
from distant_server import ApiError

from .engine import Engine, engine_error

__all__ = ["ExecStream", "open_exec", "STDOUT", "STDERR", "READ_SIZE"]

STDOUT = 1
STDERR = 2
READ_SIZE = 64 * 1024
_HEADER = struct.Struct(">BxxxI")
_MAX_HTTP_HEADER = 64 * 1024


def _connect(api: Any) -> socket.socket | None:
    """A new connection to the engine, when it is a unix socket or plain tcp."""
    adapter = getattr(api, "_custom_adapter", None)
    path = getattr(adapter, "socket_path", None)
    if isinstance(path, str) and path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        return sock
    base: str = str(getattr(api, "base_url", ""))
    if base.startswith("http://"):
        hostport = base[len("http://") :].rstrip("/")
        host, _, port = hostport.rpartition(":")
        return socket.create_connection((host or hostport, int(port or 2375)))
    return None


def _start_sync(api: Any, exec_id: str, tty: bool) -> tuple[socket.socket, bytes]:
    """Start the exec and hijack its connection: the socket and any bytes already read."""
    sock = _connect(api)
    if sock is None:  # TLS or ssh: the SDK's socket (rarely loses a first chunk, see above)
        raw = api.exec_start(exec_id, tty=tty, socket=True)
        inner = getattr(raw, "_sock", raw)
        if not isinstance(inner, socket.socket):
            raise ApiError(ErrorKind.UNSUPPORTED, "docker: this engine transport cannot stream")
        return inner, b""
    body = json.dumps({"Detach": False, "Tty": tty}).encode()
    head = (
        f"POST /v{api._version}/exec/{exec_id}/start HTTP/1.1\r\n"
        "Host: docker\r\nContent-Type: application/json\r\n"
        "Connection: Upgrade\r\nUpgrade: tcp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        sock.sendall(head + body)
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            chunk = sock.recv(65536)
            if not chunk or len(buffered) > _MAX_HTTP_HEADER:
                raise ApiError(ErrorKind.OTHER, "docker: exec start got no answer")
            buffered += chunk
        header, _, rest = buffered.partition(b"\r\n\r\n")
        status_line = header.split(b"\r\n", 1)[0].decode("latin-1")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        if status not in (101, 200):
            raise ApiError(ErrorKind.OTHER, f"docker: exec start failed: {status_line} {rest!r}")
    except BaseException:
        sock.close()
        raise
    return sock, rest


class ExecStream:
    """A started exec: its output as ``(stream, bytes)`` chunks, its stdin, its status."""

    def __init__(
        self, engine: Engine, exec_id: str, sock: socket.socket, tty: bool, buffered: bytes
    ) -> None:
        self.engine = engine
        self.exec_id = exec_id
        self.tty = tty
        self._sock = sock
        self._buffer = bytearray(buffered)
        self._eof = False
        self._stdin_closed = False
        self._closed = False
        self._write_lock = anyio.Lock()
        sock.setblocking(False)

    async def _fill(self) -> bool:
        """Read more into the buffer; False at end of stream."""
        if self._eof or self._closed:
            return False
        while True:
            try:
                data = self._sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                try:
                    await anyio.wait_readable(self._sock)
                except (anyio.ClosedResourceError, OSError):
                    self._eof = True
                    return False
                continue
            except OSError:  # closed under us
                data = b""
            if not data:
                self._eof = True
                return False
            self._buffer += data
            return True

    async def receive(self) -> tuple[int, bytes] | None:
        """The next output chunk as ``(STDOUT or STDERR, data)``; None once it ended."""
        if self.tty:
            if not self._buffer and not await self._fill():
                return None
            data = bytes(self._buffer)
            self._buffer.clear()
            return STDOUT, data
        while True:
            if len(self._buffer) >= _HEADER.size:
                kind, size = _HEADER.unpack_from(self._buffer)
                end = _HEADER.size + size
                if len(self._buffer) >= end:
                    data = bytes(self._buffer[_HEADER.size : end])
                    del self._buffer[:end]
                    if size == 0:
                        continue
                    return (STDERR if kind == 2 else STDOUT), data
            if not await self._fill():
                return None

    async def send(self, data: bytes) -> None:
        """Write ``data`` to the exec's stdin (``BrokenPipeError`` once it is closed)."""
        async with self._write_lock:
            if self._stdin_closed or self._closed:
                raise BrokenPipeError(32, "stdin is closed")
            view = memoryview(data)
            while view:
                try:
                    sent = self._sock.send(view)
                except (BlockingIOError, InterruptedError):
                    await anyio.wait_writable(self._sock)
                    continue
                view = view[sent:]

    def close_stdin(self) -> None:
        """End of input for the exec (its stdin reads EOF)."""
        if not self._stdin_closed and not self._closed:
            self._stdin_closed = True
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Drop the connection (the process itself is not stopped by this)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                anyio.notify_closing(self._sock)  # wakes a task waiting to read or write
            with contextlib.suppress(OSError):
                self._sock.close()

    async def inspect(self) -> dict[str, Any]:
        try:
            info: dict[str, Any] = await self.engine.call(
                self.engine.api.exec_inspect, self.exec_id
            )
        except Exception as exc:
            raise engine_error(exc) from None
        return info

    async def wait_exit(self, timeout: float = 5.0) -> int | None:
        """The exit code once the engine reports the exec finished (None if unknown)."""
        delay = 0.005
        with anyio.move_on_after(timeout):
            while True:
                info = await self.inspect()
                if not info.get("Running"):
                    code = info.get("ExitCode")
                    return int(code) if code is not None else None
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.1)
        return None

    async def resize(self, rows: int, cols: int) -> None:
        try:
            await self.engine.call(
                self.engine.api.exec_resize, self.exec_id, height=rows, width=cols
            )
        except Exception as exc:
            raise engine_error(exc) from None


async def open_exec(
    engine: Engine,
    argv: list[str],
    *,
    tty: bool = False,
    environment: dict[str, str] | None = None,
    workdir: str | None = None,
) -> ExecStream:
    """Create and start an exec of ``argv`` with stdin attached."""
    env = [f"{k}={v}" for k, v in (environment or {}).items()] or None
    api = engine.api
    try:
        created = await engine.call(
            api.exec_create,
            engine.container_id,
            argv,
            stdout=True,
            stderr=True,
            stdin=True,
            tty=tty,
            environment=env,
            workdir=workdir,
        )
        exec_id = str(created["Id"])
        sock, buffered = await engine.call(_start_sync, api, exec_id, tty)
    except ApiError:
        raise
    except Exception as exc:
        raise engine_error(exc) from None
    return ExecStream(engine, exec_id, sock, tty, buffered)
