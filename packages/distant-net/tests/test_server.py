"""The generic Server: state, concurrency, kill, grace, and shutdown policies."""

from __future__ import annotations

import anyio
import pytest

from distant_codec import Msg
from distant_codec import requests as rq
from distant_net import Fail, Shutdown

from .harness import ScriptedHandler, connected_client, running_server

pytestmark = pytest.mark.anyio


async def test_slow_request_does_not_delay_others() -> None:
    async with running_server(ScriptedHandler()) as run, connected_client(run.port) as client:
        done: list[str] = []

        async def slow() -> None:
            await client.request(Msg.single(rq.Exists("sleep:1.0")), timeout=5)
            done.append("slow")

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            await anyio.sleep(0.05)
            start = anyio.current_time()
            await client.request(Msg.single(rq.Exists("/")), timeout=5)
            fast = anyio.current_time() - start
            done.append("fast")
        assert done == ["fast", "slow"]
        assert fast < 0.5


async def test_state_is_per_connection_and_released() -> None:
    handler = ScriptedHandler()
    async with running_server(handler) as run:
        async with connected_client(run.port) as a, connected_client(run.port) as b:
            for _ in range(3):
                await a.request(Msg.single(rq.Exists("/")), timeout=5)
            await b.request(Msg.single(rq.Exists("/")), timeout=5)
            assert len(handler.connected) == 2
            assert await run.server.kill(a.connection.id)
            with anyio.fail_after(5):
                while not handler.disconnected:
                    await anyio.sleep(0.01)
        assert handler.disconnected[0]["requests"] == 3


async def test_grace_expires_when_the_client_never_returns() -> None:
    handler = ScriptedHandler()
    async with running_server(handler, grace=0.2) as run:
        async with connected_client(run.port, strategy=Fail()) as client:
            await client.request(Msg.single(rq.Exists("/")), timeout=5)
            client.connection.lose_link("test: gone for good")
            with anyio.fail_after(5):
                while not handler.disconnected:
                    await anyio.sleep(0.01)
        assert not run.server.connections


async def test_shutdown_after() -> None:
    async with running_server(ScriptedHandler(), shutdown=Shutdown.after(0.3)) as run:
        start = anyio.current_time()
        with anyio.fail_after(5):
            await run.stopped.wait()
        assert anyio.current_time() - start >= 0.25


async def test_shutdown_lonely_waits_for_the_last_connection() -> None:
    async with running_server(ScriptedHandler(), shutdown=Shutdown.lonely(0.3), grace=0.05) as run:
        async with connected_client(run.port, strategy=Fail()) as client:
            await anyio.sleep(0.6)  # longer than lonely: a live connection keeps it up
            assert not run.stopped.is_set()
            await client.request(Msg.single(rq.Exists("/")), timeout=5)
        left = anyio.current_time()
        with anyio.fail_after(5):
            await run.stopped.wait()
        # grace (0.05 s) for the client to come back, then 0.3 s alone.
        assert anyio.current_time() - left >= 0.3


async def test_shutdown_never() -> None:
    async with running_server(ScriptedHandler()) as run:
        await anyio.sleep(0.3)
        assert not run.stopped.is_set()
