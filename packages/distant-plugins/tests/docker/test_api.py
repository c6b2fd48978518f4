"""DockerApi against a real Docker engine: every request type through serve_api and the
dispatcher, in a busybox container and in one without a shell."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest
from tests.support.dockerd import NOSHELL_DATA, RunningContainer

from distant_codec import MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE, Error, ErrorKind, Msg
from distant_codec import common as c
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import Client
from distant_plugins.docker import DockerApi
from distant_plugins.in_process import serve_api

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def api_client(docker_client: Any, container: str) -> AsyncIterator[Client[Any, Any]]:
    """A client of a DockerApi on ``container``, through serve_api and the dispatcher."""
    async with (
        serve_api(DockerApi(docker_client, container)) as link,
        Client(link, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,  # type: ignore[arg-type]
    ):
        yield client


async def one(client: Client[Any, Any], request: Any, timeout: float = 20) -> Any:
    reply = await client.request(Msg.single(request), timeout=timeout)
    return reply.payload.value


async def stream_until(
    client: Client[Any, Any], request: Any, last: type, *, stdin: list[Any] | None = None
) -> list[Any]:
    """Send ``request`` and collect every reply up to one of type ``last``."""
    got: list[Any] = []
    with anyio.fail_after(20):
        async with client.stream(Msg.single(request)) as mailbox:
            async for response in mailbox:
                value = response.payload.value
                got.append(value)
                if isinstance(value, Error | last):
                    break
                if stdin and isinstance(value, rs.ProcSpawned | rs.TunnelOpened):
                    for item in stdin:
                        made = item(value.id)
                        if hasattr(made, "__await__"):
                            made = await made
                        await one(client, made)
    return got


def fresh() -> str:
    return f"/tmp/t-{secrets.token_hex(4)}"


async def test_files(docker_client: Any, busybox: RunningContainer) -> None:
    d = fresh()
    async with api_client(docker_client, busybox.id) as client:
        assert isinstance(await one(client, rq.DirCreate(d)), rs.Ok)
        err = await one(client, rq.DirCreate(d))
        assert isinstance(err, Error) and err.kind is ErrorKind.ALREADY_EXISTS
        assert isinstance(await one(client, rq.DirCreate(f"{d}/x/y/z", all=True)), rs.Ok)
        err = await one(client, rq.DirCreate(f"{d}/p/q"))
        assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND

        assert isinstance(await one(client, rq.FileWrite(f"{d}/f.bin", b"\x00\x01data")), rs.Ok)
        assert (await one(client, rq.FileRead(f"{d}/f.bin"))).data == b"\x00\x01data"
        await one(client, rq.FileWriteText(f"{d}/t.txt", "héllo\n"))
        await one(client, rq.FileAppendText(f"{d}/t.txt", "more\n"))
        await one(client, rq.FileAppend(f"{d}/new.txt", b"fresh"))
        assert (await one(client, rq.FileReadText(f"{d}/t.txt"))).data == "héllo\nmore\n"
        assert (await one(client, rq.FileRead(f"{d}/new.txt"))).data == b"fresh"
        err = await one(client, rq.FileRead(f"{d}/missing"))
        assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND

        # metadata and permissions; an overwrite keeps the mode
        meta = await one(client, rq.Metadata(f"{d}/t.txt"))
        assert meta.file_type is c.FileType.FILE and meta.len == len("héllo\nmore\n".encode())
        assert meta.modified is not None and meta.unix.owner_read
        perms = c.Permissions(owner_exec=True, other_read=False)
        assert isinstance(await one(client, rq.SetPermissions(f"{d}/t.txt", perms)), rs.Ok)
        await one(client, rq.FileWriteText(f"{d}/t.txt", "replaced"))
        meta = await one(client, rq.Metadata(f"{d}/t.txt"))
        assert meta.unix.owner_exec and not meta.unix.other_read and meta.len == 8
        meta = await one(client, rq.Metadata("/bin/sh", canonicalize=True, resolve_file_type=True))
        assert meta.canonicalized_path == "/bin/busybox" and meta.file_type is c.FileType.FILE
        assert (await one(client, rq.Metadata("/bin/sh"))).file_type is c.FileType.SYMLINK
        assert (await one(client, rq.Exists(f"{d}/t.txt"))).value is True
        assert (await one(client, rq.Exists(f"{d}/nope"))).value is False

        # dir_read: sorted pre-order, depth from 1, relative unless absolute
        listing = await one(client, rq.DirRead(d, depth=0, include_root=True))
        assert [(e.path, e.file_type, e.depth) for e in listing.entries] == [
            (d, c.FileType.DIR, 0),
            ("f.bin", c.FileType.FILE, 1),
            ("new.txt", c.FileType.FILE, 1),
            ("t.txt", c.FileType.FILE, 1),
            ("x", c.FileType.DIR, 1),
            ("x/y", c.FileType.DIR, 2),
            ("x/y/z", c.FileType.DIR, 3),
        ]
        listing = await one(client, rq.DirRead(d, depth=1, absolute=True))
        assert [e.path for e in listing.entries][-1] == f"{d}/x"

        # copy, rename, remove (via cp, mv, rm in the container)
        assert isinstance(await one(client, rq.Copy(f"{d}/new.txt", f"{d}/copy.txt")), rs.Ok)
        assert isinstance(await one(client, rq.Copy(f"{d}/x", f"{d}/xc")), rs.Ok)
        assert (await one(client, rq.Exists(f"{d}/xc/y/z"))).value is True
        assert isinstance(await one(client, rq.Rename(f"{d}/copy.txt", f"{d}/moved.txt")), rs.Ok)
        assert (await one(client, rq.FileRead(f"{d}/moved.txt"))).data == b"fresh"
        err = await one(client, rq.Remove(f"{d}/x"))
        assert isinstance(err, Error)  # not empty
        assert isinstance(await one(client, rq.Remove(f"{d}/x", force=True)), rs.Ok)
        assert isinstance(await one(client, rq.Remove(f"{d}/moved.txt")), rs.Ok)
        assert (await one(client, rq.Exists(f"{d}/x"))).value is False
        err = await one(client, rq.Remove(f"{d}/gone"))
        assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND


async def test_processes(docker_client: Any, busybox: RunningContainer) -> None:
    async with api_client(docker_client, busybox.id) as client:
        got = await stream_until(
            client,
            rq.ProcSpawn("sh -c 'echo out; echo err >&2; echo $FOO; pwd; exit 3'",
                         environment={"FOO": "bar"}, current_dir="/tmp"),
            rs.ProcDone,
        )  # fmt: skip
        assert isinstance(got[0], rs.ProcSpawned)
        out = b"".join(g.data for g in got if isinstance(g, rs.ProcStdout))
        err = b"".join(g.data for g in got if isinstance(g, rs.ProcStderr))
        assert out == b"out\nbar\n/tmp\n" and err == b"err\n"
        assert got[-1] == rs.ProcDone(got[0].id, False, 3)

        # stdin, then an empty write closes it
        got = await stream_until(
            client,
            rq.ProcSpawn("cat"),
            rs.ProcDone,
            stdin=[lambda i: rq.ProcStdin(i, b"typed\n"), lambda i: rq.ProcStdin(i, b"")],
        )
        assert b"".join(g.data for g in got if isinstance(g, rs.ProcStdout)) == b"typed\n"
        assert isinstance(got[-1], rs.ProcDone) and got[-1].success

        # kill: proc_done without a code
        got = await stream_until(client, rq.ProcSpawn("sleep 60"), rs.ProcDone, stdin=[rq.ProcKill])
        assert got[-1] == rs.ProcDone(got[0].id, False, None)

        # a pty: output through the terminal, resize works
        got = await stream_until(
            client,
            rq.ProcSpawn("sh -c 'sleep 0.3; stty size; tty'", pty=c.PtySize(30, 100)),
            rs.ProcDone,
            stdin=[lambda i: rq.ProcResizePty(i, c.PtySize(40, 120))],
        )
        out = b"".join(g.data for g in got if isinstance(g, rs.ProcStdout))
        assert b"40 120" in out and b"/dev/pts/" in out
        err = await one(client, rq.ProcKill(12345))
        assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND


async def test_spawn_failures_signals_and_pty_size(
    docker_client: Any, busybox: RunningContainer
) -> None:
    async with api_client(docker_client, busybox.id) as client:
        # a missing program is an error, as on the host (not a process exiting 127)
        for cmd in ("surely-not-a-command-xyz", "/nope/prog", "./rel/prog"):
            err = await one(client, rq.ProcSpawn(cmd))
            assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND, (cmd, err)
            assert cmd in err.description
        err = await one(client, rq.ProcSpawn("ls", environment={"PATH": "/nowhere"}))
        assert isinstance(err, Error) and err.kind is ErrorKind.NOT_FOUND
        err = await one(client, rq.ProcSpawn("/etc/passwd"))  # not executable
        assert isinstance(err, Error) and err.kind is ErrorKind.PERMISSION_DENIED
        got = await stream_until(client, rq.ProcSpawn("ls /", current_dir="/bin"), rs.ProcDone)
        assert got[-1] == rs.ProcDone(got[0].id, True, 0)
        got = await stream_until(client, rq.ProcSpawn("./echo hi", current_dir="/bin"), rs.ProcDone)
        assert b"".join(g.data for g in got if isinstance(g, rs.ProcStdout)) == b"hi\n"

        # killed by a signal: no exit code (the engine's 137 is not reported as a code)
        got = await stream_until(client, rq.ProcSpawn("sh -c 'kill -9 $$'"), rs.ProcDone)
        assert got[-1] == rs.ProcDone(got[0].id, False, None)
        got = await stream_until(client, rq.ProcSpawn("sh -c 'exit 300'"), rs.ProcDone)
        assert got[-1] == rs.ProcDone(got[0].id, False, 44)

        # the pty has its size before the program starts
        got = await stream_until(
            client, rq.ProcSpawn("stty size", pty=c.PtySize(33, 101)), rs.ProcDone
        )
        out = b"".join(g.data for g in got if isinstance(g, rs.ProcStdout))
        assert out == b"33 101\r\n"
        assert got[-1] == rs.ProcDone(got[0].id, True, 0)


async def test_search_system_version(docker_client: Any, busybox: RunningContainer) -> None:
    d = fresh()
    async with api_client(docker_client, busybox.id) as client:
        await one(client, rq.DirCreate(f"{d}/sub", all=True))
        await one(client, rq.FileWriteText(f"{d}/sub/a.txt", "one\nneedle here\n"))
        await one(client, rq.FileWriteText(f"{d}/b.log", "needle\n"))
        query = c.SearchQuery(c.SearchQueryTarget.CONTENTS, c.Contains("needle"), (d,))
        got = await stream_until(client, rq.Search(query), rs.SearchDone)
        matches = [m for g in got if isinstance(g, rs.SearchResults) for m in g.matches]
        assert all(isinstance(m, c.ContentsMatch) for m in matches)
        assert sorted((m.path, getattr(m, "line_number", None)) for m in matches) == [
            (f"{d}/b.log", 1),
            (f"{d}/sub/a.txt", 2),
        ]
        query = c.SearchQuery(c.SearchQueryTarget.PATH, c.EndsWith(".txt"), (d,))
        got = await stream_until(client, rq.Search(query), rs.SearchDone)
        assert [m.path for g in got if isinstance(g, rs.SearchResults) for m in g.matches] == [
            f"{d}/sub/a.txt"
        ]

        info = await one(client, rq.SystemInfo())
        assert (info.family, info.os, info.current_dir, info.username, info.shell) == (
            "unix", "linux", "/", "root", "/bin/sh",
        )  # fmt: skip
        assert info.arch and info.main_separator == "/"
        version = await one(client, rq.Version())
        assert set(version.capabilities) == {
            "exec", "fs_io", "fs_perm", "fs_search", "tcp_tunnel", "sys_info", "fs_range",
        }  # fmt: skip
        for unsupported in (rq.Watch(d), rq.TunnelListen("127.0.0.1", 0)):
            err = await one(client, unsupported)
            assert isinstance(err, Error) and err.kind is ErrorKind.UNSUPPORTED


async def test_tunnel_through_nc(docker_client: Any, busybox: RunningContainer) -> None:
    async def echo(stream: Any) -> None:
        async with stream:
            data = await stream.receive()
            await stream.send(b"echo:" + data)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, echo)
        async with api_client(docker_client, busybox.id) as client:
            got = await stream_until(
                client,
                rq.TunnelOpen("127.0.0.1", port),
                rs.TunnelClosed,
                stdin=[lambda i: rq.TunnelWrite(i, b"ping")],
            )
            assert isinstance(got[0], rs.TunnelOpened)
            data = b"".join(g.data for g in got if isinstance(g, rs.TunnelData))
            assert data == b"echo:ping"
            assert got[-1] == rs.TunnelClosed(got[0].id)
            status = await one(client, rq.Status())
            assert status.tunnels == ()
        tg.cancel_scope.cancel()
    # a refused connection is an error, not an opened tunnel
    async with api_client(docker_client, busybox.id) as client:
        err = await one(client, rq.TunnelOpen("127.0.0.1", port))
        assert isinstance(err, Error) and err.kind is ErrorKind.CONNECTION_REFUSED


async def test_tunnel_close_flushes_ordered_writes_then_kills_the_command(
    docker_client: Any, busybox: RunningContainer
) -> None:
    received = bytearray()
    peer_done = anyio.Event()

    async def sink(stream: Any) -> None:
        async with stream:
            with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                while True:
                    received.extend(await stream.receive())
        peer_done.set()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    writes = [bytes([97 + i]) * 3000 for i in range(5)]
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, sink)
        async with (
            api_client(docker_client, busybox.id) as client,
            client.stream(Msg.single(rq.TunnelOpen("127.0.0.1", port))) as mailbox,
        ):
            opened = (await mailbox.next(20)).payload.value
            assert isinstance(opened, rs.TunnelOpened)
            async with AsyncExitStack() as stack:  # every write is sent before any reply
                boxes = [
                    await stack.enter_async_context(
                        client.stream(Msg.single(rq.TunnelWrite(opened.id, data)))
                    )
                    for data in writes
                ]
                for box in boxes:
                    assert (await box.next(20)).payload.value == rs.Ok()
            assert await one(client, rq.TunnelClose(opened.id)) == rs.Ok()
            assert (await mailbox.next(20)).payload.value == rs.TunnelClosed(opened.id)
            with anyio.fail_after(20):
                await peer_done.wait()  # the command is gone: the peer sees the end
            assert bytes(received) == b"".join(writes)
            assert (await one(client, rq.Status())).tunnels == ()
            missing = await one(client, rq.TunnelWrite(opened.id, b"x"))
            assert isinstance(missing, Error) and missing.kind is ErrorKind.NOT_FOUND
        tg.cancel_scope.cancel()


async def test_container_without_shell(docker_client: Any, noshell: RunningContainer) -> None:
    async with api_client(docker_client, noshell.id) as client:
        assert (await one(client, rq.FileRead("/data/hello.txt"))).data == NOSHELL_DATA
        assert isinstance(await one(client, rq.FileWriteText("/data/new.txt", "written")), rs.Ok)
        assert (await one(client, rq.FileReadText("/data/new.txt"))).data == "written"
        assert isinstance(await one(client, rq.DirCreate("/data/a/b", all=True)), rs.Ok)
        listing = await one(client, rq.DirRead("/data"))
        assert [e.path for e in listing.entries] == ["a", "hello.txt", "new.txt"]
        assert (await one(client, rq.Exists("/sleep"))).value is True
        version = await one(client, rq.Version())
        assert set(version.capabilities) == {"exec", "fs_io", "sys_info"}
        for request, needs in (
            (rq.Remove("/data/new.txt"), "rm"),
            (rq.Rename("/data/new.txt", "/data/x"), "mv"),
            (rq.Copy("/data/new.txt", "/data/x"), "cp"),
            (rq.SetPermissions("/data/new.txt", c.Permissions(owner_exec=True)), "chmod"),
            (rq.Search(c.SearchQuery(c.SearchQueryTarget.PATH, c.Contains("x"), ("/",))), "rg"),
            (rq.TunnelOpen("127.0.0.1", 1), "nc"),
        ):
            err = await one(client, request)
            assert isinstance(err, Error) and err.kind is ErrorKind.UNSUPPORTED, request
            assert needs in err.description
        # processes still run (busybox dispatches on its name); proc_kill cannot
        got = await stream_until(client, rq.ProcSpawn("/sleep 0.1"), rs.ProcDone)
        assert got[-1] == rs.ProcDone(got[0].id, True, 0)
        got = await stream_until(client, rq.ProcSpawn("sleep 0.1", current_dir="/"), rs.ProcDone)
        assert isinstance(got[0], Error) and got[0].kind is ErrorKind.NOT_FOUND  # not in PATH
        got = await stream_until(
            client, rq.ProcSpawn("sleep 0.1", environment={"PATH": "/bin:/"}), rs.ProcDone
        )
        assert got[-1] == rs.ProcDone(got[0].id, True, 0)
        err = await one(client, rq.ProcSpawn("/data/hello.txt"))
        assert isinstance(err, Error) and err.kind is ErrorKind.PERMISSION_DENIED
        refusals: list[Any] = []

        async def try_kill(proc_id: int) -> rq.Status:
            refusals.append(await one(client, rq.ProcKill(proc_id)))
            return rq.Status()

        got = await stream_until(client, rq.ProcSpawn("/sleep 0.5"), rs.ProcDone, stdin=[try_kill])
        assert got[-1] == rs.ProcDone(got[0].id, True, 0)  # not killed: it ran to its end
        assert refusals[0].kind is ErrorKind.UNSUPPORTED and "shell" in refusals[0].description


async def test_plugin_connect(engine_host: str, busybox: RunningContainer) -> None:
    from distant_codec import Destination
    from distant_manager import PluginError
    from distant_plugins.docker import DockerPlugin

    plugin = DockerPlugin()
    options = {"docker.host": engine_host}
    with pytest.raises(PluginError, match="no such container 'nope-nope'"):
        async with plugin.connect(Destination("nope-nope", "docker"), options, None):  # type: ignore[arg-type]
            pass
    async with (
        plugin.connect(Destination(busybox.name, "docker"), options, None) as link,  # type: ignore[arg-type]
        Client(link, MSG_EXTENDED_REQUEST, MSG_EXTENDED_RESPONSE) as client,  # type: ignore[arg-type]
    ):
        assert (await one(client, rq.Exists("/bin/busybox"))).value is True
    with pytest.raises(PluginError, match="launch is not supported"):
        await plugin.launch(Destination(busybox.name, "docker"), options, None)  # type: ignore[arg-type]
    await plugin.aclose()
