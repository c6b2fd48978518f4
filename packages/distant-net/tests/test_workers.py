"""The per-connection worker pool: no request waits behind another, and workers are reused."""

from __future__ import annotations

import anyio
import pytest

from distant_net.workers import WorkerPool

pytestmark = pytest.mark.anyio


async def test_a_slow_job_does_not_block_the_next() -> None:
    done: list[str] = []

    async def handle(job: str) -> None:
        if job == "slow":
            await anyio.sleep(0.5)
        done.append(job)

    async with anyio.create_task_group() as tg:
        pool: WorkerPool[str] = WorkerPool(tg, handle)
        pool.submit("slow")
        await anyio.sleep(0.05)  # the first worker is busy now
        pool.submit("fast")
        with anyio.fail_after(0.3):
            while "fast" not in done:
                await anyio.sleep(0.01)
        pool.close()
    assert done == ["fast", "slow"]


async def test_idle_workers_are_reused() -> None:
    tasks: set[object] = set()

    async def handle(job: int) -> None:
        tasks.add(anyio.get_current_task().id)

    async with anyio.create_task_group() as tg:
        pool: WorkerPool[int] = WorkerPool(tg, handle)
        for i in range(200):
            pool.submit(i)
            await anyio.sleep(0.001)  # let it finish: one worker suffices for serial load
        pool.close()
    assert len(tasks) <= 2


async def test_lanes_keep_arrival_order_per_key() -> None:
    from distant_net.workers import Lanes

    seen: list[tuple[str, int]] = []

    async def handle(job: tuple[str, int]) -> None:
        _, n = job
        await anyio.sleep(0.01 * ((n * 7) % 3))  # uneven durations would reorder a pool
        seen.append(job)

    async with anyio.create_task_group() as tg:
        lanes: Lanes[tuple[str, int]] = Lanes(tg, handle)
        for n in range(10):
            lanes.submit("a", ("a", n))
            lanes.submit("b", ("b", n))
    assert [n for k, n in seen if k == "a"] == list(range(10))
    assert [n for k, n in seen if k == "b"] == list(range(10))
    assert lanes._queues == {}  # idle lanes leave nothing behind
