"""Helpers for the process tests: spawning through a client, collecting the stream, and
looking at processes in /proc."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from distant_codec import Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import RequestTimeout


@asynccontextmanager
async def spawned(client: Any, cmd: str, **kwargs: Any) -> AsyncIterator[tuple[int, Any]]:
    """Spawn ``cmd``; yield its id and the mailbox of its stream (past ``proc_spawned``,
    which must come first)."""
    async with client.stream(Msg.single(rq.ProcSpawn(cmd, **kwargs))) as mailbox:
        first = (await mailbox.next(10)).payload.value
        assert isinstance(first, rs.ProcSpawned), first
        yield first.id, mailbox


async def collect(mailbox: Any, id: int, timeout: float = 10) -> tuple[bytes, bytes, rs.ProcDone]:
    """Everything up to ``proc_done``: stdout, stderr and the ``proc_done``."""
    out, err = bytearray(), bytearray()
    while True:
        msg = (await mailbox.next(timeout)).payload.value
        if isinstance(msg, rs.ProcDone):
            assert msg.id == id
            return bytes(out), bytes(err), msg
        assert isinstance(msg, rs.ProcStdout | rs.ProcStderr), msg
        assert msg.id == id
        assert 0 < len(msg.data) <= 64 * 1024
        (out if isinstance(msg, rs.ProcStdout) else err).extend(msg.data)


async def read_until(
    mailbox: Any, id: int, done: Callable[[bytes], bool], timeout: float = 10
) -> bytes:
    """Stdout until ``done(stdout so far)``."""
    out = bytearray()
    with anyio.fail_after(timeout):
        while not done(bytes(out)):
            msg = (await mailbox.next()).payload.value
            assert isinstance(msg, rs.ProcStdout), msg
            assert msg.id == id
            out.extend(msg.data)
    return bytes(out)


async def assert_quiet(mailbox: Any, wait: float = 0.3) -> None:
    """Nothing more arrives on ``mailbox``."""
    with pytest.raises(RequestTimeout):
        await mailbox.next(wait)


def proc_state(pid: int) -> tuple[str, int] | None:
    """State letter and parent pid of ``pid``; None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except FileNotFoundError:
        return None
    return fields["State"].split()[0], int(fields["PPid"])


async def wait_reaped(pid: int, timeout: float = 5) -> None:
    """``pid`` (our child) is gone: dead and reaped, no zombie."""
    with anyio.fail_after(timeout):
        while proc_state(pid) is not None:
            await anyio.sleep(0.02)


async def wait_dead(pid: int, timeout: float = 5) -> None:
    """``pid`` (a grandchild) is dead: gone, or a zombie that is no longer ours to reap
    (it was handed to init when its parent died)."""
    with anyio.fail_after(timeout):
        while True:
            state = proc_state(pid)
            if state is None or (state[0] == "Z" and state[1] != os.getpid()):
                return
            await anyio.sleep(0.02)


def alive(pid: int) -> bool:
    state = proc_state(pid)
    return state is not None and state[0] not in ("Z", "X")
