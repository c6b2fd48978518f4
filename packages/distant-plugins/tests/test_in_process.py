"""serve_api: an in-process Api reached through a ServerLink, as the manager reaches it."""

from __future__ import annotations

from typing import ClassVar

import anyio
import pytest

from distant_codec import (
    MSG_EXTENDED_REQUEST,
    MSG_EXTENDED_RESPONSE,
    Error,
    ErrorKind,
    Msg,
    Request,
    Response,
)
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_manager import ServerLink
from distant_plugins.in_process import serve_api
from distant_server import Api, ApiContext

pytestmark = pytest.mark.anyio


class Closing:
    """A per-connection resource that records being closed."""

    closed: ClassVar[list[int]] = []

    async def aclose(self) -> None:
        Closing.closed.append(1)


class EchoApi(Api):
    """exists answers True for "/yes"; proc_spawn streams two outputs after its reply."""

    async def exists(self, ctx: ApiContext, req: rq.Exists) -> rs.Exists:
        ctx.connection.resource(Closing)
        return rs.Exists(req.path == "/yes")

    async def proc_spawn(self, ctx: ApiContext, req: rq.ProcSpawn) -> rs.ProcSpawned:
        async def stream() -> None:
            await ctx.send(rs.ProcStdout(7, b"out"))
            await ctx.send(rs.ProcDone(7, True, 0))

        ctx.after_reply(stream)
        return rs.ProcSpawned(7)


async def _request(link: ServerLink, payload: Msg, rid: str) -> None:  # type: ignore[type-arg]
    await link.send(Request(payload, rid).to_bytes(MSG_EXTENDED_REQUEST))


async def _responses(link: ServerLink, count: int) -> list[Response]:  # type: ignore[type-arg]
    got: list[Response] = []
    with anyio.fail_after(10):
        async for item in link:
            got.append(Response.from_bytes(item, MSG_EXTENDED_RESPONSE))
            if len(got) == count:
                break
    return got


async def test_single_batch_and_unsupported_requests() -> None:
    async with serve_api(EchoApi()) as link:
        await _request(link, Msg.single(rq.Exists("/yes")), "a")
        await _request(link, Msg.batch([rq.Exists("/no"), rq.Exists("/yes")]), "b")
        await _request(link, Msg.single(rq.FileRead("/x")), "c")
        got = {r.origin_id: r.payload for r in await _responses(link, 3)}
    assert got["a"].items == (rs.Exists(True),)
    assert got["b"].is_batch and got["b"].items == (rs.Exists(False), rs.Exists(True))
    (error,) = got["c"].items
    assert isinstance(error, Error) and error.kind == ErrorKind.UNSUPPORTED


async def test_streamed_replies_follow_the_main_reply() -> None:
    async with serve_api(EchoApi()) as link:
        await _request(link, Msg.single(rq.ProcSpawn("x")), "p")
        got = await _responses(link, 3)
    assert [r.origin_id for r in got] == ["p", "p", "p"]
    assert [type(r.payload.items[0]) for r in got] == [rs.ProcSpawned, rs.ProcStdout, rs.ProcDone]


async def test_leaving_closes_the_link_and_the_connection_resources() -> None:
    Closing.closed.clear()
    async with serve_api(EchoApi()) as link:
        await _request(link, Msg.single(rq.Exists("/yes")), "a")
        await _responses(link, 1)
        assert not link.closed
    assert link.closed
    with anyio.fail_after(5):
        while not Closing.closed:  # on_disconnect runs as the server side winds down
            await anyio.sleep(0.01)
    assert Closing.closed == [1]
