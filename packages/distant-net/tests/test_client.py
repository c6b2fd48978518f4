"""The generic Client: replies, streams, fire-and-forget, unclaimed replies, batches."""

from __future__ import annotations

import anyio
import pytest

from distant_codec import Msg
from distant_codec import requests as rq
from distant_codec import responses as rs
from distant_net import ConnectionClosed, Fail, RequestTimeout

from .harness import ScriptedHandler, connected_client, running_server

pytestmark = pytest.mark.anyio


async def test_request_and_reply() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        reply = await client.request(Msg.single(rq.Exists("/")), timeout=5)
        assert reply.payload == Msg.single(rs.Exists(True))


async def test_stream_keeps_order_through_a_small_mailbox() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        client.mailbox_size = 2  # the router must wait for us, not drop
        got = []
        async with client.stream(Msg.single(rq.FileRead("stream:200"))) as mailbox:
            for _ in range(200):
                reply = await mailbox.next(timeout=5)
                got.append(int.from_bytes(reply.payload.value.data, "big"))
                if len(got) % 50 == 0:
                    await anyio.sleep(0.05)
        assert got == list(range(200))


async def test_fire_and_forget_replies_wait_unclaimed() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        rid = await client.fire(Msg.single(rq.FileRead("stream:5")))
        with anyio.fail_after(5):
            while client.unclaimed().get(rid) != 5:
                await anyio.sleep(0.01)
        mailbox = client.subscribe(rid)
        got = [int.from_bytes((await mailbox.next(1)).payload.value.data, "big") for _ in range(5)]
        assert got == [0, 1, 2, 3, 4]


async def test_replies_after_the_first_are_kept_for_later() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        first = await client.request(Msg.single(rq.FileRead("stream:3")), timeout=5)
        assert first.payload.value.data == (0).to_bytes(4, "big")
        mailbox = client.subscribe(first.origin_id)
        rest = [(await mailbox.next(5)).payload.value.data for _ in range(2)]
        assert rest == [(1).to_bytes(4, "big"), (2).to_bytes(4, "big")]
        client.release(mailbox)
        assert first.origin_id not in client._mailboxes


async def test_batch() -> None:
    handler = ScriptedHandler()
    async with running_server(handler) as run, connected_client(run.port) as client:
        reply = await client.batch([rq.Exists("/a"), rq.Version()], sequence=True, timeout=5)
        assert reply.payload == Msg.batch([rs.Exists(True), rs.Exists(True)])
        assert handler.seen[-1].is_batch


async def test_timeout() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        with pytest.raises(RequestTimeout):
            await client.request(Msg.single(rq.Exists("sleep:2")), timeout=0.1)


async def test_closed_connection_ends_waiters() -> None:
    async with (
        running_server(ScriptedHandler()) as run,
        connected_client(run.port, strategy=Fail()) as client,
    ):
        await client.request(Msg.single(rq.Exists("/")), timeout=5)
        async with client.stream(Msg.single(rq.Exists("sleep:5"))) as mailbox:
            await run.server.kill(client.connection.id)
            with pytest.raises(ConnectionClosed), anyio.fail_after(5):
                await mailbox.next()


async def test_closed_connection_ends_a_pending_request() -> None:
    async with (
        running_server(ScriptedHandler()) as run,
        connected_client(run.port, strategy=Fail()) as client,
    ):
        await client.request(Msg.single(rq.Exists("/")), timeout=5)

        async def kill_soon() -> None:
            await anyio.sleep(0.1)
            await run.server.kill(client.connection.id)

        async with anyio.create_task_group() as tg:
            tg.start_soon(kill_soon)
            with pytest.raises(ConnectionClosed), anyio.fail_after(5):
                await client.request(Msg.single(rq.Exists("sleep:5")))
