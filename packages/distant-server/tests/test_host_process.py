"""Host processes without a pty: output, exit status, stdin, kill, errors, ordering, large
output, descendants holding the pipes, and what closing a connection does to processes."""

from __future__ import annotations

import os

import anyio
import pytest

from distant_codec import Error, ErrorKind, Msg, PtySize
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server.host import process as host_process
from distant_server.host.process import ProcessOps

from .harness import api_client, connect, one, serving
from .proc_util import (
    alive,
    assert_quiet,
    collect,
    read_until,
    spawned,
    wait_dead,
    wait_reaped,
)

pytestmark = pytest.mark.anyio

UNKNOWN_ID = 4_000_000_001  # random ids could be anything, but the tables below are tiny


async def test_stdout_and_stderr_are_separate() -> None:
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, "sh -c 'echo out; echo err >&2; echo more'") as (id, mailbox),
    ):
        out, err, done = await collect(mailbox, id)
        assert out == b"out\nmore\n"
        assert err == b"err\n"
        assert done == rs.ProcDone(id, True, 0)
        await assert_quiet(mailbox)


async def test_exit_status() -> None:
    async with api_client(ProcessOps()) as client:
        for cmd, success, code in [
            ("true", True, 0),
            ("sh -c 'exit 3'", False, 3),
            ("sh -c 'kill -9 $$'", False, None),  # killed by a signal: no code
        ]:
            async with spawned(client, cmd) as (id, mailbox):
                _out, _err, done = await collect(mailbox, id)
                assert done == rs.ProcDone(id, success, code), cmd


async def test_words_are_split_like_a_shell_without_a_shell() -> None:
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, r"""printf '%s|' "a b" c\ d 'e f' '$HOME' *""") as (id, mailbox),
    ):
        out, _err, done = await collect(mailbox, id)
        assert out == b"a b|c d|e f|$HOME|*|"  # no expansion: no shell ran
        assert done.success


async def test_environment_is_added_and_current_dir_is_set(tmp_path: os.PathLike[str]) -> None:
    cmd = """sh -c 'echo "$DISTANT_TEST_VAR"; echo "$PATH"; pwd'"""
    real_dir = os.path.realpath(tmp_path)  # noqa: ASYNC240 - test setup
    env = {"DISTANT_TEST_VAR": "hello world"}
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, cmd, environment=env, current_dir=str(tmp_path)) as (id, mailbox),
    ):
        out, _err, done = await collect(mailbox, id)
        assert out.decode().splitlines() == [
            "hello world",
            os.environ["PATH"],  # the server's own environment is kept
            real_dir,
        ]
        assert done.success


async def test_missing_current_dir_is_not_found(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "missing")
    async with api_client(ProcessOps()) as client:
        reply = await one(client, rq.ProcSpawn("true", current_dir=missing))
        assert isinstance(reply, Error)
        assert reply.kind == ErrorKind.NOT_FOUND
        assert missing in reply.description


async def test_missing_program_is_not_found() -> None:
    async with api_client(ProcessOps()) as client:
        reply = await one(client, rq.ProcSpawn("no-such-program-for-distant --help"))
        assert isinstance(reply, Error)
        assert reply.kind == ErrorKind.NOT_FOUND
        assert "no-such-program-for-distant" in reply.description


async def test_bad_command_lines_are_invalid_input() -> None:
    async with api_client(ProcessOps()) as client:
        for cmd in ["", "   ", "echo 'unterminated"]:
            reply = await one(client, rq.ProcSpawn(cmd))
            assert isinstance(reply, Error), cmd
            assert reply.kind == ErrorKind.INVALID_INPUT, cmd


async def test_stdin_round_trip_then_kill() -> None:
    async with api_client(ProcessOps()) as client, spawned(client, "cat") as (id, mailbox):
        assert await one(client, rq.ProcStdin(id, b"hello\n")) == rs.Ok()
        assert await read_until(mailbox, id, lambda out: out == b"hello\n") == b"hello\n"
        big = bytes(range(256)) * 1024  # more than a pipe holds: written as cat reads
        assert await one(client, rq.ProcStdin(id, big)) == rs.Ok()
        assert await read_until(mailbox, id, lambda out: len(out) >= len(big)) == big
        assert await one(client, rq.ProcKill(id)) == rs.Ok()
        out, err, done = await collect(mailbox, id)
        assert (out, err, done) == (b"", b"", rs.ProcDone(id, False, None))
        await assert_quiet(mailbox)


async def test_kill_ends_with_proc_done_without_code() -> None:
    async with api_client(ProcessOps()) as client, spawned(client, "sleep 1000") as (id, mailbox):
        start = anyio.current_time()
        assert await one(client, rq.ProcKill(id)) == rs.Ok()
        _out, _err, done = await collect(mailbox, id)
        assert done == rs.ProcDone(id, False, None)
        assert anyio.current_time() - start < 2
        # The id is gone with the process.
        reply = await one(client, rq.ProcKill(id))
        assert reply == Error(ErrorKind.NOT_FOUND, f"No process found with id {id}")


async def test_unknown_ids_are_not_found() -> None:
    async with api_client(ProcessOps()) as client:
        for request in [
            rq.ProcKill(UNKNOWN_ID),
            rq.ProcStdin(UNKNOWN_ID, b"x"),
            rq.ProcResizePty(UNKNOWN_ID, PtySize(10, 10)),
        ]:
            reply = await one(client, request)
            assert reply == Error(ErrorKind.NOT_FOUND, f"No process found with id {UNKNOWN_ID}")


async def test_resize_without_a_pty_is_unsupported() -> None:
    async with api_client(ProcessOps()) as client, spawned(client, "sleep 1000") as (id, mailbox):
        reply = await one(client, rq.ProcResizePty(id, PtySize(40, 100)))
        assert reply == Error(ErrorKind.UNSUPPORTED, f"process {id} was not spawned with a pty")
        await one(client, rq.ProcKill(id))
        await collect(mailbox, id)


async def test_stdin_after_exit_is_broken_pipe() -> None:
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, "sh -c 'exec 0<&-; echo closed; sleep 1000'") as (id, mailbox),
    ):
        await read_until(mailbox, id, lambda out: out == b"closed\n")
        reply = await one(client, rq.ProcStdin(id, b"nobody reads this"))
        assert isinstance(reply, Error)
        assert reply.kind == ErrorKind.BROKEN_PIPE
        await one(client, rq.ProcKill(id))
        await collect(mailbox, id)


async def test_large_output_arrives_complete_in_order_and_before_proc_done() -> None:
    count = 1_400_000  # about 10 MiB of numbered lines
    expected = "".join(f"{i}\n" for i in range(1, count + 1)).encode()
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, f"seq 1 {count}") as (id, mailbox),
    ):
        out, err, done = await collect(mailbox, id, timeout=20)
        assert len(out) == len(expected)
        assert out == expected
        assert err == b""
        assert done == rs.ProcDone(id, True, 0)
        await assert_quiet(mailbox)


async def test_output_left_in_the_pipe_at_exit_is_delivered() -> None:
    # The child writes less than a pipe holds and exits at once: all of it is still read.
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, "sh -c 'head -c 50000 /dev/zero; head -c 30000 /dev/zero >&2'") as (
            id,
            mailbox,
        ),
    ):
        out, err, done = await collect(mailbox, id)
        assert (out, err) == (bytes(50000), bytes(30000))
        assert done.success


async def test_proc_spawned_comes_before_any_output() -> None:
    async with api_client(ProcessOps()) as client:
        cmds = [rq.ProcSpawn(f"echo {i}") for i in range(3)]
        async with client.stream(Msg.batch(cmds)) as mailbox:
            first = (await mailbox.next(10)).payload
            assert first.is_batch
            ids = [item.id for item in first.items]
            assert all(isinstance(item, rs.ProcSpawned) for item in first.items)
            assert len(set(ids)) == 3
            seen: dict[int, list[rs.ProcStdout | rs.ProcDone]] = {id: [] for id in ids}
            while sum(isinstance(m[-1], rs.ProcDone) for m in seen.values() if m) < 3:
                msg = (await mailbox.next(10)).payload.value
                seen[msg.id].append(msg)
        for i, id in enumerate(ids):
            assert seen[id] == [rs.ProcStdout(id, f"{i}\n".encode()), rs.ProcDone(id, True, 0)]


async def test_a_grandchild_holding_the_pipe_does_not_hold_proc_done() -> None:
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, "sh -c 'sleep 1000 & echo $!'") as (id, mailbox),
    ):
        start = anyio.current_time()
        out, _err, done = await collect(mailbox, id)
        assert done == rs.ProcDone(id, True, 0)
        assert anyio.current_time() - start < host_process.DRAIN_IDLE + 1.5
        grandchild = int(out)
        await wait_dead(grandchild)  # it held the pipe: killed with what is left of the session
        await assert_quiet(mailbox)


async def test_a_grandchild_that_detached_from_the_output_survives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(host_process, "DRAIN_IDLE", 3.0)  # not waited for: EOF comes first
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, "sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!'") as (id, mailbox),
    ):
        start = anyio.current_time()
        out, _err, done = await collect(mailbox, id)
        assert done == rs.ProcDone(id, True, 0)
        assert anyio.current_time() - start < 2
        grandchild = int(out)
        try:
            assert alive(grandchild)
        finally:
            os.kill(grandchild, 9)


async def test_a_chatty_grandchild_is_cut_off_at_the_drain_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(host_process, "DRAIN_LIMIT", 1.0)
    cmd = "sh -c '(while :; do echo tick; sleep 0.01; done) & echo started'"
    async with api_client(ProcessOps()) as client, spawned(client, cmd) as (id, mailbox):
        start = anyio.current_time()
        out, _err, done = await collect(mailbox, id)
        elapsed = anyio.current_time() - start
        assert done == rs.ProcDone(id, True, 0)
        lines = out.splitlines()
        assert b"started" in lines
        assert set(lines) <= {b"started", b"tick"}
        assert 0.9 < elapsed < 4
        await assert_quiet(mailbox, 0.5)


async def test_a_slow_client_loses_nothing_of_an_exited_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Sending outlasts the drain bounds (a slow client, or a link that is down): what the
    # process left in its pipes is still all delivered, and since nobody holds the pipes,
    # its detached grandchild is left alone.
    monkeypatch.setattr(host_process, "DRAIN_LIMIT", 0.1)
    monkeypatch.setattr(host_process, "DRAIN_IDLE", 0.05)
    table = host_process.ProcessTable()
    cmd = "sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!; head -c 50000 /dev/zero'"
    child = table.spawn(rq.ProcSpawn(cmd))
    sent: list[object] = []

    async def send(response: object) -> None:
        if not sent:
            await anyio.sleep(0.5)
        sent.append(response)

    await table.run(child, send)  # type: ignore[arg-type]
    assert sent[-1] == rs.ProcDone(child.id, True, 0)
    out = b"".join(r.data for r in sent if isinstance(r, rs.ProcStdout))
    pid, _, rest = out.partition(b"\n")
    try:
        assert rest == bytes(50000)
        assert alive(int(pid))
    finally:
        os.kill(int(pid), 9)
    await table.aclose()


async def test_killing_the_connection_kills_the_session_and_leaves_no_zombie() -> None:
    async with (
        serving(ProcessOps()) as (server, port, key),
        connect(port, key) as client,
        spawned(client, "sh -c 'sleep 1000 & echo $$ $!; sleep 1000'") as (id, mailbox),
    ):
        out = await read_until(mailbox, id, lambda out: out.endswith(b"\n"))
        child, grandchild = map(int, out.split())
        assert alive(child) and alive(grandchild)
        (connection_id,) = server.connections
        assert await server.kill(connection_id)
        await wait_reaped(child)  # no zombie left behind
        await wait_dead(grandchild)


async def test_leaving_the_client_kills_processes() -> None:
    async with api_client(ProcessOps()) as client:
        pids: list[int] = []
        for _ in range(3):
            async with spawned(client, "sh -c 'sleep 1000 & echo $$ $!; sleep 1000'") as (
                id,
                mailbox,
            ):
                out = await read_until(mailbox, id, lambda out: out.endswith(b"\n"))
                pids.extend(map(int, out.split()))
    for pid in pids[::2]:
        await wait_reaped(pid)
    for pid in pids[1::2]:
        await wait_dead(pid)


async def test_closing_the_table_reaps_processes_whose_stream_never_started() -> None:
    table = host_process.ProcessTable()
    child = table.spawn(rq.ProcSpawn("sh -c 'sleep 1000 & sleep 1000'"))
    pid = child.pid
    assert alive(pid)
    await table.aclose()
    assert child.reaped
    await wait_reaped(pid)
    assert len(table) == 0


async def test_stdin_writes_arrive_in_order_and_empty_closes_stdin() -> None:
    """Fired writes for one process are applied in arrival order (they run in one lane),
    and an empty write ends the process's input."""
    chunks = [bytes([65 + i % 26]) * 70_000 for i in range(12)]
    async with (
        api_client(ProcessOps()) as client,
        spawned(client, "sha256sum") as (id, mailbox),
    ):
        for chunk in chunks:
            await client.fire(Msg.single(rq.ProcStdin(id, chunk)))
        await client.fire(Msg.single(rq.ProcStdin(id, b"")))
        out, _, done = await collect(mailbox, id)
    import hashlib

    assert done.success
    assert out.split()[0].decode() == hashlib.sha256(b"".join(chunks)).hexdigest()
