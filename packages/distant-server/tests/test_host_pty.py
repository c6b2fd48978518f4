"""Host processes on a pty: the terminal, its size and resizing, echo, merged output, exit
status, and closing a connection with an interactive shell's jobs running."""

from __future__ import annotations

import re

import anyio
import pytest

from distant_codec import Error, ErrorKind, PtySize
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.host.process import ProcessOps

from .harness import api_client, connect, one, serving
from .proc_util import alive, assert_quiet, collect, read_until, spawned, wait_dead, wait_reaped

pytestmark = pytest.mark.anyio

SIZE = PtySize(24, 80)


def pgid_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rfind(b")") + 2 :].split()[2])


async def test_tty_names_a_pseudo_terminal() -> None:
    async with api_client(ProcessOps()) as client, spawned(client, "tty", pty=SIZE) as (id, box):
        out, err, done = await collect(box, id)
        assert re.fullmatch(rb"/dev/pts/\d+\r\n", out), out
        assert err == b""  # everything comes through the terminal
        assert done == rs.ProcDone(id, True, 0)
        await assert_quiet(box)


async def test_the_terminal_is_the_controlling_terminal() -> None:
    cmd = "sh -c 'echo via-dev-tty > /dev/tty'"  # fails without a controlling terminal
    async with api_client(ProcessOps()) as client, spawned(client, cmd, pty=SIZE) as (id, box):
        out, _err, done = await collect(box, id)
        assert out == b"via-dev-tty\r\n"
        assert done.success


async def test_initial_size_and_term() -> None:
    cmd = """sh -c 'stty size; echo "$TERM"'"""
    size = PtySize(30, 120, 640, 480)
    async with api_client(ProcessOps()) as client, spawned(client, cmd, pty=size) as (id, box):
        out, _err, done = await collect(box, id)
        lines = out.decode().splitlines()
        assert lines[0] == "30 120"
        assert lines[1]  # a TERM is always set for a terminal program
        assert done.success


async def test_resize_then_stty_size_in_a_shell() -> None:
    async with api_client(ProcessOps()) as client, spawned(client, "sh", pty=SIZE) as (id, box):
        assert await one(client, rq.ProcResizePty(id, PtySize(40, 100))) == rs.Ok()
        assert await one(client, rq.ProcStdin(id, b"stty size\n")) == rs.Ok()
        await read_until(box, id, lambda out: b"40 100" in out)
        assert await one(client, rq.ProcStdin(id, b"exit 7\n")) == rs.Ok()
        _out, _err, done = await collect(box, id)
        assert done == rs.ProcDone(id, False, 7)


async def test_resizing_sends_sigwinch() -> None:
    cmd = "sh -c 'trap \"stty size\" WINCH; echo ready; while :; do sleep 0.05; done'"
    async with api_client(ProcessOps()) as client, spawned(client, cmd, pty=SIZE) as (id, box):
        await read_until(box, id, lambda out: b"ready" in out)
        assert await one(client, rq.ProcResizePty(id, PtySize(33, 77))) == rs.Ok()
        await read_until(box, id, lambda out: b"33 77" in out)
        assert await one(client, rq.ProcKill(id)) == rs.Ok()
        _out, _err, done = await collect(box, id)
        assert done == rs.ProcDone(id, False, None)


async def test_stdin_is_echoed_by_the_terminal() -> None:
    async with api_client(ProcessOps()) as client, spawned(client, "cat", pty=SIZE) as (id, box):
        assert await one(client, rq.ProcStdin(id, b"hello\n")) == rs.Ok()
        # The terminal echoes the line, then cat writes it back.
        out = await read_until(box, id, lambda out: out.count(b"hello\r\n") >= 2)
        assert out == b"hello\r\nhello\r\n"
        assert await one(client, rq.ProcStdin(id, b"\x04")) == rs.Ok()  # ^D: end of input
        _out, _err, done = await collect(box, id)
        assert done == rs.ProcDone(id, True, 0)


async def test_stderr_is_merged_and_exit_code_kept() -> None:
    cmd = "sh -c 'echo out; echo err >&2; exit 5'"
    async with api_client(ProcessOps()) as client, spawned(client, cmd, pty=SIZE) as (id, box):
        out, err, done = await collect(box, id)
        assert out == b"out\r\nerr\r\n"
        assert err == b""
        assert done == rs.ProcDone(id, False, 5)


async def test_large_output_through_the_terminal() -> None:
    count = 200_000
    expected = "".join(f"{i}\r\n" for i in range(1, count + 1)).encode()
    cmd = f"seq 1 {count}"
    async with api_client(ProcessOps()) as client, spawned(client, cmd, pty=SIZE) as (id, box):
        out, _err, done = await collect(box, id, timeout=20)
        assert out == expected
        assert done.success
        await assert_quiet(box)


async def test_kill_and_resize_after_the_end() -> None:
    async with api_client(ProcessOps()) as client:
        async with spawned(client, "sleep 1000", pty=SIZE) as (id, box):
            assert await one(client, rq.ProcKill(id)) == rs.Ok()
            _out, _err, done = await collect(box, id)
            assert done == rs.ProcDone(id, False, None)
        reply = await one(client, rq.ProcResizePty(id, SIZE))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No process found with id {id}")


async def test_closing_the_connection_kills_the_shell_and_its_jobs() -> None:
    async with (
        serving(ProcessOps()) as (server, port, key),
        connect(port, key) as client,
        spawned(client, "sh -i", pty=SIZE) as (id, box),
    ):
        await one(client, rq.ProcStdin(id, b"sleep 1000 & echo pids=$$,$!.\n"))
        out = await read_until(box, id, lambda out: re.search(rb"pids=\d+,\d+\.", out) is not None)
        found = re.search(rb"pids=(\d+),(\d+)\.", out)
        assert found is not None
        shell, job = int(found[1]), int(found[2])
        assert alive(shell) and alive(job)
        # With job control, the job has a process group of its own: only a sweep of the
        # whole session finds it.
        with anyio.fail_after(5):
            while pgid_of(job) == shell:
                await anyio.sleep(0.02)
        (connection_id,) = server.connections
        assert await server.kill(connection_id)
        await wait_reaped(shell)
        await wait_dead(job)
