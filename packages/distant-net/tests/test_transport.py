"""L0 transports: trio's stream conformance suite over the memory pair, TCP and Unix sockets,
and the behaviour of the TCP and Unix helpers on both anyio backends."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import anyio
import pytest
import trio
import trio.testing
from anyio.abc import ByteStream, SocketAttribute, SocketStream

from distant_net.memory import MemoryByteStream, memory_stream_pair
from distant_net.transport import (
    KeepAlive,
    configure_tcp_socket,
    connect_tcp,
    connect_unix,
    listen_tcp,
    listen_unix,
    parse_port_range,
)

# ---------------------------------------------------------------------------------------------
# anyio ByteStream -> trio HalfCloseableStream, for trio.testing's conformance checks
# ---------------------------------------------------------------------------------------------


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except anyio.ClosedResourceError as exc:
        raise trio.ClosedResourceError(*exc.args) from exc
    except anyio.BrokenResourceError as exc:
        raise trio.BrokenResourceError(*exc.args) from exc
    except anyio.BusyResourceError as exc:
        raise trio.BusyResourceError(*exc.args) from exc


class TrioStream(trio.abc.HalfCloseableStream):
    """Presents an anyio ByteStream with trio's Stream API; only exceptions are translated.

    anyio has no ``wait_send_all_might_not_block``. The memory streams have an equivalent
    (``wait_send_might_not_block``), which is used, and they also run trio's clogged-stream checks.
    For other streams it is a checkpoint that raises ``ClosedResourceError`` once this adapter was
    closed, which trio's contract allows (the method may return early); the clogged-stream
    checks, which need it to block, are not run for those streams.
    """

    def __init__(self, stream: ByteStream) -> None:
        self.stream = stream
        self._closed = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        with _translated():
            await self.stream.send(data)  # type: ignore[arg-type]

    async def wait_send_all_might_not_block(self) -> None:
        with _translated():
            if isinstance(self.stream, MemoryByteStream):
                await self.stream.wait_send_might_not_block()
            else:
                if self._closed:
                    raise trio.ClosedResourceError
                await trio.lowlevel.checkpoint()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        with _translated():
            try:
                if max_bytes is None:
                    return await self.stream.receive()
                return await self.stream.receive(max_bytes)
            except anyio.EndOfStream:
                return b""

    async def send_eof(self) -> None:
        with _translated():
            await self.stream.send_eof()

    async def aclose(self) -> None:
        self._closed = True
        with _translated():
            await self.stream.aclose()


Pair: TypeAlias = tuple[TrioStream, TrioStream]


async def memory_pair() -> Pair:
    a, b = memory_stream_pair()
    return TrioStream(a), TrioStream(b)


async def clogged_memory_pair() -> Pair:
    """A pair whose both directions are full: the next send blocks until the peer receives."""
    a, b = memory_stream_pair(max_buffer_size=1024)
    await a.send(b"\0" * 1024)
    await b.send(b"\0" * 1024)
    return TrioStream(a), TrioStream(b)


async def tcp_pair() -> Pair:
    async with await listen_tcp("127.0.0.1", 0) as listener:
        client = await connect_tcp("127.0.0.1", listener.port)
        server = await listener.accept()
    return TrioStream(client), TrioStream(server)


async def unix_pair() -> Pair:
    directory = tempfile.mkdtemp(prefix="dn-")
    try:
        path = os.path.join(directory, "s.sock")
        async with await listen_unix(path) as listener:
            client = await connect_unix(path)
            server = await listener.accept()
    finally:
        shutil.rmtree(directory)
    return TrioStream(client), TrioStream(server)


Maker: TypeAlias = Callable[[], Awaitable[Pair]]

TRANSPORT_PAIRS = [
    pytest.param(memory_pair, clogged_memory_pair, id="memory"),
    pytest.param(tcp_pair, None, id="tcp"),
    pytest.param(unix_pair, None, id="unix"),
]


@pytest.mark.parametrize(("maker", "clogged_maker"), TRANSPORT_PAIRS)
def test_conformance(maker: Maker, clogged_maker: Maker | None) -> None:
    """trio.testing.check_half_closeable_stream (a superset of check_two_way_stream)."""
    trio.run(trio.testing.check_half_closeable_stream, maker, clogged_maker)


@pytest.mark.parametrize(("maker", "clogged_maker"), TRANSPORT_PAIRS)
def test_two_way_conformance(maker: Maker, clogged_maker: Maker | None) -> None:
    trio.run(trio.testing.check_two_way_stream, maker, clogged_maker)


# ---------------------------------------------------------------------------------------------
# The same edge-case semantics on both backends, for every transport
# ---------------------------------------------------------------------------------------------

StreamPair: TypeAlias = tuple[ByteStream, ByteStream]


@asynccontextmanager
async def _memory() -> AsyncIterator[StreamPair]:
    yield memory_stream_pair()


@asynccontextmanager
async def _tcp() -> AsyncIterator[StreamPair]:
    async with await listen_tcp("127.0.0.1", 0) as listener:
        client = await connect_tcp("127.0.0.1", listener.port)
        server = await listener.accept()
    async with client, server:
        yield client, server


@asynccontextmanager
async def _unix() -> AsyncIterator[StreamPair]:
    directory = tempfile.mkdtemp(prefix="dn-")
    try:
        path = os.path.join(directory, "s.sock")
        async with await listen_unix(path) as listener:
            client = await connect_unix(path)
            server = await listener.accept()
        async with client, server:
            yield client, server
    finally:
        shutil.rmtree(directory)


PAIRS = [
    pytest.param(_memory, id="memory"),
    pytest.param(_tcp, id="tcp"),
    pytest.param(_unix, id="unix"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("make_pair", PAIRS)
async def test_stream_semantics(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        # data both ways; receive never exceeds max_bytes
        await a.send(b"ping")
        assert await _receive_exactly(b, 4) == b"ping"
        await b.send(memoryview(b"pong"))
        assert await _receive_exactly(a, 4) == b"pong"
        await a.send(b"abcdef")
        first = await b.receive(3)
        assert 0 < len(first) <= 3
        assert first + await _receive_exactly(b, 6 - len(first)) == b"abcdef"

        # concurrent receives are busy
        async with anyio.create_task_group() as tg:
            tg.start_soon(b.receive)
            await anyio.wait_all_tasks_blocked()
            with pytest.raises(anyio.BusyResourceError):
                await b.receive()
            await a.send(b"x")

        # a zero-length send is fine and delivers nothing
        await a.send(b"")

        # half-close: the peer sees end-of-stream, the other direction still works
        await a.send(b"bye")
        await a.send_eof()
        await a.send_eof()
        assert await _receive_exactly(b, 3) == b"bye"
        with pytest.raises(anyio.EndOfStream):
            await b.receive()
        for data in (b"more", b""):
            with pytest.raises(anyio.ClosedResourceError):
                await a.send(data)
        await b.send(b"reply")
        assert await _receive_exactly(a, 5) == b"reply"

        # closing: our operations raise ClosedResourceError, the peer sees end-of-stream
        await b.aclose()
        await b.aclose()
        for operation in (b.send(b"x"), b.send(b""), b.receive(), b.send_eof()):
            with pytest.raises(anyio.ClosedResourceError):
                await operation
        with pytest.raises(anyio.EndOfStream):
            await a.receive()


@pytest.mark.anyio
@pytest.mark.parametrize("make_pair", PAIRS)
async def test_send_to_closed_peer_breaks(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, b):
        await b.aclose()
        with pytest.raises(anyio.BrokenResourceError), anyio.fail_after(10):
            while True:  # a socket may buffer a little before it notices
                await a.send(b"x" * 1000)


@pytest.mark.anyio
@pytest.mark.parametrize("make_pair", PAIRS)
async def test_send_eof_during_send_is_busy(make_pair: Callable[[], Any]) -> None:
    async with make_pair() as (a, _b):
        big = b"x" * (64 << 20)  # more than any socket buffer: the send blocks
        async with anyio.create_task_group() as tg:
            tg.start_soon(a.send, big)
            await anyio.sleep(0.05)
            with pytest.raises(anyio.BusyResourceError):
                await a.send(b"y")
            with pytest.raises(anyio.BusyResourceError):
                await a.send_eof()
            tg.cancel_scope.cancel()


async def _receive_exactly(stream: ByteStream, size: int) -> bytes:
    got = bytearray()
    while len(got) < size:
        got += await stream.receive(size - len(got))
    return bytes(got)


# ---------------------------------------------------------------------------------------------
# TCP
# ---------------------------------------------------------------------------------------------


def _sockopt(stream: SocketStream, level: int, option: int) -> int:
    return int(stream.extra(SocketAttribute.raw_socket).getsockopt(level, option))


def _keepalive_of(stream: SocketStream) -> tuple[int, int, int, int]:
    return (
        _sockopt(stream, socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        _sockopt(stream, socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        _sockopt(stream, socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        _sockopt(stream, socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    )


linux_keepalive = pytest.mark.skipif(
    not all(hasattr(socket, n) for n in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT")),
    reason="TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT are not available on this platform",
)


@linux_keepalive
@pytest.mark.anyio
async def test_tcp_keepalive_and_nodelay_are_set_on_both_ends() -> None:
    async with (
        await listen_tcp("127.0.0.1", 0) as listener,
        await connect_tcp("127.0.0.1", listener.port) as client,
        await listener.accept() as server,
    ):
        for stream in (client, server):
            assert _keepalive_of(stream) == (1, 30, 10, 3)
            assert _sockopt(stream, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


@linux_keepalive
@pytest.mark.anyio
async def test_tcp_keepalive_settings_are_parameters() -> None:
    custom = KeepAlive(idle=5, interval=2, count=7)
    async with await listen_tcp("127.0.0.1", 0, keepalive=custom) as listener:
        async with (
            await connect_tcp("127.0.0.1", listener.port, keepalive=custom) as client,
            await listener.accept() as server,
        ):
            assert _keepalive_of(client) == (1, 5, 2, 7)
            assert _keepalive_of(server) == (1, 5, 2, 7)
        async with (
            await connect_tcp("127.0.0.1", listener.port, keepalive=False) as client,
            await listener.accept() as server,
        ):
            assert _sockopt(client, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0
            assert _sockopt(client, socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert _keepalive_of(server) == (1, 5, 2, 7)
    with pytest.raises(ValueError):
        KeepAlive(idle=0)


def _blocker() -> socket.socket:
    """A plain socket listening on 127.0.0.1, holding its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


@pytest.mark.anyio
async def test_tcp_port_range_skips_a_taken_port() -> None:
    with _blocker() as blocker:
        taken = blocker.getsockname()[1]
        last = min(taken + 50, 65535)
        async with await listen_tcp("127.0.0.1", (taken, last)) as listener:
            assert taken < listener.port <= last
            assert listener.host == "127.0.0.1"
            async with (
                await connect_tcp("127.0.0.1", listener.port) as client,
                await listener.accept() as server,
            ):
                await client.send(b"hi")
                assert await server.receive() == b"hi"
        # the same as a "P1:P2" string and as a range
        async with await listen_tcp("127.0.0.1", f"{taken}:{last}") as listener:
            assert taken < listener.port <= last
        async with await listen_tcp("127.0.0.1", range(taken, last + 1)) as listener:
            assert taken < listener.port <= last


@pytest.mark.anyio
async def test_tcp_no_bindable_port_is_address_in_use() -> None:
    with _blocker() as first:
        port = first.getsockname()[1]
        with pytest.raises(OSError) as info:
            await listen_tcp("127.0.0.1", port)
        assert info.value.errno == errno.EADDRINUSE
        assert str(port) in str(info.value)
        try:
            second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            second.bind(("127.0.0.1", port + 1))
            second.listen(1)
        except OSError:
            pytest.skip(f"port {port + 1} is in use by someone else")
        with second:
            with pytest.raises(OSError) as info:
                await listen_tcp("127.0.0.1", (port, port + 1))
            assert info.value.errno == errno.EADDRINUSE
            assert f"{port}:{port + 1}" in str(info.value)


@pytest.mark.anyio
async def test_tcp_listen_any_binds_ipv4_wildcard() -> None:
    async with await listen_tcp("any", 0) as listener:
        assert listener.host == "0.0.0.0"
        assert listener.port > 0
        async with (
            await connect_tcp("127.0.0.1", listener.port) as client,
            await listener.accept() as server,
        ):
            await server.send(b"ok")
            assert await client.receive() == b"ok"


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


ipv6_only = pytest.mark.skipif(
    not _ipv6_loopback_available(), reason="IPv6 loopback ::1 cannot be bound on this machine"
)


@ipv6_only
@pytest.mark.anyio
async def test_tcp_ipv6_loopback() -> None:
    async with await listen_tcp("::1", 0) as listener:
        assert listener.host == "::1"
        async with (
            await connect_tcp("::1", listener.port) as client,
            await listener.accept() as server,
        ):
            await client.send(b"v6")
            assert await server.receive() == b"v6"
            assert _sockopt(server, socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1


@ipv6_only
@pytest.mark.anyio
async def test_tcp_ipv6_any_is_dual_stack() -> None:
    async with await listen_tcp("any", 0, ipv6=True) as listener:
        assert listener.host == "::"
        for host in ("::1", "127.0.0.1"):
            async with (
                await connect_tcp(host, listener.port) as client,
                await listener.accept() as server,
            ):
                await client.send(host.encode())
                assert await server.receive() == host.encode()


@pytest.mark.anyio
async def test_tcp_connect_refused_names_the_destination() -> None:
    with _blocker() as blocker:
        port = blocker.getsockname()[1]
    # nothing listens on `port` now
    with pytest.raises(ConnectionRefusedError) as info:
        await connect_tcp("127.0.0.1", port)
    assert f"127.0.0.1:{port}" in str(info.value)


@pytest.mark.anyio
async def test_tcp_connect_timeout() -> None:
    async with await listen_tcp("127.0.0.1", 0) as listener:
        with pytest.raises(TimeoutError) as info:
            await connect_tcp("127.0.0.1", listener.port, timeout=0)
        assert f"127.0.0.1:{listener.port}" in str(info.value)


@pytest.mark.anyio
async def test_tcp_serve() -> None:
    async def echo(stream: SocketStream) -> None:
        async with stream:
            async for chunk in stream:
                await stream.send(chunk)

    async with await listen_tcp("127.0.0.1", 0) as listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo)
        for _ in range(2):
            async with await connect_tcp("127.0.0.1", listener.port) as client:
                await client.send(b"echo")
                assert await _receive_exactly(client, 4) == b"echo"
        tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_serve_rides_out_per_connection_and_resource_errors() -> None:
    from distant_net.transport import _serve

    def broken(code: int) -> anyio.BrokenResourceError:
        error = anyio.BrokenResourceError()
        error.__cause__ = OSError(code, os.strerror(code))
        return error

    good, _ = memory_stream_pair()
    outcomes: list[BaseException | object] = [
        broken(errno.ECONNABORTED),
        broken(errno.EMFILE),
        good,
        broken(errno.EBADF),  # the listener itself is gone: the loop ends
    ]
    handled: list[object] = []

    async def accept() -> Any:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def handler(stream: Any) -> None:
        handled.append(stream)

    # raised inside its task group, so the error arrives in an exception group
    with pytest.raises(ExceptionGroup) as info:
        await _serve(accept, handler, None)
    [error] = info.value.exceptions
    assert isinstance(error, anyio.BrokenResourceError)
    assert isinstance(error.__cause__, OSError)
    assert error.__cause__.errno == errno.EBADF
    assert handled == [good]


def test_parse_port_range() -> None:
    assert parse_port_range(0) == range(1)
    assert parse_port_range(8080) == range(8080, 8081)
    assert parse_port_range((8080, 8090)) == range(8080, 8091)
    assert parse_port_range("8080:8090") == range(8080, 8091)
    assert parse_port_range("8080") == range(8080, 8081)
    assert parse_port_range(range(5, 7)) == range(5, 7)
    for bad in ("x", "1:y", (10, 9), 70000, -1, "8080:70000"):
        with pytest.raises(ValueError):
            parse_port_range(bad)


def test_configure_tcp_socket_without_keepalive() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        configure_tcp_socket(sock, keepalive=False)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 0


# ---------------------------------------------------------------------------------------------
# Unix sockets
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary directory: a Unix socket path must fit in about 107 bytes."""
    directory = tempfile.mkdtemp(prefix="dn-")
    try:
        yield Path(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.mark.anyio
@pytest.mark.parametrize("mode", [0o600, 0o660, 0o666])
async def test_unix_mode_is_set_at_bind_by_umask(
    short_tmp: Path, mode: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("the socket mode must come from the umask at bind, not chmod")

    monkeypatch.setattr(os, "chmod", no_chmod)
    monkeypatch.setattr(os, "fchmod", no_chmod)
    umask_before = _current_umask()
    path = short_tmp / "m.sock"
    async with await listen_unix(path, mode=mode) as listener:
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == mode
        assert _current_umask() == umask_before  # restored
        async with await connect_unix(path) as client, await listener.accept() as server:
            await client.send(b"hi")
            assert await server.receive() == b"hi"
    assert not path.exists()  # removed on close


@pytest.mark.anyio
async def test_unix_default_mode_is_owner_only(short_tmp: Path) -> None:
    path = short_tmp / "d.sock"
    async with await listen_unix(path):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.anyio
async def test_unix_parent_directories_are_created(short_tmp: Path) -> None:
    path = short_tmp / "a" / "b" / "s.sock"
    async with await listen_unix(path) as listener:
        assert path.parent.is_dir()
        async with await connect_unix(path) as client, await listener.accept() as server:
            await server.send(b"ok")
            assert await client.receive() == b"ok"


@pytest.mark.anyio
async def test_unix_stale_socket_is_replaced(short_tmp: Path) -> None:
    path = short_tmp / "stale.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays; nothing answers
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    async with (
        await listen_unix(path) as listener,
        await connect_unix(path) as client,
        await listener.accept() as server,
    ):
        await client.send(b"fresh")
        assert await server.receive() == b"fresh"


@pytest.mark.anyio
async def test_unix_live_socket_is_address_in_use(short_tmp: Path) -> None:
    path = short_tmp / "live.sock"
    async with await listen_unix(path) as listener:
        with pytest.raises(OSError) as info:
            await listen_unix(path)
        assert info.value.errno == errno.EADDRINUSE
        assert str(info.value) == f"[Errno {errno.EADDRINUSE}] address in use: {path}"
        # the liveness probe was a connection that closed at once, which the listener sees
        async with await listener.accept() as probe:
            with pytest.raises(anyio.EndOfStream):
                await probe.receive()
        # the live listener is untouched
        async with await connect_unix(path) as client, await listener.accept() as server:
            await client.send(b"still here")
            assert await server.receive() == b"still here"


@pytest.mark.anyio
async def test_unix_other_file_is_left_alone(short_tmp: Path) -> None:
    path = short_tmp / "file.sock"
    path.write_text("not a socket")
    with pytest.raises(OSError) as info:
        await listen_unix(path)
    assert info.value.errno == errno.EEXIST
    assert path.read_text() == "not a socket"


@pytest.mark.anyio
async def test_unix_close_leaves_a_replacement_socket_alone(short_tmp: Path) -> None:
    path = short_tmp / "r.sock"
    listener = await listen_unix(path)
    os.unlink(path)  # someone else took over the path
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        await listener.aclose()
        assert path.exists()


@pytest.mark.anyio
async def test_unix_connect_missing_names_the_path(short_tmp: Path) -> None:
    path = short_tmp / "missing.sock"
    with pytest.raises(FileNotFoundError) as info:
        await connect_unix(path)
    assert str(path) in str(info.value)


@pytest.mark.anyio
async def test_unix_bad_mode(short_tmp: Path) -> None:
    with pytest.raises(ValueError):
        await listen_unix(short_tmp / "x.sock", mode=0o4700)
