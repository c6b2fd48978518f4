"""The trio-asyncio loop of :func:`asyncio_loop` runs ready asyncio callbacks in batches:
asyncio's order and timers are kept, and trio tasks still get their turns."""

from __future__ import annotations

import asyncio  # noqa: TID251 - drives the asyncio side of the bridge

import anyio
import anyio.lowlevel
import pytest

from distant_plugins.ssh.bridge import BATCH, aio, asyncio_loop

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_callbacks_keep_their_order_and_timers_fire(anyio_backend: str) -> None:
    import trio_asyncio

    async with asyncio_loop():
        loop = trio_asyncio.current_loop.get()
        assert "_main_loop_one" in vars(loop)  # the batching step is installed

        async def on_asyncio() -> list[str]:
            running = asyncio.get_running_loop()
            seen: list[str] = []
            done = running.create_future()
            for i in range(3 * BATCH):
                running.call_soon(seen.append, f"soon{i}")
            running.call_later(0.02, seen.append, "late")
            running.call_later(0.01, seen.append, "early")
            running.call_later(0.03, done.set_result, None)
            await done
            return seen

        seen = await aio(on_asyncio)
    assert seen == [f"soon{i}" for i in range(3 * BATCH)] + ["early", "late"]


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_tasks_progress_while_asyncio_is_busy(anyio_backend: str) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async def busy() -> int:
        running = asyncio.get_running_loop()
        done = running.create_future()
        left = 20 * BATCH

        def step() -> None:
            nonlocal left
            left -= 1
            if left:
                running.call_soon(step)
            else:
                done.set_result(None)

        running.call_soon(step)
        await done
        return ticks

    async with asyncio_loop(), anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        ticks_seen = await aio(busy)
        tg.cancel_scope.cancel()
    assert ticks_seen >= 10  # at least one trio turn per BATCH callbacks (about 20 here)
