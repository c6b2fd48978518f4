"""The dispatcher (§7.2): single, batch, sequence, unsupported, errors, follow-up order."""

from __future__ import annotations

import errno

import anyio
import pytest

from distant_codec import Error, ErrorKind, Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_server import Api, ApiContext, ApiError

from .harness import api_client, one

pytestmark = pytest.mark.anyio


class Scripted(Api):
    async def exists(self, ctx: ApiContext, req: rq.Exists) -> rs.Exists:
        if req.path == "boom":
            raise ApiError(ErrorKind.INVALID_INPUT, "boom: no")
        if req.path == "missing":
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/missing")
        if req.path.startswith("sleep:"):
            await anyio.sleep(float(req.path[6:]))
        return rs.Exists(True)

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> rs.ProcSpawned:
        async def stream() -> None:
            for i in range(3):
                await ctx.send(rs.ProcStdout(9, bytes([i])))
            await ctx.send(rs.ProcDone(9, True, 0))

        ctx.after_reply(stream)
        await anyio.sleep(0.05)  # the follow-up must still wait for this reply
        return rs.ProcSpawned(9)


async def test_unsupported_by_default() -> None:
    async with api_client(Api()) as client:
        reply = await one(client, rq.Metadata("/"))
        assert reply == Error(ErrorKind.UNSUPPORTED, "metadata is unsupported")


async def test_errors_keep_their_kind_and_path() -> None:
    async with api_client(Scripted()) as client:
        assert await one(client, rq.Exists("boom")) == Error(ErrorKind.INVALID_INPUT, "boom: no")
        missing = await one(client, rq.Exists("missing"))
        assert missing == Error(ErrorKind.NOT_FOUND, "No such file or directory: /missing")


async def test_batch_runs_concurrently_in_order() -> None:
    async with api_client(Scripted()) as client:
        start = anyio.current_time()
        reply = await client.request(
            Msg.batch([rq.Exists("sleep:0.3"), rq.Exists("sleep:0.3"), rq.Exists("boom")]),
            timeout=5,
        )
        assert anyio.current_time() - start < 0.55
        items = reply.payload.items
        assert items[:2] == (rs.Exists(True), rs.Exists(True))
        assert isinstance(items[2], Error)


async def test_sequence_interrupts_after_the_first_error() -> None:
    async with api_client(Scripted()) as client:
        reply = await client.batch(
            [rq.Exists("a"), rq.Exists("boom"), rq.Exists("b"), rq.Metadata("x")], sequence=True
        )
        interrupted = Error(ErrorKind.INTERRUPTED, "Canceled due to earlier error")
        assert reply.payload.items == (
            rs.Exists(True), Error(ErrorKind.INVALID_INPUT, "boom: no"), interrupted, interrupted
        )  # fmt: skip


async def test_follow_ups_come_after_the_main_reply() -> None:
    async with api_client(Scripted()) as client:
        async with client.stream(Msg.single(rq.ProcSpawn("x"))) as mailbox:
            got = [(await mailbox.next(5)).payload for _ in range(5)]
        assert got[0] == Msg.single(rs.ProcSpawned(9))
        assert [m.value for m in got[1:4]] == [rs.ProcStdout(9, bytes([i])) for i in range(3)]
        assert got[4] == Msg.single(rs.ProcDone(9, True, 0))
